"""Form errors in people's words: one line per problem, tied to the input it names, for
every page (consumer pages, the consent page, the portal and the console) and for the
registration API's messages."""

from __future__ import annotations

import re

from flask_babel import gettext


def N_(text: str) -> str:
    """Marks English for the catalogues (``make translations-extract``); translated when used."""
    return text


class FormError(str):
    """One error line, and the path of the input it names (``("email",)``, ``(1, "weight")``
    for row 2's weight; empty for the whole form), so the page can tie the two together."""

    field: tuple = ()

    def __new__(cls, text: str, field=()):
        error = super().__new__(cls, text)
        error.field = tuple(field)
        return error


#: What people call the inputs schemas name by their keys (a key not here is tidied:
#: "webhook_url" → "Webhook url").
FIELD_LABELS = {
    "email": N_("Email"),
    "password": N_("Password"),
    "current_password": N_("Current password"),
    "new_password": N_("New password"),
    "confirm": N_("Confirmation"),
    "answer": N_("Your answer"),
    "text": N_("Your words"),
    "topic_id": N_("Topic"),
    "weight": N_("Weight"),
    "channel": N_("Channel"),
    "max_per_week": N_("Messages a week"),
    "quiet_hours": N_("Quiet hours"),
    "start": N_("start"),
    "end": N_("end"),
    "tz": N_("time zone"),
    "time_zone": N_("Your time zone"),
    "name": N_("Name"),
    "prompt": N_("Question"),
    "purpose": N_("Purpose"),
    "why": N_("Why you ask"),
    "options": N_("Choices"),
    "kind": N_("Kind of question"),
    "redirect_uris": N_("Redirect URIs"),
    "webhook_url": N_("Webhook URL"),
    "brand_id": N_("Brand"),
    "since": N_("From"),
    "until": N_("Until"),
    "kinds": N_("Kinds of message"),
    "new_releases_of": N_("Names for new releases"),
}


def _range(match: re.Match) -> str:
    return gettext("Use a number from %(min)s to %(max)s.", min=match["min"], max=match["max"])


def _between(match: re.Match) -> str:
    low, high = match["min"], match["max"]
    if low in ("0", "1"):
        return gettext("Please fill this in, in at most %(max)s characters.", max=high)
    return gettext("Use %(min)s to %(max)s characters.", min=low, max=high)


def _shorter(match: re.Match) -> str:
    if match["min"] == "1":
        return gettext("Please fill this in.")
    return gettext("Use at least %(min)s characters.", min=match["min"])


#: marshmallow's validator messages (and a few of Sayso's own schema messages) in the
#: words of the people filling a form in, in the page's language (``%(name)s`` takes the
#: pattern's group). Pages show these; the JSON API keeps the schemas' messages as they
#: are (``exc.messages``), so its clients see no change.
PLAIN_MESSAGES = [
    (r"Missing data for required field\.", N_("Please fill this in.")),
    (r"Field may not be null\.", N_("Please fill this in.")),
    (r"Must not be blank\.", N_("Please fill this in.")),
    (r"Text must not be blank\.", N_("Please write a few words.")),
    (r"Shorter than minimum length (?P<min>\d+)\.", _shorter),
    (r"Longer than maximum length (?P<max>\d+)\.", N_("Use at most %(max)s characters.")),
    (r"Length must be between (?P<min>\d+) and (?P<max>\d+)\.", _between),
    (r"Length must be (?P<n>\d+)\.", N_("Use exactly %(n)s characters.")),
    (
        r"Must be greater than or equal to (?P<min>[-\d.]+) and less than or equal to "
        r"(?P<max>[-\d.]+)\.",
        _range,
    ),
    (r"Must be greater than or equal to (?P<min>[-\d.]+)\.", N_("Use %(min)s or more.")),
    (r"Must be less than or equal to (?P<max>[-\d.]+)\.", N_("Use %(max)s or less.")),
    (r"Not a valid integer\.", N_("Write a whole number, such as 2.")),
    (r"Number too large\.", N_("That number is too large.")),
    (r"Not a valid number\.", N_("Write a number, such as 0.5.")),
    (r"Special numeric values \(nan or infinity\) are not permitted\.", N_("Write a number.")),
    (r"Not a valid (?:utf-8 )?string\.", N_("Write this as text.")),
    (r"Not a valid email address\.", N_("Write an email address, such as ada@example.org.")),
    (r"Not a valid URL\.", N_("Write a full web address, starting with https://.")),
    (r"Not a valid boolean\.", N_("Tick the box or leave it empty.")),
    (r"Not a valid (?:datetime|date)\.", N_("Write a date, such as 2026-12-31.")),
    (
        r"Not a valid (?:list|mapping type)\.|Invalid input type\.",
        N_("This was sent in a way we cannot read."),
    ),
    (r"Unknown field\.", N_("This is not part of the form.")),
    (r"Must be one of: .*\.", N_("Choose one of the choices offered.")),
    (
        r"One or more of the choices you made was not in: .*\.",
        N_("Choose from the choices offered."),
    ),
    (
        r"String does not match expected pattern\.|Invalid value\.",
        N_("This is not in the right form."),
    ),
    (r"Use HH:MM\.", N_("Write a time, such as 21:30.")),
    (r"Start and end must differ\.", N_("Quiet hours must end at another time than they start.")),
    (
        r"Not a topic of the Topics taxonomy v2\.",
        N_("Not one of the topics: choose one from the list."),
    ),
    (
        r"Not a known IANA time zone, e\.g\. Europe/Paris\.",
        N_(
            "We don't know that time zone. Type a city, such as Paris, or choose one from the list."
        ),
    ),
    (r"Entries must not repeat\.", N_("Something is listed twice; keep it once.")),
    (
        r"Give exactly one of topic_id or text\.",
        N_("Choose a topic or write a few words, not both."),
    ),
    (r"At most (?P<n>\d+) entries\.", N_("You can keep at most %(n)s; remove some first.")),
    # sayso.about_fields's words (the "About you" page).
    (r"Not a region of .+\.", N_("Choose a region of the country you chose.")),
    (
        r"Finer than a region: give the region it is in, \S+ \((?P<name>.+)\)\.",
        N_("Give the whole region, not a part of it: %(name)s."),
    ),
    (r"Not an ISO 3166-1 country code, such as FR or GB\.", N_("Choose a country from the list.")),
    (r"Not an ISO 639-1 language code, such as en or fr\.", N_("Choose a language from the list.")),
    (r"Choose at least one kind of message\.", N_("Choose at least one kind of message.")),
    (r"Names must not be blank\.", N_("Please fill this in.")),
    (
        r"Names of authors, artists or products go with new releases: .*",
        N_(
            "Names of authors, artists or products go with new releases: choose new releases "
            "too, or leave the names out."
        ),
    ),
    # sayso.shared.text.plain_text's words, unchanged in English; translated without the
    # character's Unicode name (which is English).
    (
        r"Contains (?P<what>.+) \(U\+(?P<code>[0-9A-F]{4,6})\) at position (?P<position>\d+)\.",
        N_("Contains %(what)s (U+%(code)s) at position %(position)s."),
    ),
]
_PLAIN = [(re.compile(rf"^{pattern}$"), plain) for pattern, plain in PLAIN_MESSAGES]


