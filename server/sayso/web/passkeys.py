"""Passkeys: the account security page, registering and removing passkeys, signing in with
one alone or after the password. The browser side is static/passkeys.js."""

from __future__ import annotations

import time

from flask import flash, jsonify, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from marshmallow import ValidationError

from sayso import services
from sayso.auth import AUTHENTICATED_AT, home_for, safe_next
from sayso.errors import error_response
from sayso.extensions import db, limiter
from sayso.i18n import N_
from sayso.models import Account
from sayso.schemas.passkeys import (
    CeremonySchema,
    CredentialSchema,
    NewPasskeySchema,
    SecondFactorSchema,
)
from sayso.services.passkeys import PasskeyRefused
from sayso.web.accounts import SECOND_FACTOR, _login_limit, sign_in_limit, start_session
from sayso.web.blueprint import bp

#: The Flask session key of the challenge this browser was last given.
CHALLENGE = "passkey_challenge"
#: Removing a passkey needs a sign-in (or a confirmation) this recent.
RECENT_SECONDS = 300

NOT_A_PASSKEY = N_(
    "That passkey was not accepted. Try again, or use your password; if it keeps "
    "happening, the passkey may have been removed from your account."
)


def _body(schema):
    """The request's JSON body loaded by ``schema``, or a 422 answer."""
    try:
        return schema.load(request.get_json(silent=True) or {}), None
    except ValidationError as exc:
        return None, error_response(422, _("Check what was sent."), fields=exc.messages)


def _pending_second_factor() -> Account | None:
    """The account whose password was right and whose passkey is now asked for."""
    pending = session.get(SECOND_FACTOR)
    if not isinstance(pending, dict) or pending.get("until", 0) < time.time():
        return None
    account = db.session.get(Account, pending.get("account"))
    if account is None or not account.is_active or account.session_epoch != pending["epoch"]:
        return None
    return account


def _ceremony_account(purpose: str):
    """Whose passkey a ceremony checks, ``(account, None)``, or ``(None, refusal)``: nobody
    yet to sign in with a passkey alone; the account whose password was just checked for a
    second factor; the signed-in consumer to confirm it is them."""
    if purpose == "second_factor":
        account = _pending_second_factor()
        if account is None:
            return None, error_response(401, _("Sign in with your password first."))
        return account, None
    if purpose == "confirm":
        if not current_user.is_authenticated:
            return None, error_response(401, _("Sign in first."))
        return current_user._get_current_object(), None
    return None, None


def _recently_authenticated() -> bool:
    return session.get(AUTHENTICATED_AT, 0) >= time.time() - RECENT_SECONDS


def _options(answer: tuple[str, str], purpose: str):
    options, challenge = answer
    session[CHALLENGE] = {"purpose": purpose, "challenge": challenge}
    # Already JSON, as navigator.credentials is to be given it (after decoding base64url).
    return options, 200, {"Content-Type": "application/json"}


def _take_challenge(purpose: str) -> str | None:
    kept = session.pop(CHALLENGE, None)
    if not isinstance(kept, dict) or kept.get("purpose") != purpose:
        return None
    return kept.get("challenge")


@bp.get("/account/security")
@login_required
def security():
    """Passkeys and the second-factor setting, with a link to the sessions page."""
    passkeys = services.passkey_service()
    return render_template(
        "security.html",
        passkeys=passkeys.of(current_user),
        second_factor=passkeys.wants_second_factor(current_user),
        errors=[],
    )


@bp.post("/account/passkeys/options")
@login_required
def passkey_registration_options():
    """Options to create a passkey for the signed-in account."""
    email = services.accounts().email_of(current_user)
    answer = services.passkey_service().registration_options(current_user, email)
    return _options(answer, "register")


