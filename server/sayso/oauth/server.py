"""The Authlib authorization server, built once per app."""

from __future__ import annotations

import secrets

from authlib.integrations.flask_oauth2 import AuthorizationServer
from authlib.oauth2.rfc6749 import InvalidClientError, UnsupportedTokenTypeError
from authlib.oauth2.rfc6749.authenticate_client import (
    authenticate_client_secret_basic,
    authenticate_client_secret_post,
    authenticate_none,
)
from authlib.oauth2.rfc6749.util import extract_basic_authorization
from authlib.oauth2.rfc9207 import IssuerParameter
from flask import current_app, g
from sqlalchemy import bindparam, select
from sqlalchemy.orm import joinedload

from sayso import services
from sayso.auth import session_to_load
from sayso.extensions import db
from sayso.models import Brand, OAuthClient
from sayso.oauth import dpop
from sayso.oauth.grants import (
    AuthorizationCodeGrant,
    RefreshTokenGrant,
    S256Required,
    SaysoIntrospectionEndpoint,
    SaysoRevocationEndpoint,
)
from sayso.oauth.registration import SaysoClientRegistrationEndpoint
from sayso.services.tokens import ACCESS_LIFETIME
from sayso.shared.issuer import issuer


class SaysoAuthorizationServer(AuthorizationServer):
    """Authlib's Flask authorization server, with RFC 6749 section 5.2's status codes."""

    def handle_error_response(self, request, error):
        if isinstance(error, UnsupportedTokenTypeError):
            # Authlib answers 401, which tells the client to authenticate; an unsupported
            # token_type_hint is a 400 like every error but invalid_client (RFC 7009
            # section 2.2.1, RFC 6749 section 5.2), and RFC 7662 keeps 401 for bad
            # credentials. The client was authenticated before the hint was read.
            error.status_code = 400
        return super().handle_error_response(request, error)

    def authenticate_client(self, request, methods, endpoint="token"):
        try:
            return super().authenticate_client(request, methods, endpoint)
        except InvalidClientError as error:
            # Authlib's own words print the tuple of method names.
            if (error.description or "").startswith("The client cannot authenticate"):
                error.description = client_authentication_failed(methods)
            raise


def client_authentication_failed(methods) -> str:
    """What a client is told when no authentication method of ``methods`` worked."""
    text = (
        "The client could not be authenticated. Send its client ID and secret with HTTP "
        "Basic, or as client_id and client_secret in the form body."
    )
    if "none" in methods:
        text += " A public client sends its client_id alone."
    return text


class SaysoIssuer(IssuerParameter):
    """RFC 9207: ``iss`` in every authorization response, errors included."""

    def get_issuer(self) -> str:
        return issuer()


# The consent page shows the brand and its domains: one query brings all three.
_CLIENT_WITH_BRAND = select(OAuthClient).options(
    joinedload(OAuthClient.brand).joinedload(Brand.domains)
)


def _query_client(client_id):
    """The client of an authorization request (the consent page), with its brand."""
    if not isinstance(client_id, str) or "\x00" in client_id:
        return None
    # Authlib validates an authorization request twice in one HTTP request (for the consent
    # decision, then again as it issues the code): the second time gets the client the
    # first loaded. Kept on ``g``, so never beyond this request.
    loaded = g.setdefault("sayso_oauth_clients", {})
    if client_id not in loaded:
        loaded[client_id] = _client_and_session(client_id)
    return loaded[client_id]


def _client_and_session(client_id: str):
    """The client, and in the same statement the account of the browser's session if
    Flask-Login is yet to load it: the consent page and the consent need both, so the
    session's checks (services/sessions.py) cost no statement of their own."""
    statement = _CLIENT_WITH_BRAND.where(OAuthClient.client_id == client_id)
    named = session_to_load()
    if named is None:
        return db.session.scalars(statement).unique().first()
    records = services.session_records()
    row = db.session.execute(records.along(statement, *named)).unique().first()
    if row is None:
        return None  # no such client: the session, if asked for, loads on its own
    client, account, last_seen = row
    records.read_along(*named, account, last_seen)
    return client


#: The client an authorization request names, with its brand, loaded once per request.
authorization_request_client = _query_client


_CLIENTS = OAuthClient.__table__
_CREDENTIALS = select(
    _CLIENTS.c.client_id,
    _CLIENTS.c.client_secret_hash,
    _CLIENTS.c.brand_id,
    _CLIENTS.c.redirect_uris.label("redirect_uris_json"),
    _CLIENTS.c.scope_purposes.label("scope_purposes_json"),
    _CLIENTS.c.dpop_bound_access_tokens,
).where(_CLIENTS.c.client_id == bindparam("client_id"))


