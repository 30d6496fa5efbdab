"""Request hygiene (safe methods write nothing, no NUL characters) and security headers on
every response."""

from __future__ import annotations

from flask import Flask, abort, request

from sayso.database import read_only

#: RFC 9110 §9.2.1: a client asks for nothing to change with these, so a view answering
#: them writes nothing (see :class:`SafeMethodsFlask`).
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)


def writes_on_get(view):
    """Mark a view that writes when it answers GET, and must: one whose reading is itself
    recorded (a brand's profile read appends to the ledger). Said once, on the view."""
    view.sayso_writes_on_get = True
    return view


class SafeMethodsFlask(Flask):
    """Flask, with every view run ``database.read_only`` for GET, HEAD and OPTIONS, unless
    it is marked :func:`writes_on_get`.

    Two things follow. A page that only shows things never queues for SQLite's write lock
    behind the ledger appends of brands' reads. And "GET changes nothing", which CSRF
    protection relies on (Flask-WTF checks only the unsafe methods, and a cross-site
    GET needs no form), is enforced rather than hoped for: a write that creeps into such
    a view raises ``WriteRefused`` in its tests, on both databases. The read-only scope is
    the request's whole handling, ``before_request`` functions included (a blueprint's
    check of the signed-in account opens the transaction the view goes on using).
    """

    def full_dispatch_request(self):
        if request.method in SAFE_METHODS and not getattr(
            self.view_functions.get(request.endpoint), "sayso_writes_on_get", False
        ):
            with read_only():
                return super().full_dispatch_request()
        return super().full_dispatch_request()


def _carries_nul() -> bool:
    if "\x00" in request.path or any(
        "\x00" in k or "\x00" in v for k, v in request.args.items(multi=True)
    ):
        return True
    if request.mimetype == "application/x-www-form-urlencoded":
        return any("\x00" in k or "\x00" in v for k, v in request.form.items(multi=True))
    if request.is_json:
        raw = request.get_data(cache=True)
        return b"\x00" in raw or b"\\u0000" in raw
    return False


def init_app(app) -> None:
    """Refuse NUL characters at the door; add the headers after every request."""

    @app.before_request
    def _head_as_get():
        # HEAD is GET without the content (RFC 9110 §9.3.2), and Flask routes it to the
        # GET view. Views that show a form on GET treat every other method as the form's
        # POST: seen as HEAD, a request would run that branch, outside CSRF protection and
        # the sign-in rate limits (which name POST). Every view sees GET instead; the
        # content is still left out, because Werkzeug decides that from the WSGI environ.
        if request.method == "HEAD":
            request.method = "GET"

    @app.before_request
    def _refuse_nul():
        # No field of Sayso's takes a NUL, and PostgreSQL refuses them in text: answer a
        # clear 400 here rather than a database error deep inside any endpoint.
        if _carries_nul():
            abort(400, "NUL characters are not allowed.")

    @app.after_request
    def _headers(response):
        headers = response.headers
        headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        headers.setdefault("X-Frame-Options", "DENY")
        headers.setdefault("Referrer-Policy", "no-referrer")
        headers.setdefault("X-Content-Type-Options", "nosniff")
        headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
        headers.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
        if app.config["SESSION_COOKIE_SECURE"]:
            headers.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
        # Personal pages and API answers must not sit in shared caches.
        headers.setdefault("Cache-Control", "no-store")
        return response
