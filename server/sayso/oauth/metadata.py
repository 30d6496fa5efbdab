"""What the authorization server says about itself (RFC 8414), read by the metadata
endpoint and by dynamic registration (which checks a client against what is supported)."""

from __future__ import annotations

from authlib.common.security import is_secure_transport
from authlib.oauth2.rfc8414 import AuthorizationServerMetadata
from flask import jsonify

from sayso.errors import error_response
from sayso.fields import scopes
from sayso.oauth.dpop import ALGORITHMS
from sayso.oauth.rich_authorization import TYPES_SUPPORTED
from sayso.shared.issuer import fixed_origin, issuer, public_url


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
            # RFC 9126: any client may push its request; one may be set to have to.
            "pushed_authorization_request_endpoint": public_url(
                "oauth.pushed_authorization_request"
            ),
            "require_pushed_authorization_requests": False,
            # RFC 9728 section 4: the profile API (protected_resource_metadata below).
            "protected_resources": [name],
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
            # RFC 9449: tokens bound to a key, proved with one of these (oauth/dpop.py).
            "dpop_signing_alg_values_supported": list(ALGORITHMS),
            "authorization_response_iss_parameter_supported": True,
            # RFC 9396: the one type of authorization_details (oauth/rich_authorization.py).
            "authorization_details_types_supported": TYPES_SUPPORTED,
            "service_documentation": public_url("web.index"),
        }
    )
    if served:
        document.validate()
    return dict(document)


def protected_resource_metadata() -> dict:
    """RFC 9728 metadata of the profile API (every ``/api/v1`` endpoint a token reads): the
    resource is Sayso's issuer origin, so the document sits at the origin's
    ``/.well-known/oauth-protected-resource``, and its tokens come from Sayso itself.

    Raises :class:`NoIssuer` as :func:`metadata` does.
    """
    name = issuer()
    if not is_secure_transport(name):
        raise NoIssuer(
            f"Sayso's resource identifier would be {name}, but it must use https (RFC 9728). "
            "Reach Sayso over https or on a loopback address, or set SAYSO_ISSUER."
        )
    return {
        "resource": name,
        "resource_name": "Sayso profile API",
        "authorization_servers": [name],
        "scopes_supported": scopes(),
        "bearer_methods_supported": ["header"],
        "dpop_signing_alg_values_supported": list(ALGORITHMS),
        "authorization_details_types_supported": TYPES_SUPPORTED,
        "resource_documentation": public_url("web.index"),
    }


def metadata_response(build):
    """A metadata document (``build()``: :func:`metadata` or
    :func:`protected_resource_metadata`) as served at its ``/.well-known`` address."""
    try:
        document = build()
    except NoIssuer as refused:
        # A plain-http origin other than loopback (SAYSO_ISSUER unset, so not production):
        # say so, rather than advertise endpoints under an issuer the RFC forbids.
        response, status = error_response(400, str(refused), "invalid_request")
        response.headers["Cache-Control"] = "no-cache"
        return response, status
    response = jsonify(document)
    # Built from the request's Host when SAYSO_ISSUER is unset: then no shared cache may
    # keep it for others.
    response.headers["Cache-Control"] = "public, max-age=3600" if fixed_origin() else "no-cache"
    return response
