"""Request hygiene (safe methods write nothing, views that are recorded open only from
Sayso's own pages, no NUL characters) and security headers on every response."""

from __future__ import annotations

from flask import Flask, abort, current_app, render_template, request, url_for

from sayso.db import read_only
from sayso.errors import error_response, wants_json

#: RFC 9110 §9.2.1: a client asks for nothing to change with these, so a view answering
#: them writes nothing (see :class:`SafeMethodsFlask`).
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
#: Fetch Metadata's ``Sec-Fetch-Site`` for a request that another site's page started.
OTHER_SITES = frozenset({"cross-site", "same-site"})

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
    recorded (a brand's profile read appends to the ledger). Said once, on the view.

    A browser's request for such a view that another site started, and that carries no
    credentials of its own, is refused (:func:`_started_on_another_site`)."""
    view.sayso_writes_on_get = True
    return view


def _started_on_another_site() -> bool:
    # A view that records its reading, reached with the browser's cookie from another
    # site's link, image or redirect (SameSite=Lax cookies go with a top-level GET), would
    # put a read the person never chose on the ledger in their name: an officer "viewing"
    # a consumer's history, a consumer "exporting" their data. Browsers say where a request
    # comes from in Sec-Fetch-Site (W3C Fetch Metadata); a request that sends no such
    # header (an older browser, a program) is let through, and so is one with its own
    # Authorization header, which no other site can add to a navigation.
    return (
        request.method in SAFE_METHODS
        and request.headers.get("Sec-Fetch-Site") in OTHER_SITES
        and "Authorization" not in request.headers
        and _view_writes_on_get(current_app)
    )


def _view_writes_on_get(app) -> bool:
    return getattr(app.view_functions.get(request.endpoint), "sayso_writes_on_get", False)


def _refused_from_another_site():
    message = (
        "Opening this records that you did, so it opens only from Sayso's own pages, "
        "not from a link on another site."
    )
    if wants_json():
        return error_response(403, message, "started_on_another_site")
    # For a person: the same address, as a link on Sayso's own page (so same-origin). The
    # path is built from the route, never taken from the request; the query goes as sent.
    here = url_for(request.endpoint, **(request.view_args or {}))
    if request.query_string:
        here += "?" + request.query_string.decode("latin-1")
    with read_only():  # the page shows who is signed in; the refusal itself writes nothing
        page = render_template("error.html", status=403, message=message, continue_to=here)
    return page, 403


class SafeMethodsFlask(Flask):
    """Flask, with every view run ``db.read_only`` for GET, HEAD and OPTIONS, unless
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
        if request.method in SAFE_METHODS and not _view_writes_on_get(self):
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

    @app.before_request
    def _recorded_views_open_from_here():
        if _started_on_another_site():
            return _refused_from_another_site()

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
