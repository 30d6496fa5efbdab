"""The consumer's "My data" page: download everything, or erase the account."""

from flask import current_app, render_template, request, session
from flask_babel import gettext as _
from flask_login import current_user, logout_user
from marshmallow import EXCLUDE, ValidationError

from sayso import services
from sayso.api.rights import data_export_response
from sayso.auth import consumer_required
from sayso.extensions import limiter
from sayso.fields import label_of
from sayso.schemas.rights import AccessHistoryQuerySchema, EraseFormSchema
from sayso.services.accounts import WrongPassword
from sayso.shared.forms import FormError, flatten_errors
from sayso.web.blueprint import bp


def _erase_limit() -> str:
    # The password is checked here too, so guessing it is limited as on the sign-in page.
    return current_app.config["LOGIN_RATE_LIMIT"]


def _page(errors, status: int = 200):
    return render_template("my_data.html", errors=errors), status


@bp.get("/account/data")
@consumer_required
def my_data():
    """Download everything Sayso holds about you, or erase your account."""
    return _page([])


@bp.get("/account/access")
@consumer_required
def access_history():
    """Who read what, and when: every brand's reads, grouped by day, brand and field."""
    query = AccessHistoryQuerySchema(only=("before",), unknown=EXCLUDE).load(request.args)
    summary = services.access_history().summary(current_user, None, query.get("before"))
    return render_template("access_history.html", brand=None, summary=summary)


@bp.post("/account/data/export")
@consumer_required
def download_my_data():
    """One JSON file: disclosures, grants, receipts, access history and the account."""
    return data_export_response(current_user)


@bp.post("/account/erase")
@limiter.limit(_erase_limit)
@consumer_required
def erase_account():
    """Erase the account, confirmed by password and a ticked box; then sign out."""
    try:
        data = EraseFormSchema().load(
            {
                "password": request.form.get("password", ""),
                "confirm": request.form.get("confirm") or False,
            }
        )
    except ValidationError as exc:
        return _page(flatten_errors(exc.messages), 422)
    try:
        erasure = services.erasure().erase(current_user, data["password"])
    except WrongPassword:
        return _page(
            [FormError(_("The password is not right. Nothing was erased."), ("password",))], 403
        )
    logout_user()
    session.clear()
    return render_template("erased.html", erasure=erasure, label_of=label_of)
