"""Checks on text people will read: valid Unicode, and nothing they cannot see.

Neutral code (it imports nothing else from Sayso), used by the field registry and every
schema that takes names, purposes, questions or answers.
"""

from __future__ import annotations

import unicodedata

from marshmallow import ValidationError


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


def not_blank(value: str) -> None:
    """Refuse text that is empty or only spaces (what ``str.strip()`` removes)."""
    if not value.strip():
        raise ValidationError("Must not be blank.")
