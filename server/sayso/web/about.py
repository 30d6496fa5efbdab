"""The "About me" page: the coarse "who I am" fields and "What I want to hear about".

One plain form (no script needed) for the six fields of ``fields.ABOUT_FIELDS``; each
stays its own disclosure, granted on its own. The form is reshaped here into the
documents the API takes and validated by the same schema (``DisclosuresSchema``).
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from marshmallow import ValidationError

from sayso import about_fields as about
from sayso import services
from sayso.auth import consumer_required
from sayso.fields import ABOUT_FIELDS, FIELDS
from sayso.i18n import localized_names
from sayso.schemas.disclosures import DisclosuresSchema
from sayso.shared.forms import flatten_errors
from sayso.web.blueprint import bp

NAMES = tuple(f.name for f in ABOUT_FIELDS)
#: How many language pickers the page offers (the most a consumer may keep).
LANGUAGE_PICKERS = about.MAX_LANGUAGES


@dataclass(frozen=True)
class BrandChoice:
    """A brand the consumer has granted, and their choice for it (``None``: the general one)."""

    public_id: str
    name: str
    choice: dict | None


def _names(text: str) -> list[str]:
    """One name a line (commas also separate), blanks dropped, spaces tidied."""
    parts = (p for line in text.splitlines() for p in line.split(","))
    return [" ".join(p.split()) for p in parts if p.strip()]


def _choice_from(form, suffix: str = "") -> dict | None:
    kinds = form.getlist(f"kind{suffix}")
    names = _names(form.get(f"new_releases_of{suffix}", ""))
    if not kinds and not names:
        return None
    return {"kinds": kinds, "new_releases_of": names}


def about_from(form, brand_ids: list[str]) -> dict:
    """The six fields from the page's inputs; a field left empty is ``None`` (deleted)."""
    country = form.get("country", "").strip()
    location = None
    if country:
        location = {"country": country}
        if form.get("region", "").strip():
            location["region"] = form["region"].strip()
    hear_about = _choice_from(form)
    brands = {}
    for brand_id in brand_ids:
        if form.get(f"own_{brand_id}"):
            brands[brand_id] = _choice_from(form, f"_{brand_id}") or {"kinds": []}
    if brands:
        hear_about = {**(hear_about or {"kinds": []}), "brands": brands}
    languages = [code for code in form.getlist("language") if code.strip()]
    return {
        "age_band": form.get("age_band") or None,
        "location": location,
        "languages": list(dict.fromkeys(languages)) or None,
        "life_stage": form.getlist("life_stage") or None,
        "household_size": form.get("household_size") or None,
        "hear_about": hear_about,
    }


def _granted_brands(value: dict | None) -> list[BrandChoice]:
    chosen = (value or {}).get("brands") or {}
    return [
        BrandChoice(b.brand.public_id, b.brand.name, chosen.get(b.brand.public_id))
        for b in services.consent().overview(current_user)
    ]


def _errors(messages: dict, brands: list[BrandChoice]) -> list:
    """Schema messages as lines, each named as the page names its inputs."""
    names = {b.public_id: b.name for b in brands}
    lines = []
    for name in NAMES:
        if name not in messages:
            continue
        problem = messages[name]
        by_brand = problem.pop("brands", {}) if isinstance(problem, dict) else {}
        if problem:
            lines += flatten_errors(problem, prefix=FIELDS[name].label, path=(name,))
        for brand_id, said in by_brand.items():
            prefix = f"What you want to hear about from {names.get(brand_id, 'a brand')}"
            lines += flatten_errors(said, prefix=prefix, path=(name, "brands", brand_id))
    return lines


def _page(values: dict, errors=(), status: int = 200):
    country = (values.get("location") or {}).get("country")
    hear_about = values.get("hear_about") or {}
    languages = list(values.get("languages") or [])
    return render_template(
        "edit_about.html",
        fields={name: FIELDS[name] for name in NAMES},
        values=values,
        errors=list(errors),
        about=about,
        countries=localized_names(about.countries(), "territories"),
        country=country,
        regions=about.regions_of(country) if country else (),
        language_choices=localized_names(about.languages(), "languages"),
        languages=languages + [""] * (LANGUAGE_PICKERS - len(languages)),
        hear_about=hear_about,
        brands=_granted_brands(hear_about),
    ), status


@bp.route("/disclosures/about", methods=["GET", "POST"])
@consumer_required
def about_me():
    """Edit "About me" and "What I want to hear about"; an empty answer deletes its field."""
    if request.method == "GET":
        return _page(services.disclosures().read(current_user))
    brands = _granted_brands(None)
    submitted = about_from(request.form, [b.public_id for b in brands])
    before = services.disclosures().read(current_user).get("location") or {}
    try:
        document = DisclosuresSchema(only=NAMES).load(
            {k: v for k, v in submitted.items() if v is not None}
        )
        changes = {name: document.get(name) for name in NAMES}
        services.disclosures().update(current_user, changes)
    except ValidationError as exc:
        return _page(submitted, _errors(exc.messages, brands), 422)
    location = changes["location"]
    if (
        location
        and location["country"] != before.get("country")
        and "region" not in location
        and about.regions_of(location["country"])
    ):
        # Without script the region list can only follow a saved country: say so.
        code = location["country"]
        name = dict(localized_names([(code, about.country_name(code))], "territories"))[code]
        flash(_("Saved. You can now choose a region of %(country)s, if you like.", country=name))
        return redirect(url_for("web.about_me") + "#location")
    flash(_("About you saved."))
    return redirect(url_for("web.disclosures") + "#about-me")


def about_summary(values: dict, brand_names: dict[str, str]) -> dict:
    """For the disclosures overview: each "About me" field in words (empty if not said),
    and what the consumer wants to hear about, generally and brand by brand."""
    hear_about = values.get("hear_about")
    per_brand = [
        (
            brand_names.get(brand_id) or _("A brand you granted"),
            about.in_words("hear_about", choice),
        )
        for brand_id, choice in ((hear_about or {}).get("brands") or {}).items()
    ]
    return {
        "fields": [
            (FIELDS[name], about.in_words(name, values.get(name)))
            for name in NAMES
            if name != "hear_about"
        ],
        "hear_about": about.in_words("hear_about", hear_about),
        "per_brand": sorted(per_brand, key=lambda entry: entry[0].casefold()),
    }
