"""Viewing and editing disclosures on plain pages."""

import zoneinfo

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from marshmallow import ValidationError

from sayso import services
from sayso.auth import consumer_required
from sayso.fields import CHANNELS, FIELDS
from sayso.schemas.disclosures import value_schema
from sayso.taxonomy import topics
from sayso.web import bp
from sayso.web.forms import (
    browsing_categories_from,
    channels_from,
    flatten_errors,
    interests_from,
    topic_option,
)

_FROM_FORM = {
    "interests": interests_from,
    "browsing_categories": browsing_categories_from,
    "channels": lambda form: channels_from(form, CHANNELS),
}


@bp.get("/disclosures")
@consumer_required
def disclosures():
    """Everything the consumer has volunteered, field by field."""
    return render_template(
        "disclosures.html",
        fields=FIELDS.values(),
        values=services.disclosures().read(current_user),
        topics=topics(),
    )


def _render_edit(name: str, value, errors, status: int = 200):
    return render_template(
        f"edit_{name}.html",
        field=FIELDS[name],
        value=value,
        errors=errors,
        topics=topics(),
        topic_option=topic_option,
        channels=CHANNELS,
        by_channel={item["channel"]: item for item in value if isinstance(item, dict)}
        if name == "channels"
        else {},
        time_zones=sorted(zoneinfo.available_timezones()),
    ), status


@bp.route("/disclosures/<name>", methods=["GET", "POST"])
@consumer_required
def edit_disclosure(name: str):
    """Edit one field; an empty form deletes it."""
    if name not in FIELDS:
        abort(404)
    if request.method == "GET":
        return _render_edit(name, services.disclosures().read(current_user).get(name, []), [])
    submitted = _FROM_FORM[name](request.form)
    try:
        value = value_schema(name).load({"value": submitted})["value"]
    except ValidationError as exc:
        return _render_edit(name, submitted, flatten_errors(exc.messages), 422)
    services.disclosures().update(current_user, {name: value or None})
    flash(f"{FIELDS[name].label} saved.")
    return redirect(url_for("web.disclosures"))
