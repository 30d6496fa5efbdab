"""The French and German catalogues are complete: every string the templates and Python
mark for translation (extracted afresh, as `make translations-extract` does) is in each
catalogue, translated, not fuzzy, with the same placeholders; and the compiled .mo files
the server reads match the .po files (`make translations` rebuilds them)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parents[2]
TRANSLATIONS = ROOT / "server" / "sayso" / "translations"
LANGUAGES = ("fr", "de")
# The same keywords as the Makefile's translations-extract.
KEYWORDS = ["-k", "N_", "-k", "_l", "-k", "lazy_gettext", "-k", "lazy_ngettext:1,2"]


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> dict:
    pot = tmp_path_factory.mktemp("i18n") / "messages.pot"
    extract = [sys.executable, "-m", "babel.messages.frontend", "-q", "extract"]
    subprocess.run(
        [*extract, "-F", "babel.cfg", *KEYWORDS, "--no-location", "-o", str(pot), "."],
        cwd=ROOT,
        check=True,
    )
    with pot.open("rb") as f:
        return {m.id: m for m in read_po(f) if m.id}


def _catalogue(language: str):
    with (TRANSLATIONS / language / "LC_MESSAGES" / "messages.po").open("rb") as f:
        return read_po(f, locale=language)


def test_the_extraction_finds_the_strings_of_templates_python_and_data(template):
    assert "%(brand)s asks for your say-so" in template  # consent.html
    assert "Please fill this in." in template  # shared/forms.py
    assert "Interests" in template  # a field's label, kept as data (fields.py)
    assert "Use 10 to 256 characters." in template  # a validator's error="..."


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_string_is_translated(template, language):
    catalogue = _catalogue(language)
    missing = [msgid for msgid in template if msgid not in catalogue]
    assert not missing, f"not in {language}/messages.po (run `make translations-extract`)"
    untranslated = [
        m.id
        for m in catalogue
        if m.id and (not all(m.string) if isinstance(m.string, tuple) else not m.string)
    ]
    assert not untranslated, f"untranslated in {language}: {untranslated[:10]}"
    fuzzy = [m.id for m in catalogue if m.id and m.fuzzy]
    assert not fuzzy, f"fuzzy in {language}: {fuzzy[:10]}"


@pytest.mark.parametrize("language", LANGUAGES)
def test_translations_keep_the_placeholders(language):
    problems = [
        (message.id, [str(e) for e in errors]) for message, errors in _catalogue(language).check()
    ]
    assert not problems


def _key(value):
    return tuple(value) if isinstance(value, list | tuple) else value


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_compiled_catalogue_is_up_to_date(language):
    with (TRANSLATIONS / language / "LC_MESSAGES" / "messages.mo").open("rb") as f:
        compiled = {_key(m.id): _key(m.string) for m in read_mo(f) if m.id}
    written = {_key(m.id): _key(m.string) for m in _catalogue(language) if m.id and m.string}
    assert compiled == written, "run `make translations` to compile the catalogues"
