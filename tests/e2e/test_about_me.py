"""The "About you" page in a real Chromium: filled in with plain form controls (no script
of its own), a country first and then its region, the kinds of message worth receiving;
the page and the disclosures overview fit a phone and pass axe-core at every width.

With ``SAYSO_E2E_SCREENSHOTS`` set (``make screenshots``), the pages are saved as
``docs/img/consumer-about-*.png``.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import PASSWORD, Consumer
from tests.e2e.page_checks import WIDTHS, check_at_every_width, set_width


def sign_in(page: Page, sayso, consumer: Consumer) -> None:
    page.goto(f"{sayso.url}/login")
    page.locator("input[name=email]").fill(consumer.email)
    page.locator("input[name=password]").fill(consumer.password)
    page.get_by_role("button", name="Sign in", exact=True).click()
    page.wait_for_url(f"{sayso.url}/**")


@pytest.fixture
def newcomer(sayso) -> Consumer:
    """A consumer who has said nothing about themselves yet."""
    email = "cleo@example.org"
    sayso.cli("consumers", "create", email, "--password-stdin", input=PASSWORD + "\n")
    sayso.server.wait_ready()
    return Consumer(email, PASSWORD)


def test_about_you_is_filled_in_on_a_phone_and_shown_on_the_overview(
    page: Page, sayso, newcomer, shoot
):
    sign_in(page, sayso, newcomer)
    page.goto(f"{sayso.url}/disclosures")
    page.get_by_role("link", name="Edit about me").click()
    expect(page.get_by_role("heading", name="About you", level=1)).to_be_visible()
    check_at_every_width(page, "about", shoot)

    set_width(page, WIDTHS["phone"])
    page.get_by_label("35\u201344").check()
    page.get_by_label("Country", exact=True).select_option(label="France")
    page.get_by_label("Language 1").select_option(label="French")
    page.get_by_label("Language 2").select_option(label="English")
    page.get_by_label("Parent of young children").check()
    page.get_by_label("3\u20134 people").check()
    page.get_by_label("New releases", exact=True).check()
    page.get_by_label("Events near you").check()
    page.get_by_label("New releases of").fill("Michael Chabon\nFred Vargas")
    page.get_by_role("button", name="Save about you").click()

    # A first country: the page comes back with its regions to choose from.
    expect(page.get_by_text("You can now choose a region of France")).to_be_visible()
    page.get_by_label("Region of France").select_option(label="Île-de-France")
    check_at_every_width(page, "about-regions", None)
    page.get_by_role("button", name="Save about you").click()

    page.wait_for_url(f"{sayso.url}/disclosures#about-me")
    about = page.locator("#about-me")
    expect(about).to_contain_text("35\u201344")
    expect(about).to_contain_text("Île-de-France, France")
    expect(about).to_contain_text("French, English")
    wishes = page.locator("#hear-about-summary")
    expect(wishes).to_contain_text("New releases of Michael Chabon, Fred Vargas")
    expect(wishes).to_contain_text("Events near you")
    check_at_every_width(page, "about-overview", shoot)


def test_a_mistake_is_said_in_plain_words_next_to_its_input(page: Page, sayso, newcomer):
    sign_in(page, sayso, newcomer)
    page.goto(f"{sayso.url}/disclosures/about")
    set_width(page, WIDTHS["phone"])
    page.get_by_label("Offers and discounts").check()
    page.get_by_label("New releases of").fill("Zadie Smith")
    page.get_by_role("button", name="Save about you").click()
    errors = page.locator("#errors")
    expect(errors).to_be_focused()
    expect(errors).to_contain_text("go with new releases")
    expect(page.get_by_label("New releases of")).to_have_attribute("aria-invalid", "true")
    check_at_every_width(page, "about-error", None)
