"""Protecting API resources with bearer tokens (Authlib's ResourceProtector)."""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass

from authlib.integrations.flask_oauth2 import ResourceProtector
from authlib.integrations.flask_oauth2.requests import FlaskJsonRequest
from authlib.oauth2 import OAuth2Error
from authlib.oauth2.rfc6749.errors import MissingAuthorizationError
from authlib.oauth2.rfc6750 import BearerTokenValidator
from flask import g, request
from sqlalchemy.orm import Session

from sayso import services
from sayso.db import writing_anyway
from sayso.errors import error_response
from sayso.extensions import db
from sayso.models import Token
from sayso.shared.tokens import INITIAL_ACCESS_TOKEN_PREFIX, token_hash


class SaysoBearerTokenValidator(BearerTokenValidator):
    """Finds a token by the SHA-256 of the presented string (a primary-key lookup)."""

    def authenticate_token(self, token_string):
        return db.session.get(Token, token_hash(token_string))


class SaysoResourceProtector(ResourceProtector):
    """Authlib's protector, taken in the two halves the profile read needs.

    :meth:`present` parses the ``Authorization`` header and validates the request, with
    no database; :meth:`PresentedBearer.token` then loads the token (an endpoint may say
    how: the profile read loads it with everything the read needs in one query) and lets
    Authlib validate it (expired, revoked, scope) exactly as for any other token. The
    profile read runs the first half before it joins the transaction it shares with
    other reads, and only the second inside it (docs/benchmarks.md).
    """

    def present(self, scopes=None) -> PresentedBearer:
        """The bearer token the request presents, parsed and not yet loaded."""
        oauth_request = FlaskJsonRequest(request)
        validator, token_string = self.parse_request_authorization(oauth_request)
        validator.validate_request(oauth_request)
        if isinstance(scopes, str):
            scopes = [scopes]
        return PresentedBearer(validator, token_string, oauth_request, scopes)


@dataclass(frozen=True)
class PresentedBearer:
    """A bearer token as the request presented it: Authlib's validator, the string, the
    request, and the scopes the endpoint requires."""

    validator: BearerTokenValidator
    token_string: str
    request: FlaskJsonRequest
    scopes: list | None

    def token(self, load=None):
        """The token loaded (by ``load``, default: the token row by its hash) and validated
        by Authlib, or :class:`BearerRefused`."""
        with _refusals():
            token = (load or self.validator.authenticate_token)(self.token_string)
            self.validator.validate_token(token, self.scopes, self.request)
        g.authlib_server_oauth2_token = token
        return token


require_oauth = SaysoResourceProtector()
require_oauth.register_token_validator(SaysoBearerTokenValidator(realm="sayso"))


class BearerRefused(Exception):
    """The request carries no usable bearer token; ``response`` says why, per RFC 6750."""

    def __init__(self, response):
        super().__init__("bearer token refused")
        self.response = response


def presented_bearer(scopes=None) -> PresentedBearer:
    """The request's bearer token, parsed (load and validate it with ``.token()``), or
    :class:`BearerRefused` with a 400/401 in our error shape.

    Tokens are accepted only in the ``Authorization`` header: a token in the query string
    or a form body leaks into logs and histories, so it is refused outright, and, since it
    has leaked already, revoked (its whole family) if it was live.
    """
    if "access_token" in request.args or "access_token" in request.form:
        exposed = request.args.get("access_token") or request.form.get("access_token")
        revoked = bool(exposed) and revoke_exposed(exposed)
        message = "Send the token in the Authorization header, never in the URL."
        if revoked:
            message += " This one was revoked, as it may now be in logs: get a new one."
        response, status = error_response(400, message, "invalid_request")
        raise BearerRefused((response, status))
    with _refusals():
        return require_oauth.present(scopes)


def revoke_exposed(token: str) -> bool:
    """Revoke a token sent in a URL, and record it; whether it still worked. An access or
    refresh token takes its family with it; a brand's initial access token (dynamic
    registration) is revoked alone. In a session of its own: the request may be a GET, whose
    own transaction writes nothing (``db.read_only``), and may have begun already;
    and the request is refused afterwards, which must not undo the revocation."""
    with writing_anyway(), Session(db.engine) as session:
        if token.startswith(INITIAL_ACCESS_TOKEN_PREFIX + "_"):
            return services.brands(on=session).revoke_exposed_initial_access_token(token)
        return services.tokens(on=session).revoke_exposed(token)


def bearer_token(scopes=None, load=None):
    """The request's valid token (see :func:`presented_bearer`), or :class:`BearerRefused`
    with a 400/401/403 in our error shape. ``load``: as for :meth:`PresentedBearer.token`."""
    return presented_bearer(scopes).token(load)


@contextmanager
def _refusals():
    """Authlib's errors as :class:`BearerRefused`, in our error shape with RFC 6750's
    ``WWW-Authenticate`` challenge."""
    try:
        yield
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
