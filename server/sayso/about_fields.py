"""The values of "About me" and "What I want to hear about": their choices, schemas and words.

"About me" is five coarse fields, each granted on its own: an age band, a country (and
optionally a region of it, never finer), languages, life stage and a household size band.
"What I want to hear about" (``hear_about``) is the kinds of message worth receiving, with
an optional override per brand. ``fields.py`` registers them; this module holds what their
values may be (ISO codes through ``pycountry``) and how each is said in plain words.
"""

from __future__ import annotations

import gettext as stdlib_gettext
import re
from functools import cache

import pycountry
from flask_babel import gettext
from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from sayso.shared.text import not_blank, plain_text

AGE_BANDS = {
    "18-24": "18\u201324",
    "25-34": "25\u201334",
    "35-44": "35\u201344",
    "45-54": "45\u201354",
    "55-64": "55\u201364",
    "65+": "65 or over",
}
HOUSEHOLD_SIZES = {
    "1": "Just me",
    "2": "2 people",
    "3-4": "3\u20134 people",
    "5+": "5 or more people",
}
LIFE_STAGES = {
    "student": "Student",
    "working": "Working",
    "looking_for_work": "Looking for work",
    "retired": "Retired",
    "parent_young_children": "Parent of young children",
    "parent_older_children": "Parent of older children",
    "caring": "Caring for someone",
}
#: The kinds of message a consumer may ask to hear about, and a brand may name in a report.
MESSAGE_KINDS = {
    "new_releases": "New releases",
    "offers": "Offers and discounts",
    "events": "Events near you",
    "recommendations": "Suggestions based on your interests",
    "news": "News and newsletters",
    "service": "Service and account news (orders, bookings, your account)",
}
MAX_LANGUAGES = 5
MAX_NAMES = 20
MAX_BRAND_CHOICES = 20

_COUNTRY = re.compile(r"^[A-Z]{2}$")
_LANGUAGE = re.compile(r"^[a-z]{2}$")
_BRACKETS = re.compile(r"\s*\[.*?\]")


def _one_of(choices: dict, what: str) -> validate.Validator:
    return validate.OneOf(list(choices), error=f"Not one of the {what}: {', '.join(choices)}.")


# Countries, regions and languages -------------------------------------------------------


def country_name(code: str) -> str:
    """A country as people call it ("Bolivia", not "Bolivia, Plurinational State of")."""
    country = pycountry.countries.get(alpha_2=code)
    if country is None:
        return code
    return getattr(country, "common_name", None) or country.name


@cache
def countries() -> tuple[tuple[str, str], ...]:
    """Every ISO 3166-1 country as (code, name), by name."""
    named = ((c.alpha_2, country_name(c.alpha_2)) for c in pycountry.countries)
    return tuple(sorted(named, key=lambda c: c[1].casefold()))


def _page_language() -> str:
    from sayso.i18n import page_language  # lazy: i18n is the web layer's

    return page_language()


@cache
def _subdivision_names(language: str):
    """pycountry's own ISO 3166-2 translations for ``language`` (English if it has none)."""
    return stdlib_gettext.translation(
        "iso3166-2", pycountry.LOCALES_DIR, languages=[language], fallback=True
    )


def _subdivision_name(subdivision, language: str = "en") -> str:
    name = _subdivision_names(language).gettext(subdivision.name) if language != "en" else None
    return _BRACKETS.sub("", name or subdivision.name).strip()


def regions_of(country: str, language: str | None = None) -> tuple[tuple[str, str], ...]:
    """The top-level ISO 3166-2 subdivisions of a country as (code, name), by name: the
    finest place Sayso keeps (a French région, a US state, England or Scotland). Named in
    ``language`` (by default the page's), else in English."""
    return _regions_of(country, language or _page_language())


@cache
def _regions_of(country: str, language: str) -> tuple[tuple[str, str], ...]:
    found = pycountry.subdivisions.get(country_code=country) or []
    top = ((s.code, _subdivision_name(s, language)) for s in found if s.parent_code is None)
    return tuple(sorted(top, key=lambda r: r[1].casefold()))


def region_name(code: str, language: str | None = None) -> str:
    """A region as people call it, in ``language`` (by default the page's)."""
    subdivision = pycountry.subdivisions.get(code=code)
    if subdivision is None:
        return code
    return _subdivision_name(subdivision, language or _page_language())


