"""Viewing and editing disclosures on plain pages.

Interests have a topic browser (browse the taxonomy by category, search it in everyday
words, add and remove one at a time); every page works as plain links and forms, and
``static/interests.js`` / ``static/channels.js`` make them quicker where script runs.
"""

from flask import abort, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from marshmallow import ValidationError

from sayso import services, time_zones
from sayso.auth import consumer_required
from sayso.fields import CHANNELS, FIELDS, channel_label
from sayso.schemas.disclosures import value_schema
from sayso.schemas.interests import BrowseSchema, ChannelsPageSchema, InterestChoiceSchema
from sayso.services import topics as catalogue
from sayso.services.interests import InterestEditor
from sayso.shared.forms import FormError, flatten_errors
from sayso.taxonomy import topics
from sayso.web.about import about_summary
from sayso.web.blueprint import bp
from sayso.web.forms import (
    browsing_categories_from,
    channel_problems,
    channels_from,
    interests_from,
    topic_option,
)

_FROM_FORM = {
    "interests": interests_from,
    "browsing_categories": browsing_categories_from,
}


@bp.app_template_global()
def channel_summary(item: dict) -> str:
    """A channel preference in words: "Email: at most 2 a week, never between 21:00 and
    08:00 (Paris time)"; a cap of 0 is "never on this channel"."""
    label = _(channel_label(item["channel"]))
    cap = item.get("max_per_week")
    if cap == 0:
        return _("%(channel)s: never on this channel", channel=label)
    text = _("%(channel)s: at most %(cap)s a week", channel=label, cap=cap)
    quiet = item.get("quiet_hours")
    if quiet:
        hours = {"start": quiet["start"], "end": quiet["end"]}
        if quiet.get("tz"):
            city = time_zones.city_of(quiet["tz"])
            text += _(", never between %(start)s and %(end)s (%(city)s time)", city=city, **hours)
        else:
            text += _(", never between %(start)s and %(end)s", **hours)
    return text


@bp.get("/disclosures")
@consumer_required
def disclosures():
    """Everything the consumer has volunteered, field by field ("About me" and "What I
    want to hear about" in two cards of their own)."""
    values = services.disclosures().read(current_user)
    names = {b.brand.public_id: b.brand.name for b in services.consent().overview(current_user)}
    return render_template(
        "disclosures.html",
        fields=[f for f in FIELDS.values() if f.page is None],
        values=values,
        about=about_summary(values, names),
        topics=topics(),
        topic_category=catalogue.category_of,
    )


def _render_edit(name: str, value, errors, status: int = 200):
    return render_template(
        f"edit_{name}.html",
        field=FIELDS[name],
        value=value,
        errors=errors,
        topics=topics(),
        topic_option=topic_option,
    ), status


@bp.route("/disclosures/<name>", methods=["GET", "POST"])
@consumer_required
def edit_disclosure(name: str):
    """Edit one field; an empty form deletes it."""
    if name not in FIELDS:
        abort(404)
    if FIELDS[name].page == "about":
        return redirect(url_for("web.about_me") + f"#{name.replace('_', '-')}")
    if name == "channels":
        return _channels()
    if request.method == "GET":
        if name == "interests":
            return _interests_page(_where(request.args))
        return _render_edit(name, services.disclosures().read(current_user).get(name, []), [])
    submitted = _FROM_FORM[name](request.form)
    try:
        value = value_schema(name).load({"value": submitted})["value"]
    except ValidationError as exc:
        if name == "interests":
            return _interests_page({}, errors=flatten_errors(exc.messages), status=422)
        return _render_edit(name, submitted, flatten_errors(exc.messages), 422)
    services.disclosures().update(current_user, {name: value or None})
    flash(_("%(field)s saved.", field=_(FIELDS[name].label)))
    return redirect(url_for("web.disclosures"))


# The topic browser --------------------------------------------------------------------


def _where(args) -> dict:
    """The category opened and the search typed; an unreadable one is dropped."""
    try:
        return BrowseSchema().load({k: args[k] for k in ("category", "q") if k in args})
    except ValidationError as exc:
        return {"category": None, "q": "", **exc.valid_data}


def _wants_json() -> bool:
    # interests.js asks for JSON; a browser without script asks for HTML.
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return best == "application/json"


