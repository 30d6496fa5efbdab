"""The Authlib authorization server, built once per app."""

from __future__ import annotations

from authlib.integrations.flask_oauth2 import AuthorizationServer
from authlib.oauth2.rfc8414 import AuthorizationServerMetadata
from authlib.oauth2.rfc9207 import IssuerParameter
from flask import current_app, url_for

from sayso import services
from sayso.fields import scopes
from sayso.oauth.grants import (
    AuthorizationCodeGrant,
    RefreshTokenGrant,
    S256Required,
    SaysoIntrospectionEndpoint,
    SaysoRevocationEndpoint,
)
from sayso.oauth.issuer import issuer
from sayso.services.brands import token_hash
from sayso.services.tokens import ACCESS_LIFETIME


class SaysoIssuer(IssuerParameter):
    """RFC 9207: ``iss`` in every authorization response, errors included."""

    def get_issuer(self) -> str:
        return issuer()


def _query_client(client_id):
    return services.brands().client(client_id) if isinstance(client_id, str) else None


def _save_token(token, request):
    # A token from a code starts a family named after the code; a refresh continues one.
    if request.payload.grant_type == "refresh_token":
        family = request.refresh_token.family_id
    else:
        family = token_hash(request.form["code"])
    services.tokens().save_token(token, request.client, request.user.id, family)


def build_server(app) -> AuthorizationServer:
    """An authorization server bound to ``app``, stored in ``app.extensions``."""
    lifetime = int(ACCESS_LIFETIME.total_seconds())
    app.config["OAUTH2_REFRESH_TOKEN_GENERATOR"] = True
    app.config["OAUTH2_TOKEN_EXPIRES_IN"] = {
        "authorization_code": lifetime,
        "refresh_token": lifetime,
    }
    server = AuthorizationServer()
    server.init_app(app, query_client=_query_client, save_token=_save_token)
    server.register_grant(AuthorizationCodeGrant, [S256Required(required=True)])
    server.register_grant(RefreshTokenGrant)
    server.register_endpoint(SaysoRevocationEndpoint)
    server.register_endpoint(SaysoIntrospectionEndpoint)
    # Imported here: the registration endpoint reads this module's metadata().
    from sayso.oauth.registration import SaysoClientRegistrationEndpoint

    server.register_endpoint(SaysoClientRegistrationEndpoint)
    server.register_extension(SaysoIssuer())
    app.extensions["sayso_oauth"] = server
    return server


def authorization_server() -> AuthorizationServer:
    """The current app's authorization server."""
    return current_app.extensions["sayso_oauth"]


def metadata() -> dict:
    """RFC 8414 authorization server metadata."""
    document = AuthorizationServerMetadata(
        {
            "issuer": issuer(),
            "authorization_endpoint": url_for("oauth.authorize", _external=True),
            "token_endpoint": url_for("oauth.token", _external=True),
            "revocation_endpoint": url_for("oauth.revoke", _external=True),
            "introspection_endpoint": url_for("oauth.introspect", _external=True),
            "registration_endpoint": url_for("oauth.register", _external=True),
            "scopes_supported": scopes(),
            "response_types_supported": ["code"],
            "response_modes_supported": ["query"],
            "grant_types_supported": ["authorization_code", "refresh_token"],
            "token_endpoint_auth_methods_supported": [
                "client_secret_basic",
                "client_secret_post",
                "none",
            ],
            "revocation_endpoint_auth_methods_supported": [
                "client_secret_basic",
                "client_secret_post",
                "none",
            ],
            "introspection_endpoint_auth_methods_supported": [
                "client_secret_basic",
                "client_secret_post",
            ],
            "code_challenge_methods_supported": ["S256"],
            "authorization_response_iss_parameter_supported": True,
            "service_documentation": url_for("web.index", _external=True),
        }
    )
    document.validate()
    return dict(document)
