"""Every consumer page, walked in a real Chromium at a desktop width and a phone's.

A consumer with disclosures connects the bookshop (sign-in and consent from the bookshop's
Connect), the bookshop reads the profile a few times, then the consumer visits every page
of theirs: each must fit a 1280 px, a 390 px and a 320 px window without sideways
scrolling and pass axe-core with no serious or critical violation
(``tests/e2e/page_checks.py``). Every page is checked even when an earlier one fails, and
the failure lists each page, width and what went wrong.

With ``SAYSO_E2E_SCREENSHOTS`` set (``make screenshots``), each page is saved as
``docs/img/consumer-<page>-<desktop|phone>.png`` for docs/consumers.md.
"""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from tests.e2e.page_checks import WIDTHS, assert_page_ok, set_width

#: The narrowest phone the pages are made for (320 px, a small phone's), checked besides
#: page_checks' widths, without a screenshot.
SMALL_PHONE = 320
#: How many times the bookshop reads the profile (each visit of its home page is a read).
READS = 3


class Walk:
    """Checks pages at every width, collecting what fails instead of stopping at it."""

    def __init__(self, page: Page, shoot):
        self.page = page
        self.shoot = shoot
        self.failures: list[str] = []
        self.seen: list[str] = []

    def check(self, name: str, url: str | None = None) -> None:
        """Open ``url`` (or stay), then check the page at each width, screenshot included."""
        if url is not None:
            response = self.page.goto(url)
            assert response is not None
        self.seen.append(name)
        for width_name, width in {**WIDTHS, "small-phone": SMALL_PHONE}.items():
            set_width(self.page, width)
            try:
                assert_page_ok(self.page, name)
            except AssertionError as failure:
                self.failures.append(f"[{name} {width_name}] {failure}")
            if width_name in WIDTHS:
                self.shoot(f"{name}-{width_name}")
        set_width(self.page, WIDTHS["desktop"])

    def check_here(self, name: str, width_name: str) -> None:
        """Check the page as it is now, at the width it has (``width_name``)."""
        self.seen.append(name)
        try:
            assert_page_ok(self.page, name)
        except AssertionError as failure:
            self.failures.append(f"[{name} {width_name}] {failure}")
        self.shoot(f"{name}-{width_name}")

    def assert_all_ok(self) -> None:
        """Fail with every page that failed, each with its width and what was wrong."""
        assert not self.failures, f"{len(self.failures)} failed checks:\n" + "\n\n".join(
            self.failures
        )


def _sign_in(page: Page, consumer) -> None:
    page.get_by_label("Email").fill(consumer.email)
    page.get_by_label("Password").fill(consumer.password)
    page.get_by_role("button", name="Sign in", exact=True).click()


def test_every_consumer_page_fits_a_phone_and_passes_axe(page, sayso, bookshop, consumer, shoot):
    walk = Walk(page, shoot)

    # Signed out: the front page, signing up and in, a page that does not exist.
    sayso.server.wait_ready()
    walk.check("index", f"{sayso.url}/")
    walk.check("sign-up", f"{sayso.url}/signup")
    walk.check("sign-in", f"{sayso.url}/login")
    walk.check("forgot-password", f"{sayso.url}/account/forgot")
    walk.check("link-no-longer-works", f"{sayso.url}/account/reset/sayso_rst_unknown")
    walk.check("not-found", f"{sayso.url}/no-such-page")

    # From the bookshop's Connect: sign in (for the bookshop), consent, back to the shop.
    bookshop.server.wait_ready()
    page.goto(bookshop.url)
    page.get_by_role("link", name="Connect with Sayso").click()
    expect(page).to_have_url(re.compile(re.escape(f"{sayso.url}/login")))
    walk.check("sign-in-for-brand")
    _sign_in(page, consumer)
    page.locator("input[name=field][value=interests]").wait_for()
    walk.check("consent")
    for field in ("interests", "channels", "browsing_categories"):
        page.locator(f"input[name=field][value={field}]").check()
    page.get_by_role("button", name=re.compile("^Allow")).click()
    expect(page).to_have_url(f"{bookshop.url}/")
    for _ in range(READS - 1):  # the return already read once
        page.goto(bookshop.url)

    # Signed in: every page of the consumer's.
    walk.check("index-signed-in", f"{sayso.url}/")
    walk.check("disclosures", f"{sayso.url}/disclosures")
    for name in ("interests", "browsing_categories", "channels"):
        walk.check(f"edit-{name.replace('_', '-')}", f"{sayso.url}/disclosures/{name}")
    walk.check("brands", f"{sayso.url}/brands")
    walk.check("questions", f"{sayso.url}/questions")
    walk.check("my-data", f"{sayso.url}/account/data")

    walk.check("history", f"{sayso.url}/account/access")
    # The callback and every visit of the bookshop's home page read: at least READS.
    tally = page.locator("summary", has_text="Bookshop read Interests")
    expect(tally).to_have_text(re.compile(r"Bookshop read Interests \d+ times today"))
    assert int(re.search(r"(\d+) times", tally.inner_text()).group(1)) >= READS
    # The details are one click away, and work with the keyboard.
    summary = page.locator("summary", has_text="Bookshop read Interests")
    summary.focus()
    page.keyboard.press("Enter")
    expect(page.locator("details[open] .tally-details").first).to_be_visible()
    walk.check("history-details")
    page.get_by_role("link", name="Everything Bookshop read").first.click()
    walk.check("history-brand")

    page.get_by_role("link", name="Consent receipts for Bookshop").click()
    walk.check("receipts")
    page.get_by_role("link", name=re.compile("^Read the receipt")).first.click()
    expect(page.get_by_role("heading", name="Consent receipt")).to_be_visible()
    expect(page.get_by_text("You let Bookshop see")).to_be_visible()
    walk.check("receipt")
    with page.expect_download() as download:
        page.get_by_role("link", name="Download the signed receipt (JSON)").click()
    assert download.value.suggested_filename.startswith("sayso-receipt-")

    walk.check("password", f"{sayso.url}/account/password")
    walk.check("not-found-signed-in", f"{sayso.url}/no-such-page")
    walk.check("bad-address", f"{sayso.url}/account/access?before=0")

    # At phone width the menu folds behind a button that opens with the keyboard.
    page.goto(f"{sayso.url}/account/data")
    set_width(page, WIDTHS["phone"])
    menu = page.get_by_role("link", name="Brands")
    expect(menu).to_be_hidden()
    page.locator("summary", has_text="Menu").focus()
    page.keyboard.press("Enter")
    expect(menu).to_be_visible()
    expect(page.get_by_role("link", name="My data")).to_have_attribute("aria-current", "page")
    walk.check_here("menu-open", "phone")

    # The first Tab reaches the skip link, shown when focused.
    set_width(page, WIDTHS["desktop"])
    page.goto(f"{sayso.url}/brands")
    page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Skip to the content")
    expect(skip).to_be_focused()
    assert skip.bounding_box()["y"] >= 0

    walk.assert_all_ok()