def _local_country(code: str) -> str:
    """A country named in the page's language (CLDR), else as people call it in English."""
    from sayso.i18n import localized_names

    return localized_names([(code, country_name(code))], "territories")[0][1]


def _local_language(code: str) -> str:
    """A language named in the page's language (CLDR), else its English name."""
    from sayso.i18n import localized_names

    return localized_names([(code, language_name(code))], "languages")[0][1]


def language_name(code: str) -> str:
    """A language as people call it ("French" for ``fr``)."""
    language = pycountry.languages.get(alpha_2=code)
    return getattr(language, "common_name", None) or language.name if language else code


@cache
def languages() -> tuple[tuple[str, str], ...]:
    """Every ISO 639-1 language as (code, name), by name."""
    coded = (lang.alpha_2 for lang in pycountry.languages if hasattr(lang, "alpha_2"))
    named = ((code, language_name(code)) for code in coded)
    return tuple(sorted(named, key=lambda lang: lang[1].casefold()))


def _country(value: str) -> None:
    if not _COUNTRY.match(value) or pycountry.countries.get(alpha_2=value) is None:
        raise ValidationError("Not an ISO 3166-1 country code, such as FR or GB.")


def _language(value: str) -> None:
    if not _LANGUAGE.match(value) or pycountry.languages.get(alpha_2=value) is None:
        raise ValidationError("Not an ISO 639-1 language code, such as en or fr.")


# What the OpenAPI document says each allows (read by sayso/api/json_schema.py).
_country.json_schema = lambda: {"enum": sorted(code for code, _ in countries())}
_language.json_schema = lambda: {"enum": sorted(code for code, _ in languages())}


def _unique(key):
    def check(items: list) -> None:
        seen = [key(item) for item in items]
        if len(seen) != len(set(seen)):
            raise ValidationError("Entries must not repeat.")

    check.json_schema = {"uniqueItems": True}  # equal entries repeat (for the document)
    return check


class LocationSchema(Schema):
    """Where the consumer lives: a country, and optionally a region of it (no finer)."""

    country = fields.String(
        required=True,
        validate=_country,
        metadata={
            "description": "ISO 3166-1 alpha-2 code.",
            "example": "FR",
            "enum": sorted(c.alpha_2 for c in pycountry.countries),
        },
    )
    region = fields.String(
        validate=validate.Length(max=6),
        metadata={
            "pattern": r"^[A-Z]{2}-[A-Z0-9]{1,3}$",
            "description": "A top-level ISO 3166-2 subdivision of the country (no finer).",
            "example": "FR-IDF",
        },
    )

    @validates_schema
    def _region_of_country(self, data, **kwargs):
        region, country = data.get("region"), data.get("country")
        if region is None or country is None:
            return
        subdivision = pycountry.subdivisions.get(code=region)
        if subdivision is None or subdivision.country_code != country:
            raise ValidationError(f"Not a region of {country_name(country)}.", "region")
        if subdivision.parent_code is not None:
            while subdivision.parent_code is not None:
                subdivision = pycountry.subdivisions.get(code=subdivision.parent_code)
            raise ValidationError(
                "Finer than a region: give the region it is in, "
                f"{subdivision.code} ({_subdivision_name(subdivision)}).",
                "region",
            )


class HearAboutChoiceSchema(Schema):
    """The kinds of message worth receiving, and whose new releases."""

    kinds = fields.List(
        fields.String(validate=_one_of(MESSAGE_KINDS, "kinds of message")),
        required=True,
        validate=[
            validate.Length(min=1, error="Choose at least one kind of message."),
            _unique(lambda k: k),
        ],
        metadata={"description": "Kinds of message worth receiving."},
    )
    new_releases_of = fields.List(
        fields.String(validate=[validate.Length(min=1, max=64), plain_text, not_blank]),
        load_default=list,
        validate=[
            validate.Length(max=MAX_NAMES, error=f"At most {MAX_NAMES} entries."),
            _unique(lambda name: " ".join(name.split()).casefold()),
        ],
        metadata={"description": "Authors, artists or products whose new releases to hear of."},
    )

    @validates_schema
    def _names_go_with_new_releases(self, data, **kwargs):
        names = data.get("new_releases_of") or []
        if any(not name.strip() for name in names):
            raise ValidationError("Names must not be blank.", "new_releases_of")
        if names and "new_releases" not in (data.get("kinds") or []):
            raise ValidationError(
                "Names of authors, artists or products go with new releases: "
                "choose new releases too, or leave the names out.",
                "new_releases_of",
            )


