"""Session sign-in glue for Flask-Login, and the one check every redirect target passes."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import redirect, request, url_for

from sayso import services
from sayso.errors import error_response, wants_json
from sayso.extensions import login_manager


def safe_next(target: str | None, default: str) -> str:
    """``target`` if it is a path on this site, else ``default`` (no open redirects)."""
    if not target or "\\" in target or any(ord(c) < 32 for c in target):
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return default
    return target


def init_app(app) -> None:
    """Teach Flask-Login how to load an account and how to turn strangers away."""
    # "basic": a session whose client fingerprint changes is marked not fresh. ("strong"
    # would only affect non-permanent sessions, and ours are permanent.)
    login_manager.session_protection = "basic"
    login_manager.login_view = "web.login"

    @login_manager.user_loader
    def load_account(session_id: str):
        return services.accounts().load_session(session_id)

    @login_manager.unauthorized_handler
    def unauthorized():
        if wants_json():
            return error_response(401, "Sign in first.")
        return redirect(url_for("web.login", next=request.full_path.rstrip("?")))
