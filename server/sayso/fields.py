"""The registry of disclosure fields.

A field is what a consumer may volunteer and a brand may be granted: its name, the
OAuth scope that reads it (``<field>:read``), a marshmallow schema for its value and
a description people read on consent pages. Adding a field is one entry in ``FIELDS``.
"""

from __future__ import annotations

import re
import unicodedata
import zoneinfo
from dataclasses import dataclass
from datetime import timedelta

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from sayso.taxonomy import is_topic

#: The expiries a consumer may pick on the consent page.
EXPIRY_CHOICES: dict[str, timedelta | None] = {
    "30d": timedelta(days=30),
    "1y": timedelta(days=365),
    "never": None,
}

#: The format name of a consumer's data export (``GET /api/v1/me/export``).
DATA_EXPORT_FORMAT = "sayso-data-export/v1"

CHANNELS = ("email", "sms", "push", "post", "phone", "in_app")
#: Each channel as people call it (never show the ids above on a page).
CHANNEL_LABELS = {
    "email": "Email",
    "sms": "Text message (SMS)",
    "push": "Push notification",
    "post": "Post",
    "phone": "Phone call",
    "in_app": "In the brand's app",
}
_HHMM = re.compile(r"^(?:[01]\d|2[0-3]):[0-5]\d$")


class StrictInteger(fields.Integer):
    """An integer that refuses strings, floats and booleans instead of coercing them."""

    def _validated(self, value):
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.make_error("invalid")
        return super()._validated(value)


class StrictFloat(fields.Float):
    """A finite number given as a JSON number, never as a string or boolean."""

    def __init__(self, **kwargs):
        super().__init__(allow_nan=False, **kwargs)

    def _validated(self, value):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.make_error("invalid")
        return super()._validated(value)


def _topic(value: int) -> None:
    if not is_topic(value):
        raise ValidationError("Not a topic of the Topics taxonomy v2.")


def unicode_text(value: str) -> None:
    """Refuse a string with a lone surrogate (JSON's ``"\\ud800"``): it cannot be encoded as
    UTF-8, so it could be neither stored nor hashed."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValidationError("Not valid Unicode text.") from None


def plain_text(value: str) -> None:
    """Refuse text a person will read (names, purposes, questions and their reasons,
    answers, interests) if it holds a character they cannot see: a control character, or
    an invisible one (Unicode's format characters, category Cf: the direction overrides,
    embeddings and isolates U+202A-U+202E and U+2066-U+2069, the marks U+200E, U+200F and
    U+061C, the zero-width characters U+200B-U+200D, U+2060 and U+FEFF, the soft hyphen,
    tags...), a line or paragraph separator, or a Hangul filler (a blank letter). A brand
    could use them to make a consent page read other than what it registered, e.g. a
    right-to-left override that reverses the end of a purpose. The message names the
    character and its position (from 1)."""
    unicode_text(value)
    for position, char in enumerate(value, start=1):
        hidden = _hidden(char)
        if hidden:
            raise ValidationError(f"Contains {hidden} (U+{ord(char):04X}) at position {position}.")


# Letters that draw nothing, used to make blank or look-alike names.
_HANGUL_FILLERS = {"\u115f", "\u1160", "\u3164", "\uffa0"}


def _hidden(char: str) -> str | None:
    """What ``char`` is, said for a person, if it is one they cannot see; else None."""
    code = ord(char)
    if code < 32 or 0x7F <= code < 0xA0:
        return "a control character"
    category = unicodedata.category(char)
    if category == "Cf" or char in _HANGUL_FILLERS:
        name = unicodedata.name(char, "format character").lower()
        return f"an invisible {name}"
    if category in ("Zl", "Zp"):
        return f"a {unicodedata.name(char).lower()}"
    return None


def _time_zone(value: str) -> None:
    try:
        zoneinfo.ZoneInfo(value)
    # OSError: a name that is a folder of the tz database ("Europe") fails to open as a
    # file instead of being reported as not found.
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        raise ValidationError("Not a known IANA time zone, e.g. Europe/Paris.") from None


def _unique(key):
    def check(items: list) -> None:
        seen = [key(item) for item in items]
        if len(seen) != len(set(seen)):
            raise ValidationError("Entries must not repeat.")

    return check


class InterestSchema(Schema):
    """One interest: a taxonomy topic id, or free text of at most 64 characters."""

    topic_id = StrictInteger(validate=_topic)
    text = fields.String(validate=[validate.Length(min=1, max=64), plain_text])

    @validates_schema
    def _exactly_one(self, data, **kwargs):
        if ("topic_id" in data) == ("text" in data):
            raise ValidationError("Give exactly one of topic_id or text.")
        if "text" in data and not data["text"].strip():
            raise ValidationError("Text must not be blank.", "text")


class BrowsingCategorySchema(Schema):
    """One browsing category: a taxonomy topic id with a weight in [0, 1]."""

    topic_id = StrictInteger(required=True, validate=_topic)
    weight = StrictFloat(required=True, validate=validate.Range(min=0, max=1))


class QuietHoursSchema(Schema):
    """A daily window, in the consumer's time zone, when they want no contact."""

    start = fields.String(required=True, validate=validate.Regexp(_HHMM, error="Use HH:MM."))
    end = fields.String(required=True, validate=validate.Regexp(_HHMM, error="Use HH:MM."))
    tz = fields.String(required=True, validate=[validate.Length(max=64), _time_zone])

    @validates_schema
    def _not_empty(self, data, **kwargs):
        if data.get("start") is not None and data.get("start") == data.get("end"):
            raise ValidationError("Start and end must differ.", "end")


