"""One error shape for the API, readable pages for people.

API errors are ``{"error": code, "message": text, "fields": {...}}`` with the HTTP
status that fits; ``fields`` maps input names to what is wrong with them.
"""

from __future__ import annotations

import logging
from contextlib import suppress

from flask import jsonify, render_template, request
from flask_wtf.csrf import CSRFError
from marshmallow import ValidationError
from werkzeug.exceptions import HTTPException, InternalServerError

from sayso.extensions import db
from sayso.faults import DATABASE_ERRORS, RETRY_AFTER_SECONDS, is_transient
from sayso.i18n import N_
from sayso.shared.crypto import MasterKeyMissing

log = logging.getLogger(__name__)

#: What a client is told when the database failed it for a moment (``faults.py``).
UNAVAILABLE_MESSAGE = N_(
    "Sayso could not reach its database just now. Nothing was half done: try again in a moment."
)

_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_failed",
    429: "too_many_requests",
    500: "internal_error",
    503: "unavailable",
}
#: A form sent with a stale (or no) CSRF token.
CSRF_EXPIRED = N_(
    "This form has expired (or was sent from another page). Reload the page and try again."
)

#: The statuses error.html has a heading for (and whose werkzeug words are translated:
#: sayso/i18n_extract.py). Pages translate a message; the JSON ``message`` stays English.
PAGE_STATUSES = (400, 401, 403, 404, 405, 409, 410, 413, 415, 422, 429, 500, 503)


#: OAuth endpoints that machines call: their errors follow RFC 6749 §5.2 in shape.
OAUTH_MACHINE_PATHS = (
    "/oauth/token",
    "/oauth/revoke",
    "/oauth/introspect",
    "/oauth/register",
    "/oauth/par",
)


def wants_json() -> bool:
    """API paths, and clients that ask for JSON rather than HTML, get JSON errors."""
    if request.path.startswith(("/api/", "/healthz", *OAUTH_MACHINE_PATHS)):
        return True
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return best == "application/json"


def error_response(status: int, message: str, code: str | None = None, fields=None):
    """The JSON error every API endpoint answers with."""
    body = {
        "error": code or _CODES.get(status, "error"),
        "message": message,
        "fields": fields or {},
    }
    return jsonify(body), status


def _respond(status: int, message: str, code: str | None = None, fields=None, headers=None):
    if request.path in OAUTH_MACHINE_PATHS:
        # An OAuth client parses {"error", "error_description"} from every answer of these
        # endpoints, including a rate limit or a 405 that Authlib never saw.
        body = {"error": code or _CODES.get(status, "error"), "error_description": message}
        return jsonify(body), status, headers or {}
    if wants_json():
        response, status = error_response(status, message, code, fields)
    else:
        response = render_template("error.html", status=status, message=message, fields=fields)
    return response, status, headers or {}


def init_app(app) -> None:
    """Register the error handlers, and end each request's session quietly on a connection
    that died (registered after Flask-SQLAlchemy's teardown, so it runs before it)."""

    @app.teardown_appcontext
    def _end_session(_exc):
        # Ending the session rolls back what is left of its transaction. If the connection
        # was cut after the answer was made (a page shown, a change committed), that
        # rollback fails: the answer stands, the pool has discarded the connection, and
        # the session is dropped so the next request starts on a new one. Raised here,
        # the error would turn the answer into a bare 500 from the server.
        try:
            db.session.remove()
        except DATABASE_ERRORS as error:
            if not is_transient(error):
                raise
            log.warning("session ended on a lost connection: %s", _first_line(error))
            db.session.registry.clear()

    @app.after_request
    def _retry_after_every_503(response):
        # Every 503 says when to try again, whichever view answered it (the profile read's
        # own, /healthz) as well as the handler below.
        if response.status_code == 503:
            response.headers.setdefault("Retry-After", str(RETRY_AFTER_SECONDS))
        return response

    @app.errorhandler(ValidationError)
    def validation_failed(exc: ValidationError):
        fields = exc.messages if isinstance(exc.messages, dict) else {"_schema": exc.messages}
        return _respond(422, N_("The request did not pass validation."), fields=fields)

    @app.errorhandler(CSRFError)
    def csrf_failed(exc: CSRFError):
        return _respond(
            400,
            CSRF_EXPIRED,
            "csrf_failed",
        )

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        headers = dict(exc.get_response().headers)
        headers.pop("Content-Type", None)
        headers.pop("Content-Length", None)
        return _respond(exc.code or 500, exc.description or "", headers=headers)

    @app.errorhandler(MasterKeyMissing)
    def master_key_missing(exc: MasterKeyMissing):
        # A retired master key was dropped while it still wrapped this data: the operator
        # must put it back (the log, and `sayso keys status`, say which). Not a bug: no 500.
        log.error("%s %s: %s", request.method, request.path, exc)
        with suppress(Exception):
            db.session.rollback()
        key = exc.key_id.hex() if exc.key_id else "from before master key ids"
        return _respond(
            503,
            "Sayso cannot open this data now: the master key it was written under "
            f"({key}) is not configured. The operator must put it back "
            "(SAYSO_MASTER_KEYS_RETIRED); nothing was lost.",
            "master_key_missing",
        )

    @app.errorhandler(Exception)
    def unexpected(exc: Exception):
        if is_transient(exc):
            return _unavailable(exc)
        log.exception("unhandled error on %s %s", request.method, request.path)
        return _respond(500, InternalServerError.description)


def _first_line(error: BaseException) -> str:
    return (str(error).splitlines() or [type(error).__name__])[0]


def _unavailable(exc: Exception):
    """503 for a database fault that passes: the request's transaction is rolled back
    (a change and its ledger event with it), and the pool replaces a dead connection, so
    the same request may be sent again."""
    log.warning("database unavailable on %s %s: %s", request.method, request.path, _first_line(exc))
    with suppress(Exception):  # the connection may be gone: the pool discards it
        db.session.rollback()
    headers = {"Retry-After": str(RETRY_AFTER_SECONDS)}
    if request.path in OAUTH_MACHINE_PATHS or wants_json():
        return _respond(503, UNAVAILABLE_MESSAGE, "unavailable", headers=headers)
    # A page of its own, not the site's layout: that shows who is signed in, which
    # would ask the database again.
    page = render_template("unavailable.html", message=UNAVAILABLE_MESSAGE)
    return page, 503, headers
