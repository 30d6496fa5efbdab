"""The sample bookshop and Sayso, both running, driven through a real Chromium.

A consumer connects the bookshop, shares two of the three fields it asks for, revokes one
on Sayso's Brands page, and the bookshop's next read lacks it; the signed webhook about it
reaches the bookshop. Then the bookshop keeps reading through token refreshes (Sayso
rotates refresh tokens; every token is bound to the bookshop's DPoP key, and each call
carries a proof, retried with Sayso's nonce) until the consumer revokes everything.
Last, the consumer answers the bookshop's question on Sayso and the bookshop shows the
answer, and the bookshop's weekly email goes out once and is refused the second time
(the consumer's weekly cap).
"""

from __future__ import annotations

import re
import sqlite3
from contextlib import closing

import requests
from playwright.sync_api import Page, expect

from tests.e2e.conftest import put_disclosures

INTERESTS = "We'll recommend books about topic #100, crime fiction."
CHANNELS = "We'll email you at most 1 time a week, never between 21:00 and 08:00 (Europe/Paris)."
SHELVES = "We'll show these shelves first"


def connect(page: Page, sayso, bookshop, consumer, fields: list[str], screenshot) -> None:
    """From the bookshop's home page through Sayso's sign-in and consent pages, and back."""
    bookshop.server.wait_ready()
    page.goto(bookshop.url)
    screenshot("bookshop-before")
    page.get_by_role("link", name="Connect with Sayso").click()

    expect(page).to_have_url(re.compile(re.escape(f"{sayso.url}/login")))
    page.get_by_label("Email").fill(consumer.email)
    page.get_by_label("Password").fill(consumer.password)
    page.get_by_role("button", name="Sign in", exact=True).click()

    expect(page.get_by_role("heading", name="Bookshop would like to see")).to_be_visible()
    checkboxes = page.locator("input[type=checkbox][name=field]")
    expect(checkboxes).to_have_count(5)
    for box in checkboxes.all():
        expect(box).not_to_be_checked()
    for field in fields:
        page.locator(f"input[name=field][value={field}]").check()
    screenshot("sayso-consent")
    page.get_by_role("button", name="Allow selected").click()

    expect(page).to_have_url(f"{bookshop.url}/")


def revoke_on_brands_page(page: Page, sayso, field: str | None = None) -> None:
    """Revoke one field of the bookshop's (or, with no field, all of them) on Sayso."""
    page.goto(f"{sayso.url}/brands")
    if field:
        page.locator(f"form[action$='/fields/{field}/revoke']").get_by_role(
            "button", name="Revoke"
        ).click()
        expect(page.get_by_role("status")).to_contain_text("Bookshop can no longer see your")
    else:
        # Revoking everything asks first, on a page naming what will end.
        page.get_by_role("link", name="Revoke everything for Bookshop").click()
        expect(page.get_by_role("heading", name="Revoke everything for Bookshop?")).to_be_visible()
        page.get_by_role("button", name="Yes, revoke everything for Bookshop").click()
        expect(page.get_by_role("status")).to_contain_text("Bookshop can no longer see anything")


def bookshop_tokens(bookshop) -> tuple[str, str]:
    """The (access, refresh) tokens the bookshop holds for its one connection."""
    with closing(sqlite3.connect(bookshop.database)) as db:
        return db.execute("SELECT access_token, refresh_token FROM connections").fetchone()


def tamper_with_tokens(bookshop, sql: str) -> None:
    """Change the bookshop's stored token, as time or a glitch would."""
    with closing(sqlite3.connect(bookshop.database)) as db, db:
        db.execute(sql)


def test_two_of_three_fields_then_a_revoke_reaches_the_bookshop(
    page, sayso, bookshop, consumer, screenshot
):
    connect(page, sayso, bookshop, consumer, ["interests", "channels"], screenshot)
    screenshot("bookshop-connected")
    expect(page.locator("#field-interests")).to_contain_text(INTERESTS)
    expect(page.locator("#field-channels")).to_contain_text(CHANNELS)
    expect(page.locator("#field-browsing_categories")).to_have_count(0)
    expect(page.get_by_text(SHELVES)).to_have_count(0)
    expect(page.locator("#webhook-log")).to_contain_text("Nothing yet.")

    revoke_on_brands_page(page, sayso, "channels")
    screenshot("sayso-brands-after-revoke")

    # The revoke holds on the bookshop's very next read, before any webhook is sent.
    page.goto(bookshop.url)
    expect(page.locator("#field-interests")).to_contain_text(INTERESTS)
    expect(page.locator("#field-channels")).to_have_count(0)
    expect(page.get_by_text("We'll email you")).to_have_count(0)
    expect(page.locator("#webhook-log")).to_contain_text("Nothing yet.")

    assert "delivered 1" in sayso.cli("webhooks", "deliver", "--once")
    page.reload()
    screenshot("bookshop-after-webhook")
    rows = page.locator("#webhook-log tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.locator("td").nth(0)).to_have_text("consent.revoked")
    expect(rows.locator("td").nth(1)).to_have_text("channels")
    expect(page.locator("#field-interests")).to_contain_text(INTERESTS)
    expect(page.locator("#field-channels")).to_have_count(0)


def test_connecting_again_after_signing_out_goes_straight_back_to_the_bookshop(
    page, sayso, bookshop, consumer, screenshot
):
    # Granted once; signed out of Sayso; the bookshop asks again for the same fields. The
    # sign-in form's answer then ends at the bookshop (no consent page), a redirect the
    # browser checks against the sign-in page's form-action.
    every = ["interests", "browsing_categories", "channels", "answers", "contacts"]
    connect(page, sayso, bookshop, consumer, every, screenshot)
    page.goto(f"{sayso.url}/brands")
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("status")).to_contain_text("signed out")

    page.goto(f"{bookshop.url}/connect")
    expect(page).to_have_url(re.compile(re.escape(f"{sayso.url}/login")))
    page.get_by_label("Email").fill(consumer.email)
    page.get_by_label("Password").fill(consumer.password)
    page.get_by_role("button", name="Sign in", exact=True).click()
    expect(page).to_have_url(f"{bookshop.url}/")
    expect(page.locator("#field-interests")).to_contain_text(INTERESTS)


