"""Sign-up, sign-in, sign-out and password change."""

from flask import current_app, flash, redirect, render_template, request, session, url_for
from flask_login import current_user, login_required, login_user, logout_user
from marshmallow import ValidationError

from sayso import services
from sayso.auth import home_for, safe_next
from sayso.extensions import limiter
from sayso.oauth.views import continuing_to, sign_in_headers
from sayso.schemas.accounts import LoginSchema, PasswordChangeSchema, SignUpSchema
from sayso.services.accounts import EmailTaken, WrongPassword
from sayso.shared.forms import FormError, flatten_errors
from sayso.web.blueprint import bp

BAD_CREDENTIALS = (
    "That email and password do not match an account, or sign-in is paused after "
    "repeated failures. Check them, or try again in a few minutes."
)


def _start_session(account) -> None:
    # A fresh session on sign-in: nothing from before it (fixation) survives.
    session.clear()
    login_user(account)
    session.permanent = True


def _login_limit() -> str:
    return current_app.config["LOGIN_RATE_LIMIT"]


def _next_of(values) -> str:
    """The return address a sign-in or sign-up page carries, if it is a path on this site;
    anything else (another site, ``//host``, ``javascript:``) is dropped here, so the pages
    never even link to it, and checked again by ``safe_next`` before any redirect."""
    return safe_next(values.get("next"), "") or ""


def _account_page(template: str, next_url: str, status: int = 200, **context):
    """The sign-in or sign-up page, naming the brand the consumer is on the way to (if the
    return address is a brand's authorization request), with the headers that lets the
    form's answer end at that brand."""
    page = render_template(template, next=next_url, continue_to=continuing_to(next_url), **context)
    return page, status, sign_in_headers(next_url)


@bp.route("/signup", methods=["GET", "POST"])
@limiter.limit(_login_limit, methods=["POST"])
def signup():
    """Create a consumer account, then go on to the return address (e.g. the brand's
    authorization request the consumer came from), if it is a path on this site."""
    if request.method == "GET":
        return _account_page("signup.html", _next_of(request.args), errors=[], email="")
    next_url = _next_of(request.form)
    try:
        data = SignUpSchema().load(
            {"email": request.form.get("email", ""), "password": request.form.get("password", "")}
        )
    except ValidationError as exc:
        return _account_page(
            "signup.html",
            next_url,
            422,
            errors=flatten_errors(exc.messages),
            email=request.form.get("email", ""),
        )
    try:
        account = services.accounts().sign_up(data["email"], data["password"])
    except EmailTaken:
        return _account_page(
            "signup.html",
            next_url,
            409,
            errors=["That email cannot be used to sign up. If it is yours, sign in instead."],
            email=data["email"],
        )
    # The new session holds the account only; the authorization request travels in the
    # return address, which the consent page then answers in this session (its form's
    # CSRF token is bound to it).
    _start_session(account)
    flash("Welcome to Sayso. Nothing is shared until you say so.")
    return redirect(safe_next(next_url, url_for("web.disclosures")))


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(_login_limit, methods=["POST"])
def login():
    """Sign in; one message for every kind of failure."""
    if request.method == "GET":
        return _account_page("login.html", _next_of(request.args), errors=[], email="")
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
        return _account_page(
            "login.html",
            _next_of(request.form),
            401,
            errors=[BAD_CREDENTIALS],
            email=request.form.get("email", ""),
        )
    _start_session(account)
    return redirect(safe_next(data["next"], home_for(account)))


@bp.post("/logout")
def logout():
    """Sign out (POST, with the CSRF token, so no other site can sign you out): every session
    of the account ends, so a copy of this browser's cookie no longer signs anyone in."""
    if current_user.is_authenticated:
        services.accounts().sign_out(current_user._get_current_object())
    logout_user()
    session.clear()
    flash("You are signed out.")
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
        errors = [FormError("The current password is not right.", ("current_password",))]
        return render_template("password.html", errors=errors), 403
    _start_session(current_user._get_current_object())
    flash("Password changed. Other sessions have been signed out.")
    return redirect(home_for(current_user))
