"""Protecting API resources with bearer tokens (Authlib's ResourceProtector)."""

from __future__ import annotations

from authlib.integrations.flask_oauth2 import ResourceProtector
from authlib.oauth2 import OAuth2Error
from authlib.oauth2.rfc6749.errors import MissingAuthorizationError
from authlib.oauth2.rfc6750 import BearerTokenValidator
from flask import request

from sayso.errors import error_response
from sayso.extensions import db
from sayso.models import Token
from sayso.services.brands import token_hash


class SaysoBearerTokenValidator(BearerTokenValidator):
    """Finds a token by the SHA-256 of the presented string (a primary-key lookup)."""

    def authenticate_token(self, token_string):
        return db.session.get(Token, token_hash(token_string))


class SaysoResourceProtector(ResourceProtector):
    """Authlib's protector, with one addition: an endpoint may say how to load the token.

    The profile read loads the token together with everything the read needs in one
    query; Authlib still parses the header and validates what comes back (expired,
    revoked, scope) exactly as for any other token.
    """

    def validate_request(self, scopes, request, load=None, **kwargs):
        validator, token_string = self.parse_request_authorization(request)
        validator.validate_request(request)
        token = (load or validator.authenticate_token)(token_string)
        validator.validate_token(token, scopes, request, **kwargs)
        return token


require_oauth = SaysoResourceProtector()
require_oauth.register_token_validator(SaysoBearerTokenValidator(realm="sayso"))


class BearerRefused(Exception):
    """The request carries no usable bearer token; ``response`` says why, per RFC 6750."""

    def __init__(self, response):
        super().__init__("bearer token refused")
        self.response = response


def bearer_token(scopes=None, load=None):
    """The request's valid token, or :class:`BearerRefused` with a 401/403 in our error shape.

    ``load``: how to fetch the token from the presented string (default: the token row by
    its hash). Tokens are accepted only in the ``Authorization`` header: a token in the
    query string or a form body leaks into logs and histories, so it is refused outright.
    """
    if "access_token" in request.args or "access_token" in request.form:
        response, status = error_response(
            400, "Send the token in the Authorization header, never in the URL.", "invalid_request"
        )
        raise BearerRefused((response, status))
    try:
        if load is None:
            return require_oauth.acquire_token(scopes)
        return require_oauth.acquire_token(scopes, load=load)
    except MissingAuthorizationError:
        # RFC 6750 §3.1: no credentials sent, so no error code in the challenge.
        response, status = error_response(401, "A bearer token is required.", "unauthorized")
        raise BearerRefused(
            (response, status, {"WWW-Authenticate": 'Bearer realm="sayso"'})
        ) from None
    except OAuth2Error as error:
        status = error.status_code or 401
        response, _ = error_response(
            status, error.description or "A valid bearer token is required.", error.error
        )
        challenge = dict(error.get_headers()).get("WWW-Authenticate", 'Bearer realm="sayso"')
        raise BearerRefused((response, status, {"WWW-Authenticate": challenge})) from None


def unauthorized_token(description: str):
    """The 401 for a token that was valid but has nothing left to read (revoked grants)."""
    response, status = error_response(401, description, "invalid_token")
    challenge = f'Bearer realm="sayso", error="invalid_token", error_description="{description}"'
    return response, status, {"WWW-Authenticate": challenge}


def init_app(app) -> None:
    """Turn :class:`BearerRefused` into its response."""
    app.register_error_handler(BearerRefused, lambda exc: exc.response)