@bp.post("/account/passkeys")
@login_required
def add_passkey():
    """Keep the passkey the browser just created (JSON in, JSON out)."""
    data, refused = _body(NewPasskeySchema())
    if refused:
        return refused
    try:
        services.passkey_service().register(
            current_user, data["credential"], _take_challenge("register"), data["name"]
        )
    except PasskeyRefused:
        return error_response(400, _("That passkey could not be added. Try again."))
    flash(_("Passkey “%(name)s” added.", name=data["name"]))
    return jsonify(redirect=url_for("web.security")), 201


@bp.post("/account/passkeys/second-factor")
@login_required
def passkey_second_factor():
    """Turn on or off "ask for my passkey after my password"."""
    data = SecondFactorSchema().load({"second_factor": request.form.get("second_factor", "")})
    on = services.passkey_service().set_second_factor(current_user, data["second_factor"])
    if on:
        flash(_("From now on, we ask for your passkey after your password."))
    elif data["second_factor"]:
        flash(_("Add a passkey first; then we can ask for it after your password."))
    else:
        flash(_("We no longer ask for a passkey after your password."))
    return redirect(url_for("web.security"))


@bp.post("/account/passkeys/<int:passkey_id>/remove")
@login_required
@limiter.limit(_login_limit, methods=["POST"])  # a password may be checked here
def remove_passkey(passkey_id: int):
    """Remove a passkey, after a sign-in or confirmation in the last few minutes, or with
    the password given here."""
    password = request.form.get("password", "")
    if not _recently_authenticated():
        if not password or not services.accounts().confirm_password(current_user, password):
            passkeys = services.passkey_service()
            errors = [
                _(
                    "To remove a passkey, confirm it is you: enter your password, "
                    "or confirm with one of your passkeys."
                )
            ]
            page = render_template(
                "security.html",
                passkeys=passkeys.of(current_user),
                second_factor=passkeys.wants_second_factor(current_user),
                errors=errors,
                confirm_for=passkey_id,
            )
            return page, 403
        session[AUTHENTICATED_AT] = int(time.time())
    if services.passkey_service().remove(current_user, passkey_id):
        flash(_("Passkey removed. Remove it from your device too if you no longer need it."))
    else:
        flash(_("That passkey was already removed."))
    return redirect(url_for("web.security"))


@bp.get("/login/passkey")
def passkey_step():
    """The second step of a sign-in: the password was right, now the passkey."""
    if _pending_second_factor() is None:
        flash(_("Sign in again: the step for your passkey had ended."))
        return redirect(url_for("web.login"))
    return render_template("passkey_step.html")


@bp.post("/login/passkey/options")
@limiter.limit(_login_limit, methods=["POST"])
def passkey_options():
    """Options to sign in with a passkey alone, as the second step, or to confirm it is
    you (a signed-in consumer, before removing a passkey)."""
    data, refused = _body(CeremonySchema())
    if refused:
        return refused
    purpose = data["purpose"]
    account, refused = _ceremony_account(purpose)
    if refused:
        return refused
    return _options(services.passkey_service().authentication_options(purpose, account), purpose)


@bp.post("/login/passkey")
@sign_in_limit
def passkey_sign_in():
    """Check the browser's passkey answer: sign in (alone, or after the password), or note
    the confirmation. JSON ``{"redirect": ...}``, where the page goes next."""
    data, refused = _body(CredentialSchema())
    if refused:
        return refused
    purpose = data["purpose"]
    pending = session.get(SECOND_FACTOR) if purpose == "second_factor" else None
    account, refused = _ceremony_account(purpose)
    if refused:
        return refused
    try:
        owner = services.passkey_service().authenticate(
            data["credential"], _take_challenge(purpose), purpose, account
        )
    except PasskeyRefused:
        if purpose != "confirm":
            services.passkey_service().record_refused(account)
        return error_response(401, _(NOT_A_PASSKEY))
    if purpose == "confirm":
        session[AUTHENTICATED_AT] = int(time.time())
        return jsonify(redirect=url_for("web.security"))
    next_url = pending.get("next") if pending else data["next"]
    start_session(owner, "password+passkey" if pending else "passkey")
    return jsonify(redirect=safe_next(next_url, home_for(owner)))
