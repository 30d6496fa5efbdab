"""Sign-up, sign-in, sign-out and password change."""

import time

from flask import current_app, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required, login_user, logout_user
from marshmallow import ValidationError

from sayso import services
from sayso.auth import AUTHENTICATED_AT, SESSION_ID, home_for, safe_next
from sayso.extensions import limiter
from sayso.oauth.views import continuing_to, sign_in_headers
from sayso.schemas.accounts import LoginSchema, PasswordChangeSchema, SignUpSchema
from sayso.services.accounts import SamePassword, WrongPassword
from sayso.shared.forms import N_, FormError, flatten_errors
from sayso.web.blueprint import bp

BAD_CREDENTIALS = N_(
    "That email and password do not match an account, or sign-in is paused after "
    "repeated failures. Check them, or try again in a few minutes."
)


NOT_THE_CURRENT_ONE = N_("That is the password you have now. Choose a new one.")


def start_session(account, method: str = "password") -> None:
    # A fresh session on sign-in: nothing from before it (fixation) survives.
    session.clear()
    user_agent = request.headers.get("User-Agent", "")
    session[SESSION_ID] = services.session_records().start(account, user_agent, method)
    # When the person last proved who they are (re-authentication: web/passkeys.py).
    session[AUTHENTICATED_AT] = int(time.time())
    login_user(account)
    session.permanent = True


#: The Flask session key of a sign-in waiting for its passkey (second factor).
SECOND_FACTOR = "second_factor"
#: How long, after the password, the passkey may be given.
SECOND_FACTOR_SECONDS = 300


def ask_for_passkey(account, next_url: str | None):
    """The password was right and the account asks for a passkey too: remember whose
    sign-in this is (in this browser's session only), and go to the passkey step."""
    session.clear()
    session[SECOND_FACTOR] = {
        "account": account.id,
        "epoch": account.session_epoch,
        "next": next_url or "",
        "until": int(time.time()) + SECOND_FACTOR_SECONDS,
    }
    return redirect(url_for("web.passkey_step"))


def _login_limit() -> str:
    return current_app.config["LOGIN_RATE_LIMIT"]


def next_of(values) -> str:
    """The return address a sign-in or sign-up page carries, if it is a path on this site;
    anything else (another site, ``//host``, ``javascript:``) is dropped here, so the pages
    never even link to it, and checked again by ``safe_next`` before any redirect."""
    return safe_next(values.get("next"), "") or ""


def account_page(template: str, next_url: str, status: int = 200, **context):
    """The sign-in or sign-up page, naming the brand the consumer is on the way to (if the
    return address is a brand's authorization request), with the headers that lets the
    form's answer end at that brand."""
    page = render_template(template, next=next_url, continue_to=continuing_to(next_url), **context)
    return page, status, sign_in_headers(next_url)


def address_key() -> str:
    """The rate limit key of the address a form names: its keyed hash, not the address."""
    return "address:" + services.vault().email_index(request.form.get("email", "")).hex()


#: Messages one address may be sent, from sign-ups and "Forgot password?" together.
MAILS_PER_ADDRESS = "5 per hour"
mails_per_address = limiter.shared_limit(
    MAILS_PER_ADDRESS, scope="mail-to-address", key_func=address_key, methods=["POST"]
)


@bp.route("/signup", methods=["GET", "POST"])
@limiter.limit(_login_limit, methods=["POST"])
@mails_per_address
def signup():
    """Sign up: answer "check your email", the same whether or not the address has an
    account. The emailed link confirms the address and signs in, then goes on to the
    return address (e.g. the brand's authorization request the consumer came from)."""
    if request.method == "GET":
        return account_page("signup.html", next_of(request.args), errors=[], email="")
    next_url = next_of(request.form)
    try:
        data = SignUpSchema().load(
            {"email": request.form.get("email", ""), "password": request.form.get("password", "")}
        )
    except ValidationError as exc:
        return account_page(
            "signup.html",
            next_url,
            422,
            errors=flatten_errors(exc.messages),
            email=request.form.get("email", ""),
        )
    # The same page whether or not the address has an account (no one learns which from
    # it): a new one is emailed a confirmation link, an existing one a note that someone
    # tried to sign up with it. Nobody is signed in here; the link does that.
    services.account_links().request_sign_up(data["email"], data["password"], next_url)
    return account_page("check_email.html", next_url)


#: One budget of sign-in attempts per client address, shared by the password and the
#: passkey (web/passkeys.py): alternating between them gets no more tries.
sign_in_limit = limiter.shared_limit(_login_limit, scope="sign-in", methods=["POST"])


@bp.route("/login", methods=["GET", "POST"])
@sign_in_limit
def login():
    """Sign in; one message for every kind of failure."""
    if request.method == "GET":
        return account_page("login.html", next_of(request.args), errors=[], email="")
    try:
        data = LoginSchema().load(
            {
                "email": request.form.get("email", ""),
                "password": request.form.get("password", ""),
                "next": request.form.get("next") or None,
            }
        )
    except ValidationError:
        data = None
    account = data and services.accounts().authenticate(data["email"], data["password"])
    if not account:
        # The typed email comes back (it is the person's own); the password never does.
        return account_page(
            "login.html",
            next_of(request.form),
            401,
            errors=[BAD_CREDENTIALS],
            email=request.form.get("email", ""),
        )
    if services.passkey_service().wants_second_factor(account):
        # Not signed in yet: the passkey step (web/passkeys.py) finishes the sign-in.
        return ask_for_passkey(account, data["next"])
    start_session(account)
    return redirect(safe_next(data["next"], home_for(account)))


@bp.post("/logout")
def logout():
    """Sign out (POST, with the CSRF token, so no other site can sign you out): every session
    of the account ends, so a copy of this browser's cookie no longer signs anyone in."""
    if current_user.is_authenticated:
        services.accounts().sign_out(current_user._get_current_object())
    logout_user()
    session.clear()
    flash(_("You are signed out."))
    return redirect(url_for("web.index"))


@bp.route("/account/password", methods=["GET", "POST"])
@login_required
@limiter.limit(_login_limit, methods=["POST"])  # the current password is checked here too
def change_password():
    """Change the password; every other session of the account ends."""
    if request.method == "GET":
        return render_template("password.html", errors=[])
    try:
        data = PasswordChangeSchema().load(
            {
                "current_password": request.form.get("current_password", ""),
                "new_password": request.form.get("new_password", ""),
            }
        )
        services.accounts().change_password(
            current_user, data["current_password"], data["new_password"]
        )
    except ValidationError as exc:
        return render_template("password.html", errors=flatten_errors(exc.messages)), 422
    except WrongPassword:
        errors = [FormError(_("The current password is not right."), ("current_password",))]
        return render_template("password.html", errors=errors), 403
    except SamePassword:
        errors = [FormError(NOT_THE_CURRENT_ONE, ("new_password",))]
        return render_template("password.html", errors=errors), 422
    start_session(current_user._get_current_object())
    flash(_("Password changed. Other sessions have been signed out."))
    return redirect(home_for(current_user))