def plain_message(message: str) -> str:
    """A schema's message in people's words (itself when it already is)."""
    for pattern, plain in _PLAIN:
        match = pattern.match(message)
        if match:
            if callable(plain):
                return plain(match)
            return gettext(plain, **{k: v for k, v in match.groupdict().items() if v})
    return gettext(message)  # a schema's own words (error="..."), if the catalogue has them


def field_label(key) -> str:
    """What people call the input a schema names by ``key``."""
    known = FIELD_LABELS.get(key)
    return gettext(known) if known else str(key).replace("_", " ").capitalize()


def flatten_errors(
    messages, prefix: str = "", path: tuple = (), rows=None, plain: bool = True
) -> list[str]:
    """Marshmallow's nested error dict as lines people read ("Row 2, weight: Write a
    number, such as 0.5."), each a :class:`FormError` that knows which input it names,
    each line once. Inputs are named as people know them (``FIELD_LABELS``), messages in
    their words (``PLAIN_MESSAGES``); a row is "Row 2" unless ``rows`` names it (a
    function of the row's index, e.g. the channel it is for).

    ``plain=False`` keeps the schema's keys and messages ("row 2 / weight: Not a valid
    number."), for an API's error description, read by a brand's developers."""
    lines = _flatten(messages, prefix, path, rows, plain)
    unique = []
    for line in lines:
        if line not in unique:
            unique.append(line)
    return unique


def _label(key, prefix: str, rows, plain: bool) -> str:
    if isinstance(key, int):
        return rows(key) if rows else gettext("Row %(n)s", n=key + 1)
    if key in ("_schema", "value"):
        return ""
    if not plain:
        return str(key).replace("_", " ")
    label = field_label(key)
    if prefix and not label[:2].isupper():  # "Row 2, weight", but "Row 2, URL"
        label = label[0].lower() + label[1:]
    return label


def _flatten(messages, prefix: str, path: tuple, rows, plain: bool) -> list[str]:
    lines = []
    if isinstance(messages, dict):
        for key, value in messages.items():
            label = _label(key, prefix, rows, plain)
            joined = (", " if plain else " / ").join(p for p in (prefix, label) if p)
            lines.extend(_flatten(value, joined, path + ((key,) if label else ()), rows, plain))
    elif isinstance(messages, list):
        for message in messages:
            lines.extend(_flatten(message, prefix, path, rows, plain))
    else:
        text = plain_message(str(messages)) if plain else str(messages)
        lines.append(FormError(f"{prefix}: {text}" if prefix else text, path))
    return lines
