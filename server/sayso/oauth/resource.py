"""Protecting API resources with bearer tokens (Authlib's ResourceProtector), and with
DPoP-bound tokens (RFC 9449): ``Authorization: DPoP <token>`` and a proof by their key."""

from __future__ import annotations

import re
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
from sayso.oauth import dpop
from sayso.shared.issuer import public_url
from sayso.shared.tokens import INITIAL_ACCESS_TOKEN_PREFIX, token_hash


class SaysoBearerTokenValidator(BearerTokenValidator):
    """Finds a token by the SHA-256 of the presented string (a primary-key lookup)."""

    def authenticate_token(self, token_string):
        return db.session.get(Token, token_hash(token_string))


class SaysoDPoPTokenValidator(SaysoBearerTokenValidator):
    """The same tokens, presented with the DPoP scheme (RFC 9449 section 7.1)."""

    TOKEN_TYPE = "dpop"  # noqa: S105  (a scheme, not a secret)


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
        dpop_scheme = isinstance(validator, SaysoDPoPTokenValidator)
        proof = _proof(token_string) if dpop_scheme else None
        return PresentedBearer(validator, token_string, oauth_request, scopes, proof)


@dataclass(frozen=True)
class PresentedBearer:
    """A bearer token as the request presented it: Authlib's validator, the string, the
    request, the scopes the endpoint requires, and the DPoP proof it came with (checked
    and used up), if it was presented with the DPoP scheme."""

    validator: BearerTokenValidator
    token_string: str
    request: FlaskJsonRequest
    scopes: list | None
    proof: dpop.Proof | None = None

    def token(self, load=None):
        """The token loaded (by ``load``, default: the token row by its hash) and validated
        by Authlib, or :class:`BearerRefused`."""
        with _refusals():
            token = (load or self.validator.authenticate_token)(self.token_string)
            self.validator.validate_token(token, self.scopes, self.request)
        _check_binding(getattr(token, "jkt", None), self.proof)
        g.authlib_server_oauth2_token = token
        return token


def _proof(token_string: str) -> dpop.Proof:
    """The DPoP proof a request with the DPoP scheme must carry, for ``token_string``."""
    try:
        proof = dpop.request_proof(api=True, access_token=token_string)
    except dpop.ProofRefused as refused:
        nonce = getattr(refused, "nonce", None)
        raise _dpop_refused(refused.error, refused.description, nonce) from None
    if proof is None:
        raise _dpop_refused("invalid_dpop_proof", "Send a DPoP proof with the DPoP scheme.")
    return proof


def _check_binding(jkt: str | None, proof: dpop.Proof | None) -> None:
    """RFC 9449 section 7: a bound token only with a proof by its key (never as a bearer
    token), and the DPoP scheme only for a bound token."""
    if proof is None and jkt is not None:
        raise _dpop_refused(
            "invalid_token",
            "This token is bound to a key: send it as Authorization: DPoP, with a DPoP proof.",
        )
    if proof is not None and proof.jkt != jkt:
        description = (
            "This token is not bound to a key: send it as a Bearer token."
            if jkt is None
            else "This token is bound to another key than the DPoP proof's."
        )
        raise _dpop_refused("invalid_token", description)


_UNQUOTABLE = re.compile(r"[^\x20\x21\x23-\x5b\x5d-\x7e]")


def _dpop_refused(error: str, description: str, nonce: str | None = None) -> BearerRefused:
    """A 401 with RFC 9449 section 7.1's challenge (and the nonce to use, if that is why)."""
    response, status = error_response(401, description, error)
    said = _UNQUOTABLE.sub("?", description)
    headers = challenge(f'DPoP error="{error}", error_description="{said}", {_ALGS}')
    if nonce:
        headers[dpop.NONCE_HEADER] = nonce
    return BearerRefused((response, status, headers))


_ALGS = 'algs="' + " ".join(dpop.ALGORITHMS) + '"'


require_oauth = SaysoResourceProtector()
require_oauth.register_token_validator(SaysoBearerTokenValidator(realm="sayso"))
require_oauth.register_token_validator(SaysoDPoPTokenValidator(realm="sayso"))


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
        # Either scheme will do (RFC 9449 section 7.1): both challenges, in one header.
        headers = challenge('Bearer realm="sayso"')
        headers["WWW-Authenticate"] += f", DPoP {_ALGS}"
        raise BearerRefused((response, status, headers)) from None
    except OAuth2Error as error:
        status = error.status_code or 401
        response, _ = error_response(
            status, error.description or "A valid bearer token is required.", error.error
        )
        authlib_says = dict(error.get_headers()).get("WWW-Authenticate", 'Bearer realm="sayso"')
        if request.headers.get("Authorization", "")[:5].lower() == "dpop ":
            # Authlib's challenge, in the scheme the token was presented with (RFC 9449).
            authlib_says = f"DPoP {authlib_says.removeprefix('Bearer ')}, {_ALGS}"
        raise BearerRefused((response, status, challenge(authlib_says))) from None


def unauthorized_token(description: str):
    """The 401 for a token that was valid but has nothing left to read (revoked grants)."""
    response, status = error_response(401, description, "invalid_token")
    said = f'Bearer realm="sayso", error="invalid_token", error_description="{description}"'
    return response, status, challenge(said)


def challenge(value: str) -> dict:
    """The ``WWW-Authenticate`` header of a refusal by the resource server: ``value`` (one
    challenge) with ``resource_metadata``, where a client finds what this resource accepts
    and which authorization server issues its tokens (RFC 9728 section 5.1)."""
    where = public_url("wellknown.protected_resource")
    return {"WWW-Authenticate": f'{value}, resource_metadata="{where}"'}


def init_app(app) -> None:
    """Turn :class:`BearerRefused` into its response."""
    app.register_error_handler(BearerRefused, lambda exc: exc.response)