class HearAboutSchema(HearAboutChoiceSchema):
    """The general choice, and a different one for some brands the consumer has granted."""

    brands = fields.Dict(
        keys=fields.String(validate=validate.Length(min=1, max=32)),
        values=fields.Nested(HearAboutChoiceSchema),
        load_default=dict,
        validate=validate.Length(
            max=MAX_BRAND_CHOICES, error=f"At most {MAX_BRAND_CHOICES} brands."
        ),
        metadata={
            "description": "By brand id: a choice that replaces the general one for that "
            "brand (a brand the consumer has granted). A brand reads only its own."
        },
    )


# Each field's whole value (``DisclosureField.value_field``) ------------------------------


def age_band_value() -> fields.Field:
    """One age band."""
    return fields.String(
        validate=_one_of(AGE_BANDS, "age bands"),
        metadata={"enum": list(AGE_BANDS), "example": "25-34"},
    )


def location_value() -> fields.Field:
    """A country and optionally a region."""
    return fields.Nested(LocationSchema)


def languages_value() -> fields.Field:
    """A short list of ISO 639-1 codes."""
    return fields.List(
        fields.String(
            validate=_language,
            metadata={
                "example": "fr",
                "enum": sorted(
                    lang.alpha_2 for lang in pycountry.languages if hasattr(lang, "alpha_2")
                ),
            },
        ),
        validate=[
            validate.Length(max=MAX_LANGUAGES, error=f"At most {MAX_LANGUAGES} entries."),
            _unique(lambda code: code),
        ],
    )


def life_stage_value() -> fields.Field:
    """The life stages that apply (several may)."""
    return fields.List(
        fields.String(
            validate=_one_of(LIFE_STAGES, "life stages"), metadata={"enum": list(LIFE_STAGES)}
        ),
        validate=[
            validate.Length(max=len(LIFE_STAGES), error=f"At most {len(LIFE_STAGES)} entries."),
            _unique(lambda stage: stage),
        ],
    )


def household_size_value() -> fields.Field:
    """One household size band."""
    return fields.String(
        validate=_one_of(HOUSEHOLD_SIZES, "household sizes"),
        metadata={"enum": list(HOUSEHOLD_SIZES), "example": "3-4"},
    )


def hear_about_value() -> fields.Field:
    """The general choice and the per-brand ones."""
    return fields.Nested(HearAboutSchema)


def hear_about_brand_value() -> fields.Field:
    """What a brand reads: one choice, its own or the general one."""
    return fields.Nested(HearAboutChoiceSchema)


def hear_about_for_brand(value: dict, brand_public_id: str) -> dict:
    """What one brand reads of ``hear_about``: its own choice if the consumer made one,
    else the general one; never another brand's (nor which brands have one)."""
    chosen = (value.get("brands") or {}).get(brand_public_id) or value
    return {"kinds": list(chosen["kinds"]), "new_releases_of": list(chosen["new_releases_of"])}


# In plain words (the consent page's preview, the disclosures page) ---------------------


def _hear_about_words(value: dict) -> list[str]:
    lines = []
    for kind in value.get("kinds", []):
        label = gettext(MESSAGE_KINDS[kind]) if kind in MESSAGE_KINDS else kind
        names = value.get("new_releases_of") or []
        if kind == "new_releases" and names:
            label = gettext("New releases of %(names)s", names=", ".join(names))
        lines.append(label)
    return lines


def _location_words(value: dict) -> list[str]:
    country = _local_country(value["country"])
    region = value.get("region")
    return [f"{region_name(region)}, {country}" if region else country]


def _said(words: dict, key: str) -> str:
    """One choice's words, translated (the catalogues hold them: sayso/i18n_extract.py)."""
    return gettext(words[key]) if key in words else key


WORDS = {
    "age_band": lambda v: [_said(AGE_BANDS, v)],
    "location": _location_words,
    "languages": lambda v: [_local_language(code) for code in v],
    "life_stage": lambda v: [_said(LIFE_STAGES, stage) for stage in v],
    "household_size": lambda v: [_said(HOUSEHOLD_SIZES, v)],
    "hear_about": _hear_about_words,
}


def in_words(name: str, value) -> list[str]:
    """A value of one of these fields as lines people read (empty for another field)."""
    say = WORDS.get(name)
    return say(value) if say and value else []