def test_the_bookshop_refreshes_rotated_tokens_until_the_consumer_disconnects(
    page, sayso, bookshop, consumer, screenshot
):
    connect(page, sayso, bookshop, consumer, ["interests"], screenshot)
    expect(page.locator("#field-interests")).to_contain_text(INTERESTS)
    access, refresh = bookshop_tokens(bookshop)
    # Bound to the bookshop's key (DPoP): copied out of its database, the token is refused.
    stolen = requests.get(
        f"{sayso.url}/api/v1/profile", headers={"Authorization": f"Bearer {access}"}, timeout=10
    )
    assert stolen.status_code == 401
    assert stolen.headers["WWW-Authenticate"].startswith('DPoP error="invalid_token"')

    # Expired: refreshed before the read, and the rotated refresh token is kept.
    tamper_with_tokens(bookshop, "UPDATE connections SET expires_at = 0")
    page.reload()
    expect(page.locator("#field-interests")).to_contain_text(INTERESTS)
    access_2, refresh_2 = bookshop_tokens(bookshop)
    assert access_2 != access and refresh_2 != refresh

    # Refused with 401 invalid_token although not expired: refreshed, then read again.
    tamper_with_tokens(bookshop, "UPDATE connections SET access_token = 'no-longer-valid'")
    page.reload()
    expect(page.locator("#field-interests")).to_contain_text(INTERESTS)
    _, refresh_3 = bookshop_tokens(bookshop)
    assert refresh_3 not in {refresh, refresh_2}

    revoke_on_brands_page(page, sayso)
    page.goto(bookshop.url)
    screenshot("bookshop-disconnected")
    expect(page.get_by_text("You disconnected the bookshop from Sayso")).to_be_visible()
    expect(page.get_by_role("link", name="Connect with Sayso again")).to_be_visible()
    expect(page.locator("#field-interests")).to_have_count(0)
    assert bookshop_tokens(bookshop) == (None, None)

    assert "delivered 1" in sayso.cli("webhooks", "deliver", "--once")
    page.reload()
    row = page.locator("#webhook-log tbody tr")
    expect(row).to_have_count(1)
    expect(row.locator("td").nth(1)).to_have_text("interests")


def test_the_bookshop_shows_the_answer_to_its_question_and_asks_before_its_email(
    page, sayso, bookshop, consumer, screenshot
):
    # Email at most once a week and no quiet hours, so the test passes at any hour.
    put_disclosures(
        sayso,
        consumer,
        {
            "interests": [{"text": "crime fiction"}],
            "channels": [{"channel": "email", "max_per_week": 1}],
        },
    )
    connect(
        page,
        sayso,
        bookshop,
        consumer,
        ["interests", "channels", "answers", "contacts"],
        screenshot,
    )
    authors = page.locator("#authors")
    expect(authors).to_contain_text("Which authors should we tell you about?")
    expect(authors).not_to_contain_text("We'll tell you about")

    authors.get_by_role("link", name="Sayso's Questions page").click()
    expect(page).to_have_url(f"{sayso.url}/questions")
    question = page.locator("section", has_text="Which authors should we tell you about?")
    question.get_by_label("Margaret Atwood").check()
    question.get_by_label("Ursula K. Le Guin").check()
    screenshot("sayso-question")
    question.get_by_role("button", name="Answer").click()
    expect(page.get_by_text("Answer saved")).to_be_visible()

    page.goto(bookshop.url)
    expect(authors).to_contain_text("We'll tell you about: Margaret Atwood, Ursula K. Le Guin.")

    page.get_by_role("button", name="Send this week's email").click()
    result = page.locator("#email-result")
    expect(result).to_contain_text("Sent this week's email")
    expect(result).to_contain_text("reported it to Sayso")
    screenshot("bookshop-email-sent")

    page.get_by_role("button", name="Send this week's email").click()
    expect(result).to_contain_text("Not sent: Sayso says")
    expect(result).to_contain_text("(weekly_cap_reached)")
    expect(result).to_contain_text("Next allowed at")
    screenshot("bookshop-email-refused")

    with closing(sqlite3.connect(bookshop.database)) as db:
        sent = db.execute("SELECT channel, reported FROM emails_sent").fetchall()
    assert sent == [("email", 1)]
