"""RFC 9126 Pushed Authorization Requests: the endpoint a client pushes its authorization
request to, and what the authorization endpoint does with the ``request_uri`` it gets back.

The push is checked exactly as the authorization endpoint checks a request (Authlib's
validation of the same parameters, with Sayso's grant and PKCE rules), after the client
authenticates exactly as at the token endpoint. At ``/oauth/authorize``, ``client_id`` and
``request_uri`` are replaced by what was pushed before anything reads the request (the
consent view, Authlib, the authorization details): the rest of the flow is unchanged.
"""

from __future__ import annotations

import functools
import re
from contextlib import contextmanager
from urllib.parse import parse_qs, urlsplit

from authlib.oauth2 import OAuth2Error
from authlib.oauth2.rfc6749 import InvalidRequestError
from flask import current_app, jsonify, make_response, render_template, request
from marshmallow import ValidationError
from sqlalchemy.orm import Session
from werkzeug.datastructures import ImmutableMultiDict

from sayso import services
from sayso.db import writing_anyway
from sayso.extensions import csrf, db, limiter
from sayso.oauth.blueprint import bp
from sayso.oauth.grants import CLIENT_AUTH_METHODS
from sayso.oauth.server import authorization_request_client, authorization_server
from sayso.schemas.pushed_requests import PushedRequestSchema
from sayso.security import SAFE_METHODS
from sayso.services.pushed_requests import CONSENT_WINDOW, PushedRequestRefused
from sayso.shared.forms import flatten_errors
from sayso.shared.issuer import issuer

#: The cookie that ties a pushed request to the one browser that brought it.
BROWSER_COOKIE = "sayso_pushed"
# RFC 6749 allows only these characters in error_description.
_NOT_ALLOWED = re.compile(r"[^\x20\x21\x23-\x5b\x5d-\x7e]")
#: How a client authenticates (RFC 6749 section 2.3), never an authorization parameter.
_CREDENTIALS = ("client_secret", "client_assertion", "client_assertion_type")
SPENT = "This sign-in link has expired or was already used. Go back to {name} and start again."
REQUIRED = (
    "{name} must send this request to Sayso directly first (a pushed authorization "
    "request). Go back to {name} and start again; if it keeps happening, tell them."
)


@bp.post("/oauth/par")
@csrf.exempt
@limiter.limit("60 per minute")
def pushed_authorization_request():
    """RFC 9126 section 2: store an authorization request; 201 with its ``request_uri``."""
    server = authorization_server()
    oauth_request = server.create_oauth2_request(request)
    try:
        client = server.authenticate_client(oauth_request, CLIENT_AUTH_METHODS, "token")
        parameters = _pushed_parameters(client.get_client_id())
        _use_parameters(parameters, client.get_client_id(), keep_form=False)
        server.get_consent_grant(end_user=None)
    except OAuth2Error as error:
        error.state = None  # the answer goes to the client, not through a browser
        error.redirect_uri = None
        return server.handle_error_response(oauth_request, error)
    request_uri, expires_in = services.pushed_requests().push(client.get_client_id(), parameters)
    return jsonify(request_uri=request_uri, expires_in=expires_in), 201


def _pushed_parameters(client_id: str) -> dict[str, str]:
    """The authorization parameters of the push, checked for shape (lengths, each once)."""
    form = request.form
    repeated = sorted(k for k in form if len(form.getlist(k)) > 1)
    if repeated:
        named = _NOT_ALLOWED.sub("?", ", ".join(repeated))[:300]
        raise InvalidRequestError("Send each parameter once; repeated: " + named)
    if "request_uri" in form:
        raise InvalidRequestError("A pushed request cannot itself refer to a request_uri.")
    if "request" in form:
        raise InvalidRequestError("Request objects (the request parameter) are not supported.")
    if form.get("client_id", client_id) != client_id:
        raise InvalidRequestError("client_id is not the client that authenticated.")
    body = {k: v for k, v in form.items() if k not in _CREDENTIALS}
    try:
        parameters = PushedRequestSchema().load(body)
    except ValidationError as exc:
        lines = flatten_errors(exc.messages, plain=False)
        raise InvalidRequestError("; ".join(str(line) for line in lines)) from None
    parameters.pop("client_id", None)
    return parameters


def _use_parameters(parameters: dict[str, str], client_id: str, keep_form: bool) -> None:
    """Make ``parameters`` (and ``client_id``) the request's query, for everything that
    reads the request from now on; the form only if ``keep_form`` (the consent answer)."""
    request.args = ImmutableMultiDict({**parameters, "client_id": client_id})
    if not keep_form:
        request.form = ImmutableMultiDict()
    request.__dict__.pop("values", None)  # werkzeug's cached args + form, built again


def pushed_request(view):
    """For the authorization endpoint: a request with ``request_uri`` goes on with the
    parameters pushed for it (once, in the browser that first brought it); a client that
    requires pushed requests is refused without one."""

    @functools.wraps(view)
    def authorize(*args, **kwargs):
        request_uri = request.args.get("request_uri")
        client_id = request.args.get("client_id")
        if request_uri is None:
            client = authorization_request_client(client_id) if client_id else None
            if client is not None and client.require_pushed_authorization_requests:
                return _refused(REQUIRED, client_id)
            return view(*args, **kwargs)
        browser = request.cookies.get(BROWSER_COOKIE)
        try:
            with _session() as session:
                parameters, keep = services.pushed_requests(on=session).open(
                    request_uri, client_id or "", browser
                )
        except PushedRequestRefused:
            return _refused(SPENT, client_id)
        _use_parameters(parameters, client_id, keep_form=True)
        response = make_response(view(*args, **kwargs))
        if keep:
            response.set_cookie(
                BROWSER_COOKIE,
                keep,
                max_age=int(CONSENT_WINDOW.total_seconds()),
                path=request.path,
                secure=current_app.config["SESSION_COOKIE_SECURE"],
                httponly=True,
                samesite="Lax",
            )
        if _is_authorization_response(response):
            with _session() as session:
                services.pushed_requests(on=session).spend(request_uri)
        return response

    return authorize


@contextmanager
def _session():
    # A GET claims or spends a pushed request, the one write it makes: in a session of its
    # own, as a GET's transaction writes nothing (db.read_only). A POST's own session is
    # free at that moment (before the view begins, after it has committed).
    if request.method in SAFE_METHODS:
        with writing_anyway(), Session(db.engine) as session:
            yield session
    else:
        yield db.session


def _is_authorization_response(response) -> bool:
    """A redirect to the client with the authorization's answer (which carries ``iss``,
    RFC 9207), not the sign-in page's redirect."""
    if response.status_code not in (302, 303):
        return False
    query = parse_qs(urlsplit(response.headers.get("Location", "")).query)
    return query.get("iss") == [issuer()]


def _refused(message: str, client_id: str | None):
    client = services.brands().client(client_id) if client_id else None
    name = client.brand.name if client is not None and client.brand else "the app"
    return render_template("error.html", status=400, message=message.format(name=name)), 400