def _interests_page(where: dict, errors=(), status: int = 200, typed: str = "", message=""):
    """The topic browser at ``where``; as JSON ({html, message}) for interests.js."""
    editor = InterestEditor(services.disclosures())
    chosen = editor.chosen(current_user)
    category = where.get("category")
    query = (where.get("q") or "").strip()
    context = dict(
        field=FIELDS["interests"],
        errors=list(errors),
        chosen=chosen,
        chosen_ids={c.topic_id for c in chosen if c.topic_id is not None},
        suggestions=[topics()[i] for i in editor.suggestions(current_user)],
        category=topics().get(category),
        trail=catalogue.ancestors(category) if category else [],
        listed=catalogue.children_of(category),
        query=query,
        results=catalogue.search(query) if query else [],
        typed=typed,
        has_children=catalogue.has_children,
        category_of=catalogue.category_of,
        message=message,
    )
    if _wants_json():
        html = render_template("_interest_browser.html", **context)
        return jsonify(html=html, message=message, errors=[str(e) for e in errors]), status
    return render_template("edit_interests.html", **context), status


def _change_interest(add: bool):
    # Where the browser was (to come back to it): a stale value is dropped, not refused.
    where = _where(request.form)
    form = {k: v for k, v in request.form.items() if k in ("topic", "text")}
    try:
        choice = InterestChoiceSchema().load(form)
    except ValidationError as exc:
        errors = flatten_errors(exc.messages)
        return _interests_page(where, errors, 422, typed=request.form.get("text", ""))
    if "topic" in choice:
        item, name = {"topic_id": choice["topic"]}, topics()[choice["topic"]].name
    else:
        item, name = {"text": " ".join(choice["text"].split())}, " ".join(choice["text"].split())
    editor = InterestEditor(services.disclosures())
    try:
        changed = editor.add(current_user, item) if add else editor.remove(current_user, item)
    except ValidationError as exc:
        errors = [FormError(e.split(": ", 1)[-1], ("text",)) for e in flatten_errors(exc.messages)]
        return _interests_page(where, errors, 422, typed=request.form.get("text", ""))
    if add:
        message = (
            _("Added %(topic)s.", topic=name)
            if changed
            else _("%(topic)s is already one of your interests.", topic=name)
        )
    else:
        message = (
            _("Removed %(topic)s.", topic=name)
            if changed
            else _("%(topic)s was not one of your interests.", topic=name)
        )
    if _wants_json():
        return _interests_page(where, message=message)
    flash(message)
    query = {k: v for k, v in where.items() if v}
    return redirect(url_for("web.edit_disclosure", name="interests", **query) + "#chosen", 303)


@bp.post("/disclosures/interests/add")
@consumer_required
def add_interest():
    """Add one topic (``topic``) or a few words (``text``) to the consumer's interests."""
    return _change_interest(add=True)


@bp.post("/disclosures/interests/remove")
@consumer_required
def remove_interest():
    """Remove one topic or one free-text interest."""
    return _change_interest(add=False)


# Channels ---------------------------------------------------------------------------


def _channels_page(value: list, time_zone: str | None, errors=(), status: int = 200):
    return render_template(
        "edit_channels.html",
        field=FIELDS["channels"],
        value=value,
        errors=list(errors),
        channels=CHANNELS,
        channel_label=channel_label,
        by_channel={item["channel"]: item for item in value if isinstance(item, dict)},
        time_zone=time_zone or "",
        time_zones=time_zones.choices(),
    ), status


def _channels():
    """The channels editor: one time zone for the consumer, then each channel."""
    if request.method == "GET":
        value = services.disclosures().read(current_user).get("channels", [])
        # Quiet hours saved before the account had a zone (or through the API) keep theirs.
        kept = next((i["quiet_hours"]["tz"] for i in value if i.get("quiet_hours")), None)
        return _channels_page(value, current_user.time_zone or kept)
    typed_zone = request.form.get("time_zone", "")
    try:
        zone = ChannelsPageSchema().load({"time_zone": typed_zone})["time_zone"]
    except ValidationError as exc:
        submitted = channels_from(request.form, CHANNELS, None)
        return _channels_page(submitted, typed_zone, flatten_errors(exc.messages), 422)
    submitted = channels_from(request.form, CHANNELS, zone)
    problems = channel_problems(submitted, channel_label)
    if problems:
        return _channels_page(submitted, typed_zone, problems, 422)
    try:
        value = value_schema("channels").load({"value": submitted})["value"]
    except ValidationError as exc:
        errors = flatten_errors(
            exc.messages, rows=lambda row: channel_label(submitted[row]["channel"])
        )
        return _channels_page(submitted, typed_zone, errors, 422)
    services.accounts().set_time_zone(current_user, zone)
    services.disclosures().update(current_user, {"channels": value or None})
    flash(_("Channels saved."))
    return redirect(url_for("web.disclosures"))
