"""Session sign-in glue for Flask-Login, and the one check every redirect target passes."""

from __future__ import annotations

from functools import wraps
from urllib.parse import urlsplit

from flask import abort, current_app, flash, g, redirect, request, session, url_for
from flask_babel import gettext
from flask_login import current_user, login_required

from sayso import services
from sayso.errors import error_response, wants_json
from sayso.extensions import csrf, db, login_manager
from sayso.fields import MANAGE_SCOPE
from sayso.models import Account
from sayso.shared.forms import N_


def safe_next(target: str | None, default: str | None) -> str | None:
    """``target`` if it is a path on this site, else ``default`` (no open redirects)."""
    if not target or "\\" in target or any(ord(c) < 32 for c in target):
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return default
    return target


#: The Flask session key of the random id of the browser's session record.
SESSION_ID = "sid"
#: The Flask session key of when (Unix time) the person last proved who they are.
AUTHENTICATED_AT = "authenticated_at"

SESSION_ENDED = N_("Your session had ended. Sign in again, then repeat what you were doing.")


def _resume_after_sign_in() -> str | None:
    """Where to go once signed in again: the page asked for, if it can be asked for again.

    A form's POST cannot be replayed by the redirect that follows sign-in (the browser
    would GET a POST-only URL), and repeating a revoke or an erasure unseen would be wrong
    anyway: the person goes back to the page they sent it from (a same-origin Referer),
    and does it again themselves.
    """
    if request.method in ("GET", "HEAD"):
        return request.full_path.rstrip("?")
    referrer = urlsplit(request.headers.get("Referer", ""))
    if f"{referrer.scheme}://{referrer.netloc}/" != request.host_url:
        return None
    page = referrer.path + (f"?{referrer.query}" if referrer.query else "")
    return safe_next(page, None)


#: The roles in words (translated where shown).
ROLE_WORDS = {"consumer": N_("consumer"), "brand": N_("brand"), "officer": N_("officer")}


def _role(role: str) -> str:
    return gettext(ROLE_WORDS.get(role, role))


def role_required(role: str):
    """Signed in, and with this role: a brand's or officer's account is not a consumer's,
    and must not disclose, grant or revoke as one (and the other way round)."""

    def decorator(view):
        @wraps(view)
        @login_required
        def wrapper(*args, **kwargs):
            if current_user.role != role:
                abort(403, gettext("This page is for %(role)s accounts.", role=_role(role)))
            return view(*args, **kwargs)

        return wrapper

    return decorator


consumer_required = role_required("consumer")


def current_consumer():
    """The consumer a ``consent_manager_required`` view acts for (bearer or session)."""
    return g.get("bearer_consumer") or current_user._get_current_object()


def consent_manager_required(view):
    """A consumer's session (with the CSRF token on writes), or a bearer token with scope
    ``consent:manage`` of a first-party client, for an active consumer.

    CSRF protects cookies a browser sends on its own; a bearer token is never sent
    implicitly, so the check does not apply to it. A signed-in session wins over a bearer
    header, so a request that carries the cookie always needs the CSRF token.
    """
    session_view = consumer_required(view)

    @wraps(view)
    def wrapper(*args, **kwargs):
        scheme = request.headers.get("Authorization", "").split(" ", 1)[0].lower()
        bearer = scheme in {"bearer", "dpop"}  # a DPoP-bound token (RFC 9449) is one too
        # A token in the URL goes the bearer way too, to be refused and revoked there.
        bearer = bearer or "access_token" in request.args or "access_token" in request.form
        if bearer and not current_user.is_authenticated:
            # Imported here: the oauth package imports this module.
            from sayso.oauth.resource import BearerRefused, bearer_token, unauthorized_token

            token = bearer_token(MANAGE_SCOPE)
            account = db.session.get(Account, token.account_id)
            if token.brand_id is not None or account is None or not account.is_active:
                raise BearerRefused(unauthorized_token("This token cannot manage consent."))
            if account.role != "consumer":
                abort(403, gettext("This page is for %(role)s accounts.", role=_role("consumer")))
            g.bearer_consumer = account
            return view(*args, **kwargs)
        if request.method in current_app.config["WTF_CSRF_METHODS"]:
            csrf.protect()
        return session_view(*args, **kwargs)

    # The global check would run before the view could tell a bearer request apart.
    csrf.exempt(wrapper)
    return wrapper


def named_session(user_id: str | None) -> tuple[int, int, str] | None:
    """The session a cookie names: the account and its session epoch (``user_id``, as
    Account.get_id writes it) and the random id of its server-side session record
    (services/sessions.py); ``None`` if it names none."""
    account_id, _, epoch = (user_id or "").partition(".")
    raw = session.get(SESSION_ID)
    if not (account_id.isdigit() and epoch.isdigit() and raw):
        return None
    return int(account_id), int(epoch), raw


def session_to_load() -> tuple[int, int, str] | None:
    """The session the request's cookie names while Flask-Login has not loaded its account
    yet (``g._login_user``, from ``_user_id``: Flask-Login's own names), for a query that
    can read it along (services/sessions.py, ``SessionRecords.along``); else ``None``."""
    if "_login_user" in g:
        return None
    return named_session(session.get("_user_id"))


def home_for(account) -> str:
    """Where an account lands after signing in."""
    return {
        "brand": url_for("portal.overview"),
        "officer": url_for("console.events"),
    }.get(account.role, url_for("web.disclosures"))


def init_app(app) -> None:
    """Teach Flask-Login how to load an account and how to turn strangers away."""
    # "basic": a session whose client fingerprint changes is marked not fresh. ("strong"
    # would only affect non-permanent sessions, and ours are permanent.)
    login_manager.session_protection = "basic"
    login_manager.login_view = "web.login"

    @login_manager.user_loader
    def load_account(session_id: str):
        # The session must be live: one statement either way (none if the authorization
        # endpoint read it along with the client, services/sessions.py).
        named = named_session(session_id)
        return services.session_records().load(*named) if named else None

    @login_manager.unauthorized_handler
    def unauthorized():
        if wants_json():
            return error_response(401, "Sign in first.")
        if request.method not in ("GET", "HEAD"):
            flash(gettext(SESSION_ENDED))
        target = _resume_after_sign_in()
        return redirect(url_for("web.login", next=target) if target else url_for("web.login"))
