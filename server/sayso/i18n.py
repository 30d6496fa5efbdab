"""Languages: which one a page is in, and dates, times and numbers as its readers write them.

Sayso speaks English, French and German (Flask-Babel; catalogues in ``translations/``).
A page's language is, in order: the one the signed-in account chose with the picker
(``Account.language``), the one a signed-out visitor chose (the ``sayso_language``
cookie), the browser's ``Accept-Language`` best match, else English. Times are shown in
the account's time zone (``Account.time_zone``), else UTC.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from datetime import date, datetime

from flask import Flask, has_request_context, request
from flask_babel import (
    Babel,
    force_locale,
    format_date,
    format_datetime,
    format_decimal,
    format_time,
    gettext,
)
from flask_babel import get_locale as babel_locale
from flask_login import current_user

# code -> the language's own name, as the picker shows it (never translated).
LANGUAGES = {"en": "English", "fr": "Français", "de": "Deutsch"}
DEFAULT = "en"
COOKIE = "sayso_language"
COOKIE_MAX_AGE = 365 * 24 * 3600

babel = Babel()


def N_(text: str) -> str:
    """Marks English kept as data for extraction; translated where shown (``t`` filter)."""
    return text


def supported(code: str | None) -> str | None:
    """``code`` if Sayso speaks it ("fr", "FR", "fr-CA" → "fr"), else None."""
    if not code:
        return None
    code = code.strip().replace("_", "-").split("-")[0].lower()
    return code if code in LANGUAGES else None


def _account():
    if not has_request_context():
        return None
    user = current_user
    if user and getattr(user, "is_authenticated", False):
        return user
    return None


def select_locale() -> str:
    """The language of the page being made (see the module's docstring)."""
    if not has_request_context():
        return DEFAULT
    account = _account()
    chosen = supported(getattr(account, "language", None)) if account is not None else None
    if chosen:
        return chosen
    chosen = supported(request.cookies.get(COOKIE))
    if chosen:
        return chosen
    return _accepted()


def _accepted() -> str:
    """The first of the browser's languages (by preference) that Sayso speaks: "en-GB,
    fr;q=0.9" is English (werkzeug's best_match would take the exact "fr" first)."""
    for value, _quality in request.accept_languages:
        found = supported(value)
        if found:
            return found
    return DEFAULT


def select_timezone() -> str:
    account = _account()
    return getattr(account, "time_zone", None) or "UTC"


def page_language() -> str:
    """The language code of the current page, for ``<html lang>``."""
    return str(babel_locale() or DEFAULT)


def request_language() -> str:
    """The language the visitor reads, without the account's choice (e.g. at sign-up)."""
    if not has_request_context():
        return DEFAULT
    return supported(request.cookies.get(COOKIE)) or _accepted()


def speaking(account) -> AbstractContextManager:
    """Write in ``account``'s language (a message to them): the one they chose, else the
    language of the request that causes the message (a sign-up's)."""
    return force_locale(supported(getattr(account, "language", None)) or request_language())


# Jinja filters. A naive datetime is UTC (the database's); each is shown in the user's zone.
def _datetime(value: datetime | None, format: str = "medium") -> str:
    return format_datetime(value, format) if value is not None else ""


def _date(value: date | datetime | None, format: str = "medium") -> str:
    return format_date(value, format) if value is not None else ""


def _time(value: datetime | None, format: str = "short") -> str:
    return format_time(value, format) if value is not None else ""


#: Sayso's own ways of writing a moment, per language ("Monday 7 December 2026 at 14:30").
PATTERNS = {
    "day_time": {
        "en": "EEEE d MMMM y 'at' HH:mm",
        "fr": "EEEE d MMMM y 'à' HH:mm",
        "de": "EEEE, d. MMMM y 'um' HH:mm",
    },
    "day": {"en": "EEEE d MMMM y", "fr": "EEEE d MMMM y", "de": "EEEE, d. MMMM y"},
    "time": {"en": "HH:mm", "fr": "HH:mm", "de": "HH:mm"},
    "seconds": {"en": "HH:mm:ss", "fr": "HH:mm:ss", "de": "HH:mm:ss"},
    # Short, for tables (the brand portal's): "7 Dec 2026 14:30".
    "moment": {"en": "d MMM y HH:mm", "fr": "d MMM y HH:mm", "de": "d. MMM y HH:mm"},
    "moment_seconds": {
        "en": "d MMM y HH:mm:ss",
        "fr": "d MMM y HH:mm:ss",
        "de": "d. MMM y HH:mm:ss",
    },
}


def _written(value: date | datetime | None, kind: str = "day_time") -> str:
    """``value`` written the way ``PATTERNS[kind]`` says, in the page's language (a
    datetime in the user's time zone)."""
    if value is None:
        return ""
    pattern = PATTERNS[kind].get(page_language(), PATTERNS[kind][DEFAULT])
    if isinstance(value, datetime):
        return format_datetime(value, pattern)
    return format_date(value, pattern)


def moment(value: datetime | None, seconds: bool = False) -> str:
    """A moment for a table, with its time zone named ("7 Dec 2026 14:30 UTC"): the
    account's zone, else UTC (brand members often have none)."""
    if value is None:
        return ""
    return f"{_written(value, 'moment_seconds' if seconds else 'moment')} {select_timezone()}"


def _number(value, format: str | None = None) -> str:
    return format_decimal(value, format) if value is not None else ""


def _translate(text: str | None) -> str:
    """Words kept as data (a field's label...): the page's translation, if the catalogue
    has one (sayso/i18n_extract.py puts them there)."""
    return gettext(text) if text else ""


def in_sentence(text: str | None) -> str:
    """A label inside a sentence: lower case, except in German (its nouns keep capitals)."""
    text = _translate(text)
    return text if page_language() == "de" else text.lower()


def _sentence_start(text: str | None) -> str:
    """The translated text with a capital first letter (``capitalize`` would lower the rest)."""
    text = _translate(text)
    return text[:1].upper() + text[1:]


def localized_names(pairs, kind: str) -> list[tuple[str, str]]:
    """(code, name) pairs of countries (``kind="territories"``) or languages
    (``"languages"``) named in the page's language (CLDR, through Babel), sorted by it."""
    from babel import Locale

    names = getattr(Locale.parse(page_language()), kind)
    named = [(code, names.get(code, name)) for code, name in pairs]
    return sorted(named, key=lambda pair: pair[1].casefold())


def init_app(app: Flask) -> None:
    babel.init_app(app, locale_selector=select_locale, timezone_selector=select_timezone)
    app.jinja_env.filters["datetime_local"] = _datetime
    app.jinja_env.filters["date_local"] = _date
    app.jinja_env.filters["time_local"] = _time
    app.jinja_env.filters["number"] = _number
    app.jinja_env.filters["written"] = _written
    app.jinja_env.filters["moment"] = moment
    app.jinja_env.filters["country_local"] = lambda code, fallback="": dict(
        localized_names([(code, fallback or code)], "territories")
    )[code]
    app.jinja_env.filters["t"] = _translate
    app.jinja_env.filters["t_lower"] = in_sentence
    app.jinja_env.filters["t_capital"] = _sentence_start
    app.jinja_env.globals["page_language"] = page_language
    app.jinja_env.globals["time_zone_name"] = select_timezone
    app.jinja_env.globals["LANGUAGES"] = LANGUAGES
