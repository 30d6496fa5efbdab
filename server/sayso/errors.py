"""One error shape for the API, readable pages for people.

API errors are ``{"error": code, "message": text, "fields": {...}}`` with the HTTP
status that fits; ``fields`` maps input names to what is wrong with them.
"""

from __future__ import annotations

import logging

from flask import jsonify, render_template, request
from flask_wtf.csrf import CSRFError
from marshmallow import ValidationError
from werkzeug.exceptions import HTTPException, InternalServerError

log = logging.getLogger(__name__)

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


#: OAuth endpoints that machines call: their errors follow RFC 6749 §5.2 in shape.
OAUTH_MACHINE_PATHS = ("/oauth/token", "/oauth/revoke", "/oauth/introspect", "/oauth/register")


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
    """Register the error handlers."""

    @app.errorhandler(ValidationError)
    def validation_failed(exc: ValidationError):
        fields = exc.messages if isinstance(exc.messages, dict) else {"_schema": exc.messages}
        return _respond(422, "The request did not pass validation.", fields=fields)

    @app.errorhandler(CSRFError)
    def csrf_failed(exc: CSRFError):
        return _respond(
            400, "The form expired or its CSRF token is missing; reload and retry.", "csrf_failed"
        )

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        headers = dict(exc.get_response().headers)
        headers.pop("Content-Type", None)
        headers.pop("Content-Length", None)
        return _respond(exc.code or 500, exc.description or "", headers=headers)

    @app.errorhandler(Exception)
    def unexpected(exc: Exception):
        log.exception("unhandled error on %s %s", request.method, request.path)
        return _respond(500, InternalServerError.description)
