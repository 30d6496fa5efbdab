"""The registry of disclosure fields.

A field is what a consumer may volunteer and a brand may be granted: its name, the
OAuth scope that reads it (``<field>:read``), a marshmallow schema for its value and
a description people read on consent pages. Adding a field is one entry in ``FIELDS``.
"""

from __future__ import annotations

import re
import zoneinfo
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from sayso import about_fields as about
from sayso.shared.text import not_blank, plain_text, unicode_text  # noqa: F401  (re-exported)
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
    """An integer that refuses strings, fractions and booleans instead of coercing them.

    A JSON number with a zero fraction (``5.0``) is the integer 5, as JSON Schema counts
    it (and so the OpenAPI document's ``integer``)."""

    def _validated(self, value):
        if isinstance(value, float) and value.is_integer():
            value = int(value)
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

    # What JSON Schema can say of it (sayso/api/json_schema.py): equal entries repeat.
    check.json_schema = {"uniqueItems": True}
    return check


class InterestSchema(Schema):
    """One interest: a taxonomy topic id, or free text of at most 64 characters."""

    #: Exactly one of these is given (the OpenAPI document says so with ``oneOf``).
    exactly_one_of = ("topic_id", "text")

    topic_id = StrictInteger(validate=_topic)
    text = fields.String(validate=[validate.Length(min=1, max=64), plain_text, not_blank])

    @validates_schema
    def _exactly_one(self, data, **kwargs):
        if sum(key in data for key in self.exactly_one_of) != 1:
            raise ValidationError("Give exactly one of topic_id or text.")


class BrowsingCategorySchema(Schema):
    """One browsing category: a taxonomy topic id with a weight in [0, 1]."""

    topic_id = StrictInteger(required=True, validate=_topic)
    weight = StrictFloat(required=True, validate=validate.Range(min=0, max=1))


class QuietHoursSchema(Schema):
    """A daily window, in the consumer's time zone, when they want no contact."""

    start = fields.String(required=True, validate=validate.Regexp(_HHMM, error="Use HH:MM."))
    end = fields.String(
        required=True,
        validate=validate.Regexp(_HHMM, error="Use HH:MM."),
        metadata={"description": "Not the same as `start`."},
    )
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
    #: A list field: each item's schema, how many at most, and what may not repeat.
    item_schema: type[Schema] | None = None
    max_items: int | None = None
    unique_key: object = None  # item -> hashable, for "no repeats"
    #: Any other field (one choice, one object, a list of codes): builds the marshmallow
    #: field of its whole value, instead of a list of ``item_schema``.
    make_value: Callable[[], fields.Field] | None = None
    #: What one brand reads of a value (by the brand's public id); else the value itself.
    brand_view: Callable[[object, str], object] | None = None
    #: With ``brand_view``: builds the marshmallow field of what a brand reads.
    make_brand_value: Callable[[], fields.Field] | None = None
    #: The consumer's page the field is edited on with others ("about"), if not its own.
    page: str | None = None

    @property
    def scope(self) -> str:
        return f"{self.name}:read"

    def value_field(self) -> fields.Field:
        """The marshmallow field that validates this disclosure's whole value."""
        if self.make_value is not None:
            value = self.make_value()
            value.required = True
            return value
        return fields.List(
            fields.Nested(self.item_schema),
            required=True,
            validate=[
                validate.Length(max=self.max_items, error=f"At most {self.max_items} entries."),
                _unique(self.unique_key),
            ],
        )

    def brand_value_field(self) -> fields.Field:
        """The marshmallow field of what a brand reads (``/api/v1/profile``)."""
        if self.make_brand_value is not None:
            return self.make_brand_value()
        return self.value_field()

    def value_schema(self) -> type[Schema]:
        """The schema of ``{"value": ...}``, the body that sets this field alone."""
        camel = "".join(part.title() for part in self.name.split("_"))
        return Schema.from_dict({"value": self.value_field()}, name=f"{camel}ValueSchema")

    def for_brand(self, value, brand_public_id: str):
        """What a brand reads of ``value`` (another brand's choices left out)."""
        if self.brand_view is None or value is None:
            return value
        return self.brand_view(value, brand_public_id)


#: "About me" (coarse, each granted on its own) and "What I want to hear about": one page
#: edits them all (``web/about.py``); their values are in ``about_fields.py``.
ABOUT_FIELDS = (
    DisclosureField(
        name="age_band",
        label="Age band",
        description="Your age as a band of about ten years (such as 25\u201334), never your age "
        "or your birthday.",
        make_value=about.age_band_value,
        page="about",
    ),
    DisclosureField(
        name="location",
        label="Country and region",
        description="The country you live in and, if you like, its region (such as a state "
        "or Île-de-France), never a town or an address.",
        make_value=about.location_value,
        page="about",
    ),
    DisclosureField(
        name="languages",
        label="Languages",
        description="The languages you are happy to read messages in.",
        max_items=about.MAX_LANGUAGES,
        make_value=about.languages_value,
        page="about",
    ),
    DisclosureField(
        name="life_stage",
        label="Life stage",
        description="Where you are in life, as many as apply: student, working, retired, "
        "parent of young children…",
        max_items=len(about.LIFE_STAGES),
        make_value=about.life_stage_value,
        page="about",
    ),
    DisclosureField(
        name="household_size",
        label="Household size",
        description="How many people live in your home, as a band: 1, 2, 3\u20134, or 5 or more.",
        make_value=about.household_size_value,
        page="about",
    ),
    DisclosureField(
        name="hear_about",
        label="What you want to hear about",
        description="The kinds of message worth sending you: new releases of the authors, "
        "artists or products you name, offers, events near you, service news… A brand you "
        "made a choice for reads that choice instead, and never another brand's.",
        make_value=about.hear_about_value,
        brand_view=about.hear_about_for_brand,
        make_brand_value=about.hear_about_brand_value,
        page="about",
    ),
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
        *ABOUT_FIELDS,
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
