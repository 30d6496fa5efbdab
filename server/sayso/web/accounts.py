"""Sign-up, sign-in, sign-out and password change."""

from flask import current_app, flash, redirect, render_template, request, session, url_for
from flask_login import current_user, login_required, login_user, logout_user
from marshmallow import ValidationError

from sayso import services
from sayso.auth import home_for, safe_next
from sayso.extensions import limiter
from sayso.schemas.accounts import LoginSchema, PasswordChangeSchema, SignUpSchema
from sayso.services.accounts import EmailTaken, WrongPassword
from sayso.web import bp
from sayso.web.forms import FormError, flatten_errors

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


@bp.route("/signup", methods=["GET", "POST"])
@limiter.limit(_login_limit, methods=["POST"])
def signup():
    """Create a consumer account."""
    if request.method == "GET":
        return render_template("signup.html", errors=[], email="")
    try:
        data = SignUpSchema().load(
            {"email": request.form.get("email", ""), "password": request.form.get("password", "")}
        )
    except ValidationError as exc:
        return render_template(
            "signup.html", errors=flatten_errors(exc.messages), email=request.form.get("email", "")
        ), 422
    try:
        account = services.accounts().sign_up(data["email"], data["password"])
    except EmailTaken:
        return render_template(
            "signup.html",
            errors=["That email cannot be used to sign up. If it is yours, sign in instead."],
            email=data["email"],
        ), 409
    _start_session(account)
    flash("Welcome to Sayso. Nothing is shared until you say so.")
    return redirect(url_for("web.disclosures"))


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(_login_limit, methods=["POST"])
def login():
    """Sign in; one message for every kind of failure."""
    # Imported here: the oauth package imports the web package's forms.
    from sayso.oauth.views import sign_in_headers

    if request.method == "GET":
        next_url = request.args.get("next", "")
        page = render_template("login.html", errors=[], email="", next=next_url)
        return page, 200, sign_in_headers(next_url)
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
        next_url = request.form.get("next", "")
        page = render_template(
            "login.html",
            errors=[BAD_CREDENTIALS],
            email=request.form.get("email", ""),
            next=next_url,
        )
        return page, 401, sign_in_headers(next_url)
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
