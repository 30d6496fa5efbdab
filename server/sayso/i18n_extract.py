"""Babel extractor for words kept as data, not as ``_()`` calls (babel.cfg names it).

A field's label and description (fields.py), a channel's name and a duration's words
(oauth/rich_authorization.py) are data other code reads in English (the API, the ledger);
pages translate them when shown, with the ``t`` filter (``{{ p.label|t }}``). This yields them so
``make translations-extract`` puts them in the catalogues like any other string.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path


def _fields() -> Iterator[str]:
    from sayso.fields import CHANNEL_LABELS, FIELDS, PERMISSIONS

    for entry in (*FIELDS.values(), *PERMISSIONS.values()):
        yield entry.label
        yield entry.description
    yield from CHANNEL_LABELS.values()


def _about() -> Iterator[str]:
    from sayso.about_fields import AGE_BANDS, HOUSEHOLD_SIZES, LIFE_STAGES, MESSAGE_KINDS

    for words in (AGE_BANDS, HOUSEHOLD_SIZES, LIFE_STAGES, MESSAGE_KINDS):
        yield from words.values()


def _durations() -> Iterator[str]:
    from sayso.oauth.rich_authorization import DURATION_LABELS

    yield from DURATION_LABELS.values()


def _http_errors() -> Iterator[str]:
    """What werkzeug says of an HTTP error when a view gave no words of its own."""
    from werkzeug.exceptions import default_exceptions

    from sayso.errors import PAGE_STATUSES

    for status in PAGE_STATUSES:
        description = getattr(default_exceptions.get(status), "description", None)
        if description:
            yield description


_SOURCES = {
    "errors.py": _http_errors,
    "fields.py": _fields,
    "about_fields.py": _about,
    "rich_authorization.py": _durations,
}


def _validation_messages(source: bytes) -> Iterator[tuple[int, str]]:
    """What schemas and validators say: ``error="..."`` arguments and the first argument
    of ``ValidationError("...")`` (plain_message in shared/forms.py translates them)."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        texts = [k.value for k in node.keywords if k.arg == "error"]
        name = getattr(node.func, "id", None) or getattr(node.func, "attr", None)
        if name == "ValidationError" and node.args:
            texts.append(node.args[0])
        for text in texts:
            # (a str.format template, with "{", is filled in first: not a msgid)
            if (
                isinstance(text, ast.Constant)
                and isinstance(text.value, str)
                and "{" not in text.value
            ):
                yield node.lineno, text.value


def extract(fileobj, keywords, comment_tags, options):
    """Babel's extraction method protocol: (line, function, message, comments) tuples."""
    source = _SOURCES.get(Path(getattr(fileobj, "name", "")).name)
    seen: set[str] = set()
    # The file's own _() and N_() calls too (each file is read by one rule only).
    from babel.messages.extract import extract_python

    position = fileobj.tell()
    for found in extract_python(fileobj, keywords, comment_tags, options):
        if isinstance(found[2], str):
            seen.add(found[2])
        yield found
    fileobj.seek(position)
    for line, message in _validation_messages(fileobj.read()):
        if message not in seen:
            seen.add(message)
            yield line, "gettext", message, []
    for message in source() if source else ():
        if message and message not in seen:
            seen.add(message)
            yield 1, "gettext", message, []
