"""Pages reached from emailed links: confirming an address, "Forgot password?" and choosing
a new password (services/account_links.py)."""

from flask import flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, logout_user
from marshmallow import ValidationError

from sayso import services
from sayso.auth import consumer_required, home_for, safe_next
from sayso.extensions import limiter
from sayso.schemas.accounts import (
    ForgotPasswordSchema,
    PasswordPresentedSchema,
    PasswordResetSchema,
)
from sayso.services.account_links import RESET_LIFETIME, LinkNotValid
from sayso.services.accounts import SamePassword
from sayso.shared.forms import FormError, flatten_errors
from sayso.web.accounts import (
    BAD_CREDENTIALS,
    NOT_THE_CURRENT_ONE,
    account_page,
    mails_per_address,
    next_of,
    start_session,
)
from sayso.web.blueprint import bp

#: "Forgot password?" requests one client address may make (each may send a message).
RESETS_PER_CLIENT = "20 per hour"
#: New confirmation links one account may ask for.
RESENDS_PER_ACCOUNT = "5 per hour"
MINUTES = int(RESET_LIFETIME.total_seconds() // 60)


def _account_key() -> str:
    return f"account:{current_user.get_id()}"


def _link_not_valid(kind: str):
    return render_template("link_not_valid.html", kind=kind, minutes=MINUTES), 404


@bp.route("/account/confirm/<token>", methods=["GET", "POST"])
@limiter.limit(RESETS_PER_CLIENT, methods=["POST"])
def confirm_address(token: str):
    """Confirm the address an emailed link was sent to, with the account's password; then
    signed in, on to the return address the link carries (a brand's request)."""
    links = services.account_links()
    next_url = next_of(request.values)
    if links.confirmable(token) is None:
        return _link_not_valid("confirm")
    if request.method == "GET":
        return account_page("confirm_address.html", next_url, errors=[])
    try:
        data = PasswordPresentedSchema().load({"password": request.form.get("password", "")})
        account = links.confirm(token, data["password"])
    except ValidationError as exc:
        errors = flatten_errors(exc.messages)
        return account_page("confirm_address.html", next_url, 422, errors=errors)
    except LinkNotValid:
        return _link_not_valid("confirm")
    if account is None:
        errors = [FormError(BAD_CREDENTIALS, ("password",))]
        return account_page("confirm_address.html", next_url, 401, errors=errors)
    start_session(account)
    flash(_("Your email address is confirmed. Nothing is shared until you say so."))
    return redirect(safe_next(next_url, home_for(account)))


@bp.post("/account/confirm/resend")
@consumer_required
@limiter.limit(RESENDS_PER_ACCOUNT, key_func=_account_key)
def resend_confirmation():
    """Email a new confirmation link to the signed-in consumer (the older one stops working)."""
    next_url = next_of(request.form)
    services.account_links().resend_confirmation(current_user._get_current_object(), next_url)
    flash(_("We have emailed you a new link. Any link sent before no longer works."))
    return redirect(safe_next(next_url, url_for("web.disclosures")))


@bp.route("/account/forgot", methods=["GET", "POST"])
@limiter.limit(RESETS_PER_CLIENT, methods=["POST"])
@mails_per_address
def forgot_password():
    """Ask for a password reset link: the same answer whether or not the address has an
    account."""
    if request.method == "GET":
        return render_template("forgot_password.html", errors=[], email="")
    try:
        data = ForgotPasswordSchema().load({"email": request.form.get("email", "")})
    except ValidationError as exc:
        errors = flatten_errors(exc.messages)
        email = request.form.get("email", "")
        return render_template("forgot_password.html", errors=errors, email=email), 422
    services.account_links().request_reset(data["email"])
    return render_template("forgot_password_sent.html", minutes=MINUTES)


@bp.route("/account/reset/<token>", methods=["GET", "POST"])
@limiter.limit(RESETS_PER_CLIENT, methods=["POST"])
def reset_password(token: str):
    """Choose a new password through an emailed link; every session of the account ends."""
    links = services.account_links()
    if links.resettable(token) is None:
        return _link_not_valid("reset")
    if request.method == "GET":
        return render_template("reset_password.html", errors=[])
    try:
        data = PasswordResetSchema().load({"new_password": request.form.get("new_password", "")})
        links.reset(token, data["new_password"])
    except ValidationError as exc:
        return render_template("reset_password.html", errors=flatten_errors(exc.messages)), 422
    except LinkNotValid:
        return _link_not_valid("reset")
    except SamePassword:
        errors = [FormError(NOT_THE_CURRENT_ONE, ("new_password",))]
        return render_template("reset_password.html", errors=errors), 422
    logout_user()
    session.clear()
    flash(_("Your new password is set, and you are signed out everywhere. Sign in with it now."))
    return redirect(url_for("web.login"))
