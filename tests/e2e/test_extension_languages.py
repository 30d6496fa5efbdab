"""The extension in the browser's language: Chromium started in French (``--lang=fr`` and
the ``LANGUAGE``/``LANG`` of its process) shows the popup, the pages and the toolbar
tooltip in French, from ``extension/_locales/fr`` (chrome.i18n). The other extension tests
run Chromium as it starts by default, in English."""

import contextlib
import json
import os
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import CHROMIUM_ARGS
from tests.e2e.page_checks import check_at_every_width
from tests.e2e.test_extension import (
    BRAND_HOST,
    EXTENSION_ID,
    _copy_extension,
    _make_brand,
    _popup_over,
    _wait_for_badge,
    _wait_until,
    sites,  # noqa: F401  (a fixture: the local web server answering for every hostname)
)

BASE = f"chrome-extension://{EXTENSION_ID}"
#: Chromium speaks a language only with its locale file (Debian's chromium-l10n).
LOCALES = Path("/usr/lib/chromium/locales")


@contextlib.contextmanager
def _chromium_in(language: str, extension, chromium_path: str, profile):
    """Chromium with the unpacked extension, its interface in ``language``."""
    from playwright.sync_api import sync_playwright

    if not (LOCALES / f"{language}.pak").exists():
        pytest.fail(
            f"Chromium has no {language} interface ({LOCALES}/{language}.pak is missing), so it "
            "cannot start in that language. Install it with: sudo apt-get install chromium-l10n"
            "  (.ci/run does this in CI).",
            pytrace=False,
        )

    env = {**os.environ, "LANGUAGE": language, "LANG": f"{language}_FR.UTF-8"}
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(profile),
            executable_path=chromium_path,
            headless=False,
            env=env,
            args=[
                "--headless=new",
                *CHROMIUM_ARGS,
                f"--lang={language}",
                f"--disable-extensions-except={extension}",
                f"--load-extension={extension}",
                f"--host-resolver-rules=MAP {BRAND_HOST} 127.0.0.1",
            ],
        )
        try:
            context.set_default_timeout(15_000)
            worker = context.service_workers[0] if context.service_workers else None
            if worker is None:
                worker = context.wait_for_event("serviceworker")
            yield context, worker
        finally:
            context.close()


def test_the_popup_speaks_french_in_a_french_browser(
    chromium_path,
    e2e_dir,
    tmp_path,
    sites,  # noqa: F811
    sayso,
):
    """Signed out, over a brand's site: every word of the popup is French, the brand's own
    words (its name, its purposes) are shown as the brand wrote them."""
    _make_brand(sayso)
    extension = _copy_extension(tmp_path / "extension", granted=True)
    with _chromium_in("fr", extension, chromium_path, e2e_dir / "chromium-fr-profile") as (
        context,
        worker,
    ):
        assert worker.evaluate("() => chrome.i18n.getUILanguage()").startswith("fr")
        options = context.new_page()
        options.goto(f"{BASE}/options.html")
        expect(options.locator("html")).to_have_attribute("lang", "fr")
        expect(options).to_have_title("Sayso — options")
        expect(options.get_by_role("heading", name="Connexion")).to_be_visible()
        expect(options.get_by_label("Adresse de Sayso")).to_be_visible()
        options.evaluate(
            "(url) => chrome.runtime.sendMessage({type: 'saveSettings', saysoUrl: url})",
            sayso.url,
        )

        tab = context.new_page()
        tab.goto(f"http://{BRAND_HOST}:{sites}/")
        _wait_for_badge(worker, BRAND_HOST, "?")
        title = (
            "async (host) => { const [t] = await chrome.tabs.query({url: `http://${host}/*`});"
            " return chrome.action.getTitle({tabId: t.id}); }"
        )
        _wait_until(
            lambda: worker.evaluate(title, BRAND_HOST).startswith("Sayso : la marque de ce site"),
            lambda: f"the toolbar tooltip is {worker.evaluate(title, BRAND_HOST)!r}",
        )

        popup = _popup_over(context, BRAND_HOST)
        popup.set_viewport_size({"width": 380, "height": 520})
        popup.goto(f"{BASE}/popup.html")
        expect(popup.locator("html")).to_have_attribute("lang", "fr")
        expect(popup.locator("#title")).to_have_text("Bookshop")
        expect(popup.get_by_role("heading", name="Ce qu'elle demande à voir")).to_be_visible()
        fields = popup.locator("#fields")
        expect(fields).to_contain_text("Vos centres d'intérêt")
        expect(fields).to_contain_text("Vos préférences de contact")
        # The brand's purposes are its own words, quoted the French way.
        expect(fields).to_contain_text("Pourquoi : « recommend books about what you like »")
        expect(popup.locator("#signed-out")).to_contain_text(
            "Connectez-vous à Sayso pour choisir ce que Bookshop peut voir."
        )
        expect(popup.get_by_role("button", name="Se connecter pour choisir")).to_be_visible()
        nav = popup.get_by_role("navigation", name="Pages de Sayso")
        expect(nav.get_by_role("link")).to_have_text(
            ["Mes marques", "Catégories de navigation", "Options"]
        )
        body = popup.locator("body").inner_text()
        for english in ("What it asks to see", "Sign in", "Why:", "My brands"):
            assert english not in body, f"English left in the French popup: {english!r}"
        check_at_every_width(popup, "popup in French")

        # The manifest's name and description come from the catalogue too.
        manifest = json.loads((extension / "manifest.json").read_text())
        assert manifest["name"] == "__MSG_extension_name__"
        assert worker.evaluate("() => chrome.i18n.getMessage('extension_description')").startswith(
            "Accordez et retirez"
        )