class ClientCredentials:
    """A client as the token, revocation and introspection endpoints need it: read with one
    Core query by ``client_id``, for this request only.

    Authlib's client protocol is ``OAuthClient``'s own methods, borrowed rather than
    copied, so the secret check (SHA-256, constant-time compare), the allowed auth methods,
    grant types and scopes cannot drift apart from the ORM model's.
    """

    __slots__ = (
        "brand_id",
        "client_id",
        "client_secret_hash",
        "dpop_bound_access_tokens",
        "redirect_uris_json",
        "scope_purposes_json",
    )

    def __init__(self, row):
        for name in self.__slots__:
            setattr(self, name, getattr(row, name))

    redirect_uris = OAuthClient.redirect_uris
    scope_purposes = OAuthClient.scope_purposes
    third_party_scopes = OAuthClient.third_party_scopes
    is_public = OAuthClient.is_public
    get_client_id = OAuthClient.get_client_id
    get_default_redirect_uri = OAuthClient.get_default_redirect_uri
    get_allowed_scope = OAuthClient.get_allowed_scope
    check_redirect_uri = OAuthClient.check_redirect_uri
    check_client_secret = OAuthClient.check_client_secret
    check_endpoint_auth_method = OAuthClient.check_endpoint_auth_method
    check_response_type = OAuthClient.check_response_type
    check_grant_type = OAuthClient.check_grant_type


def _client_credentials(client_id) -> ClientCredentials | None:
    """The client a token-endpoint request names, for client authentication."""
    if not isinstance(client_id, str) or "\x00" in client_id:
        return None
    row = db.session.execute(_CREDENTIALS, {"client_id": client_id}).first()
    return ClientCredentials(row) if row is not None else None


def _with_credentials(method):
    # Authlib's own authentication method, handed the lean lookup instead of query_client.
    return lambda _query_client, request: method(_client_credentials, request)


def _authenticate_basic(_query_client, request):
    """``client_secret_basic``, refusing credentials that are not base64 of UTF-8 text
    (RFC 7617 section 2.1) as ``invalid_client``: Authlib decodes them unguarded, so
    ``Basic /w==`` or a Latin-1 byte in the client id would otherwise be a 500."""
    try:
        extract_basic_authorization(request.headers)
    except ValueError:  # UnicodeDecodeError, or non-ASCII where base64 was expected
        raise InvalidClientError(
            status_code=401, description="The Basic credentials are not base64 of UTF-8 text."
        ) from None
    return authenticate_client_secret_basic(_client_credentials, request)


def new_token(*_args, **_kwargs) -> str:
    """A fresh access or refresh token: 256 random bits, URL-safe base64.

    As strong as Authlib's default (about 250 bits from 42 letters and digits) from one
    read of the OS's randomness, where the default draws each character separately.
    """
    return secrets.token_urlsafe(32)


def _save_token(token, request):
    # A refresh continues its token's family, and keeps the pair for a retry of this very
    # refresh (sealed for the refresh token it replaces). (The code grant saves its own
    # tokens: see AuthorizationCodeGrant.save_token.)
    family = request.refresh_token.family_id
    replaced = request.form.get("refresh_token")
    # RFC 9449: the pair is bound to the key of the request's DPoP proof, if it sent one.
    proof = getattr(request, "dpop", None)
    jkt = proof.jkt if proof is not None else None
    services.tokens().save_token(token, request.client, request.user.id, family, replaced, jkt)


def build_server(app) -> AuthorizationServer:
    """An authorization server bound to ``app``, stored in ``app.extensions``."""
    lifetime = int(ACCESS_LIFETIME.total_seconds())
    app.config["OAUTH2_ACCESS_TOKEN_GENERATOR"] = new_token
    app.config["OAUTH2_REFRESH_TOKEN_GENERATOR"] = new_token
    app.config["OAUTH2_TOKEN_EXPIRES_IN"] = {
        "authorization_code": lifetime,
        "refresh_token": lifetime,
    }
    dpop.init_app(app)
    server = SaysoAuthorizationServer()
    server.init_app(app, query_client=_query_client, save_token=_save_token)
    # Client authentication (token, revocation, introspection) parses credentials exactly
    # as Authlib does, but looks the client up with _client_credentials.
    server.register_client_auth_method("client_secret_basic", _authenticate_basic)
    for name, method in (
        ("client_secret_post", authenticate_client_secret_post),
        ("none", authenticate_none),
    ):
        server.register_client_auth_method(name, _with_credentials(method))
    server.register_grant(AuthorizationCodeGrant, [S256Required(required=True)])
    server.register_grant(RefreshTokenGrant)
    server.register_endpoint(SaysoRevocationEndpoint)
    server.register_endpoint(SaysoIntrospectionEndpoint)
    server.register_endpoint(SaysoClientRegistrationEndpoint)
    server.register_extension(SaysoIssuer())
    app.extensions["sayso_oauth"] = server
    return server


def authorization_server() -> AuthorizationServer:
    """The current app's authorization server."""
    return current_app.extensions["sayso_oauth"]
