"""What the authorization server says about itself (RFC 8414), read by the metadata
endpoint and by dynamic registration (which checks a client against what is supported)."""

from __future__ import annotations

from authlib.common.security import is_secure_transport
from authlib.oauth2.rfc8414 import AuthorizationServerMetadata

from sayso.fields import scopes
from sayso.shared.issuer import issuer, public_url


class NoIssuer(Exception):
    """No issuer RFC 8414 allows can be named for this request: ``SAYSO_ISSUER`` is unset
    and the request's origin is plain http on a host other than loopback."""


def metadata(*, served: bool = True) -> dict:
    """RFC 8414 authorization server metadata, checked against the RFC when it is
    ``served`` (dynamic registration reads only what is supported, not the issuer).

    Raises :class:`NoIssuer` when it would be served under an issuer the RFC forbids.
    """
    name = issuer()
    if served and not is_secure_transport(name):
        raise NoIssuer(
            f"Sayso's issuer would be {name}, but an issuer must use https (RFC 8414). "
            "Reach Sayso over https or on a loopback address, or set SAYSO_ISSUER."
        )
    document = AuthorizationServerMetadata(
        {
            "issuer": name,
            "authorization_endpoint": public_url("oauth.authorize"),
            "token_endpoint": public_url("oauth.token"),
            "revocation_endpoint": public_url("oauth.revoke"),
            "introspection_endpoint": public_url("oauth.introspect"),
            "registration_endpoint": public_url("oauth.register"),
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
            "service_documentation": public_url("web.index"),
        }
    )
    if served:
        document.validate()
    return dict(document)