class ChannelSchema(Schema):
    """A channel the consumer accepts, how often at most, and when not to."""

    channel = fields.String(required=True, validate=validate.OneOf(CHANNELS))
    max_per_week = StrictInteger(required=True, validate=validate.Range(min=0, max=50))
    quiet_hours = fields.Nested(QuietHoursSchema, allow_none=True)


@dataclass(frozen=True)
class DisclosureField:
    """One entry of the registry."""

    name: str
    label: str
    description: str
    item_schema: type[Schema]
    max_items: int
    unique_key: object  # item -> hashable, for "no repeats"

    @property
    def scope(self) -> str:
        return f"{self.name}:read"

    def value_field(self) -> fields.Field:
        """The marshmallow field that validates this disclosure's whole value."""
        return fields.List(
            fields.Nested(self.item_schema),
            required=True,
            validate=[
                validate.Length(max=self.max_items, error=f"At most {self.max_items} entries."),
                _unique(self.unique_key),
            ],
        )


FIELDS: dict[str, DisclosureField] = {
    f.name: f
    for f in (
        DisclosureField(
            name="interests",
            label="Interests",
            description="Topics you are interested in, from the taxonomy or in your own words.",
            item_schema=InterestSchema,
            max_items=50,
            unique_key=lambda i: (i.get("topic_id"), (i.get("text") or "").strip().casefold()),
        ),
        DisclosureField(
            name="browsing_categories",
            label="Browsing categories",
            description="Categories of the sites you visit, weighted by how much you visit them.",
            item_schema=BrowsingCategorySchema,
            max_items=20,
            unique_key=lambda i: i["topic_id"],
        ),
        DisclosureField(
            name="channels",
            label="Channels",
            description="How you want to hear from brands, how often at most, and when not to.",
            item_schema=ChannelSchema,
            max_items=6,
            unique_key=lambda i: i["channel"],
        ),
    )
}


#: The scope of a first-party client (the browser extension) that acts for the consumer on
#: their own consent: list, grant and revoke grants, read and change disclosures. It reads
#: no brand's view of anything, so it is not a field scope and not in :func:`scopes`.
MANAGE_SCOPE = "consent:manage"


@dataclass(frozen=True)
class Permission:
    """A scope that lets a brand do something rather than read a field, granted like one.

    Its grants are stored under ``name`` (as a field's are under the field's name), so
    the consent page, the Brands page and revocation treat both alike.
    """

    name: str
    scope: str
    label: str
    description: str


PERMISSIONS: dict[str, Permission] = {
    p.name: p
    for p in (
        Permission(
            name="contacts",
            scope="contacts:write",
            label="Contact reports",
            description="Report each message it sends you, so Sayso can check it against "
            "your channel preferences and show you how often it contacts you.",
        ),
        Permission(
            name="answers",
            scope="answers:read",
            label="Your answers",
            description="Your answers to this brand's own questions (never to anyone "
            "else's), if you choose to answer them.",
        ),
    )
}
assert not set(PERMISSIONS) & set(FIELDS), "a permission must not share a field's name"


def scopes() -> list[str]:
    """Every scope a brand may ask for: each field's read scope, then each permission's."""
    return [f.scope for f in FIELDS.values()] + [p.scope for p in PERMISSIONS.values()]


def grantable(name: str) -> DisclosureField | Permission | None:
    """The field or permission a grant is stored under ``name``."""
    return FIELDS.get(name) or PERMISSIONS.get(name)


def grant_name_of(scope: str) -> str | None:
    """The name grants of ``scope`` are stored under (a field's or a permission's)."""
    name, _, action = scope.partition(":")
    if action == "read" and name in FIELDS:
        return name
    return next((p.name for p in PERMISSIONS.values() if p.scope == scope), None)


def label_of(name: str) -> str:
    """What people call a field, permission or channel ``name`` (the name itself, tidied,
    for one this registry does not know, e.g. a field since removed)."""
    known = grantable(name)
    if known is not None:
        return known.label
    if name in CHANNEL_LABELS:
        return CHANNEL_LABELS[name]
    return name.replace("_", " ").capitalize()


def channel_label(channel: str) -> str:
    """What people call a channel ("in_app" is "In the brand's app")."""
    return CHANNEL_LABELS.get(channel, channel.replace("_", " ").capitalize())


def scope_of(name: str) -> str:
    """The scope of a field or permission name."""
    return grantable(name).scope
