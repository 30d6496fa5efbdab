"""Time zones as people name them: an IANA name ("Europe/Paris") or a city ("paris").

The consumer has one time zone (``Account.time_zone``); quiet hours are kept in it. The
names come from the system's tz database (``zoneinfo``), so a new zone needs no change here.
"""

from __future__ import annotations

import re
import zoneinfo
from functools import cache

from marshmallow import ValidationError, fields

# The tz database's regions for places; the rest ("US/Pacific", "Etc/GMT+3", "posix/…")
# are aliases or offsets nobody looks a city up by.
_REGIONS = (
    "Africa",
    "America",
    "Antarctica",
    "Arctic",
    "Asia",
    "Atlantic",
    "Australia",
    "Europe",
    "Indian",
    "Pacific",
)
# "Paris (Europe/Paris)": the way the page's list shows a zone.
_SHOWN = re.compile(r"^.*\(\s*([^()]+?)\s*\)\s*$")

NOT_A_ZONE = (
    "We don't know that time zone. Type a city, such as Paris, or choose one from the list."
)


def city_of(zone: str) -> str:
    """The place a zone is named after ("America/New_York" → "New York")."""
    return zone.rsplit("/", 1)[-1].replace("_", " ")


@cache
def _all() -> dict[str, str]:
    """Every zone name, case-folded, → its spelling in the tz database."""
    return {zone.casefold(): zone for zone in zoneinfo.available_timezones()}


@cache
def choices() -> tuple[tuple[str, str], ...]:
    """The zones people choose from, as (IANA name, city), by name; UTC last."""
    places = sorted(z for z in zoneinfo.available_timezones() if z.split("/")[0] in _REGIONS)
    return (*((zone, city_of(zone)) for zone in places), ("UTC", "UTC"))


@cache
def _cities() -> dict[str, str]:
    """A city, case-folded, → its zone; the first of the regions' zones when two share one."""
    found: dict[str, str] = {}
    for zone, city in choices():
        found.setdefault(city.casefold(), zone)
    return found


def resolve(text: str | None) -> str | None:
    """The IANA zone ``text`` names, case-insensitively: an IANA name, a city of one (with
    spaces or underscores), or the list's "Paris (Europe/Paris)"; None if it names none."""
    wanted = (text or "").strip()
    shown = _SHOWN.match(wanted)
    if shown:
        wanted = shown.group(1)
    key = wanted.casefold()
    if not key:
        return None
    zone = _all().get(key) or _cities().get(key.replace("_", " "))
    if zone is None:
        return None
    try:
        zoneinfo.ZoneInfo(zone)  # listed but not loadable (a broken tz package): refuse
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        return None
    return zone


class TimeZone(fields.String):
    """A time zone as typed by a person, loaded as its IANA name; blank loads as None."""

    def _deserialize(self, value, attr, data, **kwargs):
        text = super()._deserialize(value, attr, data, **kwargs)
        if not text.strip():
            return None
        zone = resolve(text) if len(text) <= 100 else None
        if zone is None:
            raise ValidationError(NOT_A_ZONE)
        return zone
