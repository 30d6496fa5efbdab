"""Turning submitted HTML forms into the documents the marshmallow schemas validate.

The pages post plain forms (no script), so list-shaped values arrive as repeated inputs;
these helpers only reshape them. All validation happens in the same schemas the API uses.
"""

from __future__ import annotations

import re
from functools import cache

from markupsafe import Markup

from sayso.services import topics as catalogue
from sayso.shared.forms import FormError
from sayso.taxonomy import topics
from sayso.web.blueprint import bp

# "239" or "239 · /Arts & Entertainment/…" (the form older pages offered); not "1984 novel".
_TOPIC_ID = re.compile(r"^\s*(\d{1,6})\s*(?:·.*)?$")


def topic_option(topic_id: int) -> str:
    """How a topic is shown in a text input backed by the topic list: its name and the
    categories it sits in (``services.topics.label``), never its id."""
    return catalogue.label(topic_id)


@cache
def _by_label() -> dict[str, int]:
    found = {}
    for topic in topics().values():
        for text in (topic.name, topic.path, catalogue.label(topic.id)):
            found[text.casefold()] = topic.id
    return found


def parse_topic(text: str) -> int | None:
    """A topic id from its name, its name with where it sits (the topic list's options),
    its path, a bare id or "239 · /Arts & Entertainment/…"."""
    match = _TOPIC_ID.match(text)
    if match:
        return int(match.group(1))
    return _by_label().get(" ".join(text.split()).casefold())


def interests_from(form) -> list[dict]:
    """Each non-empty ``interest`` input becomes a topic (if it names one) or free text."""
    items = []
    for raw in form.getlist("interest"):
        if not raw.strip():
            continue
        topic_id = parse_topic(raw)
        items.append({"topic_id": topic_id} if topic_id is not None else {"text": raw.strip()})
    return items


def _number(raw: str):
    try:
        return float(raw) if "." in raw or "e" in raw.lower() else int(raw)
    except ValueError:
        return raw  # left as text, so the schema names the problem (4,300 digits and more too)


def browsing_categories_from(form) -> list[dict]:
    """Rows of ``topic`` and ``weight`` inputs; blank rows are skipped."""
    items = []
    for topic_raw, weight_raw in zip(form.getlist("topic"), form.getlist("weight"), strict=False):
        if not topic_raw.strip() and not weight_raw.strip():
            continue
        topic_id = parse_topic(topic_raw)
        weight = _number(weight_raw.strip())
        items.append(
            {
                "topic_id": topic_id if topic_id is not None else topic_raw,
                "weight": weight,  # an int is fine: the schema's Float makes it one, or refuses it
            }
        )
    return items


def channels_from(form, channel_names, time_zone: str | None) -> list[dict]:
    """One row per channel; only ticked channels are kept. Quiet hours are kept in the
    consumer's own ``time_zone`` (the API's shape carries it in each); without one they
    carry none, and the schema refuses them (never a silent UTC)."""
    items = []
    for name in channel_names:
        if not form.get(f"enabled_{name}"):
            continue
        cap = form.get(f"max_{name}", "").strip()
        item = {"channel": name, "max_per_week": _number(cap) if cap else None}
        start = form.get(f"quiet_start_{name}", "").strip()
        end = form.get(f"quiet_end_{name}", "").strip()
        if start or end:
            item["quiet_hours"] = {"start": start or None, "end": end or None, "tz": time_zone}
        items.append(item)
    return items


def channel_problems(value: list[dict], labels) -> list[FormError]:
    """What the schema would say about a ticked channel's missing cap, a quiet-hours window
    with one end, or quiet hours without a time zone, said the way people need to hear it
    (the schema's own words for these are "Field may not be null.")."""
    problems = []
    for row, item in enumerate(value):
        label = labels(item["channel"])
        if item["max_per_week"] is None:
            problems.append(
                FormError(
                    f"{label}: how many messages a week at most? "
                    "Write 0 for never on this channel.",
                    (row, "max_per_week"),
                )
            )
        quiet = item.get("quiet_hours")
        if not quiet:
            continue
        if quiet["end"] is None:
            problems.append(
                FormError(
                    f"{label}: quiet hours start at {quiet['start']} but have no end. "
                    "Add the time they end (e.g. 08:00), or clear both.",
                    (row, "quiet_hours", "end"),
                )
            )
        elif quiet["start"] is None:
            problems.append(
                FormError(
                    f"{label}: quiet hours end at {quiet['end']} but have no start. "
                    "Add the time they start (e.g. 21:00), or clear both.",
                    (row, "quiet_hours", "start"),
                )
            )
    if any(item.get("quiet_hours") and not item["quiet_hours"]["tz"] for item in value):
        problems.append(
            FormError(
                "Quiet hours need your time zone, so they happen at the right time "
                "where you are. Type your city (e.g. Paris) in Your time zone.",
                ("time_zone",),
            )
        )
    return problems


@bp.app_template_global()
def invalid(errors, *field, hint: str = "") -> Markup:
    """``aria-invalid`` and ``aria-describedby`` for the input at ``field`` when an error of
    the summary (``_errors.html``, items ``error-1``, ``error-2``…) names it; else nothing.
    An error names a row's input when either path starts with the other. ``hint``, the id
    of the input's own hint, is described by too (one attribute for both)."""
    ids = [
        f"error-{number}"
        for number, error in enumerate(errors or [], start=1)
        if (path := getattr(error, "field", ()))
        and field
        and path[: len(field)] == field[: len(path)]
    ]
    described = " ".join([hint] * bool(hint) + ids)
    markup = Markup(' aria-invalid="true"') if ids else Markup("")
    if described:
        markup += Markup(' aria-describedby="{}"').format(described)
    return markup
