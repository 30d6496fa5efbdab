"""The language picker: remembered on the account when signed in, in a cookie otherwise."""

from __future__ import annotations

from urllib.parse import urlencode

from flask import redirect, request
from flask_login import current_user
from marshmallow import EXCLUDE, Schema, ValidationError, fields, validate

from sayso.auth import safe_next
from sayso.extensions import db
from sayso.i18n import COOKIE, COOKIE_MAX_AGE, LANGUAGES
from sayso.web.blueprint import bp


class LanguageChoiceSchema(Schema):
    """The picker's form: one of the languages Sayso speaks, and the page to go back to."""

    class Meta:
        unknown = EXCLUDE  # csrf_token

    language = fields.String(required=True, validate=validate.OneOf(tuple(LANGUAGES)))
    next = fields.String(load_default=None, validate=validate.Length(max=2048))


@bp.app_template_global()
def this_page() -> str:
    """Where the picker comes back to: this page (a GET's path and query), less a ``next``
    that ``safe_next`` would refuse anyway (never echo an off-site address)."""
    if request.method != "GET":
        return ""
    args = [
        (key, value)
        for key, value in request.args.items(multi=True)
        if key != "next" or safe_next(value, None)
    ]
    return request.path + ("?" + urlencode(args) if args else "")


@bp.post("/language")
def choose_language():
    """Show every page in the chosen language from now on, then go back to the page."""
    try:
        data = LanguageChoiceSchema().load(request.form.to_dict())
    except ValidationError:
        return redirect(safe_next(request.form.get("next"), "/") or "/")
    response = redirect(safe_next(data["next"], "/") or "/")
    if current_user.is_authenticated:
        current_user.language = data["language"]
        db.session.commit()
    response.set_cookie(
        COOKIE,
        data["language"],
        max_age=COOKIE_MAX_AGE,
        secure=request.is_secure,
        httponly=True,
        samesite="Lax",
    )
    return response
