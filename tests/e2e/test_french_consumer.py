"""A French consumer connects the sample bookshop, in a real Chromium whose locale is
fr-FR (so it sends Accept-Language: fr-FR): Sayso's sign-in page, consent page and Brands
page are in French, with ``<html lang="fr">``, and each passes axe at 390 px and on a
desktop. The language picker then switches the same pages to German, and back."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import CHROMIUM_ARGS
from tests.e2e.page_checks import check_at_every_width


@pytest.fixture
def french_page(chromium_path, e2e_dir):
    """A page in a fresh headless Chromium whose locale (and Accept-Language) is fr-FR."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(e2e_dir / "chromium-profile-fr"),
            executable_path=chromium_path,
            headless=True,
            args=CHROMIUM_ARGS,
            locale="fr-FR",
        )
        try:
            context.set_default_timeout(15_000)
            yield context.pages[0] if context.pages else context.new_page()
        finally:
            context.close()


def test_a_french_consumer_connects_the_bookshop_in_french(french_page, sayso, bookshop, consumer):
    page = french_page
    bookshop.server.wait_ready()
    page.goto(bookshop.url)
    page.get_by_role("link", name="Connect with Sayso").click()

    # Sign-in, in French.
    expect(page).to_have_url(re.compile(re.escape(f"{sayso.url}/login")))
    expect(page.locator("html")).to_have_attribute("lang", "fr")
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "Se connecter pour continuer vers Bookshop"
    )
    check_at_every_width(page, "fr-login")
    page.get_by_label("E-mail").fill(consumer.email)
    page.get_by_label("Mot de passe").fill(consumer.password)
    page.get_by_role("button", name="Se connecter", exact=True).click()

    # The consent page, in French, every word of Sayso's.
    expect(page.get_by_role("heading", name="Bookshop souhaite voir")).to_be_visible()
    expect(page.locator("html")).to_have_attribute("lang", "fr")
    expect(page.get_by_role("heading", level=1)).to_have_text("Bookshop vous demande votre accord")
    expect(page.get_by_text("Centres d\u2019intérêt", exact=True)).to_be_visible()
    expect(page.get_by_role("group", name="Pour combien de temps ?")).to_be_visible()
    expect(page.get_by_text("Allow selected")).to_have_count(0)
    check_at_every_width(page, "fr-consent")
    page.locator("input[name=field][value=interests]").check()
    page.get_by_role("button", name="Autoriser la sélection").click()
    expect(page).to_have_url(f"{bookshop.url}/")

    # The Brands page in French; the picker switches to German, and back to French.
    page.goto(f"{sayso.url}/brands")
    expect(page.get_by_role("heading", level=1)).to_have_text("Marques")
    expect(page.get_by_role("button", name="Retirer")).to_be_visible()
    check_at_every_width(page, "fr-brands")
    page.get_by_role("button", name="Deutsch").click()
    expect(page).to_have_url(f"{sayso.url}/brands")
    expect(page.locator("html")).to_have_attribute("lang", "de")
    expect(page.get_by_role("heading", level=1)).to_have_text("Marken")
    page.get_by_role("button", name="Français").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Marques")
