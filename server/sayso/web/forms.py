"""Turning submitted HTML forms into the documents the marshmallow schemas validate.

The pages post plain forms (no script), so list-shaped values arrive as repeated inputs;
these helpers only reshape them. All validation happens in the same schemas the API uses.
"""

from __future__ import annotations

import re

from markupsafe import Markup

from sayso.taxonomy import topics
from sayso.web import bp

# "239" or "239 · /Arts & Entertainment/…" (the form the topic list offers); not "1984 novel".
_TOPIC_ID = re.compile(r"^\s*(\d{1,6})\s*(?:·.*)?$")


def topic_option(topic_id: int) -> str:
    """How a topic is shown in a text input backed by the topic list."""
    topic = topics()[topic_id]
    return f"{topic.id} · {topic.path}"


def parse_topic(text: str) -> int | None:
    """A topic id from "239 · /Arts & Entertainment/…", a bare id or an exact topic name."""
    match = _TOPIC_ID.match(text)
    if match:
        return int(match.group(1))
    wanted = text.strip().casefold()
    for topic in topics().values():
        if topic.name.casefold() == wanted or topic.path.casefold() == wanted:
            return topic.id
    return None


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


def channels_from(form, channel_names) -> list[dict]:
    """One row per channel; only ticked channels are kept."""
    items = []
    for name in channel_names:
        if not form.get(f"enabled_{name}"):
            continue
        item = {"channel": name, "max_per_week": _number(form.get(f"max_{name}", "").strip())}
        start = form.get(f"quiet_start_{name}", "").strip()
        end = form.get(f"quiet_end_{name}", "").strip()
        if start or end:
            item["quiet_hours"] = {
                "start": start,
                "end": end,
                "tz": form.get(f"tz_{name}", "").strip() or "UTC",
            }
        items.append(item)
    return items


class FormError(str):
    """One error line, and the path of the input it names (``("email",)``, ``(1, "weight")``
    for row 2's weight; empty for the whole form), so the page can tie the two together."""

    field: tuple = ()

    def __new__(cls, text: str, field=()):
        error = super().__new__(cls, text)
        error.field = tuple(field)
        return error


def flatten_errors(messages, prefix: str = "", path: tuple = ()) -> list[str]:
    """Marshmallow's nested error dict as readable lines ("Row 2 / weight: …"), each a
    :class:`FormError` that knows which input it names."""
    lines = []
    if isinstance(messages, dict):
        for key, value in messages.items():
            if isinstance(key, int):
                label = f"Row {key + 1}"
            elif key in ("_schema", "value"):
                label = ""
            else:
                label = key.replace("_", " ")
            joined = " / ".join(p for p in (prefix, label) if p)
            lines.extend(flatten_errors(value, joined, path + ((key,) if label else ())))
    elif isinstance(messages, list):
        for message in messages:
            lines.extend(flatten_errors(message, prefix, path))
    else:
        lines.append(FormError(f"{prefix}: {messages}" if prefix else str(messages), path))
    return lines


@bp.app_template_global()
def invalid(errors, *field) -> Markup:
    """``aria-invalid`` and ``aria-describedby`` for the input at ``field`` when an error of
    the summary (``_errors.html``, items ``error-1``, ``error-2``…) names it; else nothing.
    An error names a row's input when either path starts with the other."""
    ids = [
        f"error-{number}"
        for number, error in enumerate(errors or [], start=1)
        if (path := getattr(error, "field", ()))
        and field
        and path[: len(field)] == field[: len(path)]
    ]
    if not ids:
        return Markup("")
    return Markup(' aria-invalid="true" aria-describedby="{}"').format(" ".join(ids))
