"""The brand portal and the officer console in a real Chromium, against Sayso under gunicorn.

A brand member writes a question, edits the draft, publishes it after the confirmation that
says how many consumers it reaches, closes it, and reads its client's dashboard. An
officer then finds the brand's events by the brand's name and a type picked from its group.
Every portal and console page is checked at desktop and phone width (no sideways scrolling,
no serious axe-core violation). With ``SAYSO_E2E_SCREENSHOTS`` set, the pages the guides
show are saved as ``docs/img/portal-*.png`` and ``docs/img/console-*.png``.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import requests
from playwright.sync_api import Page, expect

from tests.e2e import page_checks
from tests.e2e.conftest import BRAND_MEMBER, PASSWORD, ROOT, brand_access_token, signed_in
from tests.e2e.page_checks import set_width

DOCS_IMG = ROOT / "docs" / "img"
OFFICER = "olive@sayso.example"
REDIRECT = "https://bookshop.example/callback"


def _doc_shot(page: Page, name: str, e2e_dir: Path) -> None:
    """The page as the guides show it, at desktop width: into docs/img/ when
    ``SAYSO_E2E_SCREENSHOTS`` is set, else into the test's tmp dir."""
    folder = DOCS_IMG if os.environ.get("SAYSO_E2E_SCREENSHOTS") else e2e_dir / "shots"
    folder.mkdir(parents=True, exist_ok=True)
    set_width(page, 1280)
    page.screenshot(path=str(folder / f"{name}.png"), full_page=True)


def _brand(sayso) -> dict:
    return json.loads(
        sayso.cli(
            "brands", "create", "Bookshop",
            "--domain", "bookshop.example",
            "--redirect-uri", REDIRECT,
            "--scope", "interests:read=recommend books about what you like",
            "--scope", "channels:read=email you no more often than you allow",
            "--scope", "answers:read=tell you about the authors you choose",
            "--webhook-url", "https://bookshop.example/webhooks/sayso",
            "--json",
        )
    )  # fmt: skip


def _allow_and_read(sayso, consumer, brand) -> None:
    """The consumer allows interests and answers on the consent page (leaving channels
    unticked), the brand reads the profile once, and the consumer revokes answers: what the
    dashboard then counts."""
    access = brand_access_token(
        sayso,
        consumer,
        brand,
        ["interests:read", "channels:read", "answers:read"],
        ["interests", "answers"],
        REDIRECT,
    )
    read = requests.get(
        f"{sayso.url}/api/v1/profile",
        headers={"Authorization": f"Bearer {access}"},
        timeout=10,
    )
    assert read.status_code == 200, read.text
    # Then takes "Your answers" back: a webhook delivery for the brand, queued.
    with signed_in(sayso, consumer.email, consumer.password) as http:
        me = http.get(f"{sayso.url}/api/v1/me", timeout=10).json()
        revoked = http.delete(
            f"{sayso.url}/api/v1/me/grants/{brand['brand_id']}/answers",
            headers={"X-CSRFToken": me["csrf_token"]},
            timeout=10,
        )
    assert revoked.status_code in (200, 204), revoked.text


def _sign_in(page: Page, sayso, email: str) -> None:
    page.context.clear_cookies()
    page.goto(f"{sayso.url}/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in", exact=True).click()


#: What ``check_at_every_width`` found wrong, gathered so one run reports every page.
FAILURES: list[str] = []


def check_at_every_width(page: Page, label: str) -> None:
    """``page_checks.check_at_every_width``; a failure is noted and the walk goes on, back
    at desktop width."""
    try:
        page_checks.check_at_every_width(page, label)
    except AssertionError as failure:
        FAILURES.append(str(failure))
    set_width(page, 1280)


def _checked(page: Page, url: str, label: str) -> None:
    page.goto(url)
    check_at_every_width(page, label)


def test_a_brand_runs_its_question_and_dashboard_and_an_officer_finds_its_events(
    page: Page, sayso, consumer, e2e_dir
):
    FAILURES.clear()
    brand = _brand(sayso)
    sayso.cli("brands", "add-member", brand["brand_id"], BRAND_MEMBER, "--password-stdin",
              input=PASSWORD)  # fmt: skip
    sayso.cli("officers", "create", OFFICER, "--password-stdin", input=PASSWORD + "\n")
    _allow_and_read(sayso, consumer, brand)
    portal = f"{sayso.url}/portal"

    # The brand member writes a draft: saved, said so, and listed as a draft.
    _sign_in(page, sayso, BRAND_MEMBER)
    set_width(page, 1280)
    page.goto(f"{portal}/questions")
    page.get_by_label("Kind").select_option("single")
    page.get_by_label("Question", exact=True).fill("Which author first?")
    page.get_by_label("Purpose").fill("email you when their next book is out")
    page.get_by_label("Choices").fill("Margaret Atwood\nMichael Chabon")
    page.get_by_role("button", name="Save as a draft").click()
    expect(page.get_by_role("status")).to_contain_text("is saved as a draft")
    row = page.locator("#questions tbody tr").first
    expect(row.locator("td").nth(2)).to_have_text("Draft")
    check_at_every_width(page, "portal questions")

    # Edits the draft.
    row.get_by_role("link", name=re.compile("^Edit")).click()
    check_at_every_width(page, "portal edit")
    page.get_by_label("Question", exact=True).fill("Which author should we tell you about first?")
    page.get_by_role("button", name="Save the draft").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "Which author should we tell you about first?"
    )
    check_at_every_width(page, "portal question")

    # Publishes it after the confirmation, which says how many consumers it reaches.
    page.get_by_role("link", name="Publish…").click()
    expect(page.locator("#audience")).to_contain_text("1 consumer who grants")
    check_at_every_width(page, "portal publish")
    _doc_shot(page, "portal-publish", e2e_dir)
    page.get_by_role("button", name="Publish to 1 consumer").click()
    expect(page.get_by_role("status")).to_contain_text("Published. 1 consumer who grants")
    expect(page.locator("#question-state")).to_contain_text("Published")

    # The list shows the state, not a button.
    page.goto(f"{portal}/questions")
    expect(page.locator("#questions tbody tr").first.locator("td").nth(2)).to_contain_text(
        "Published"
    )
    expect(page.locator("#questions").get_by_role("button")).to_have_count(0)
    _doc_shot(page, "portal-questions", e2e_dir)

    # Closes it after saying what that means for the answers given.
    page.locator("#questions").get_by_role("link", name=re.compile("^Close…")).click()
    expect(page.locator("#what-close-means")).to_contain_text("The answers already given stay")
    check_at_every_width(page, "portal close")
    page.get_by_role("button", name="Close the question").click()
    expect(page.get_by_role("status")).to_contain_text("Closed. Consumers can no longer answer")
    expect(page.locator("#question-state")).to_contain_text("Closed")

    # The client's dashboard: the read, the webhook, the consent decision by field.
    page.goto(portal)
    page.get_by_role("link", name="dashboard of Bookshop").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("how the integration runs")
    expect(page.locator("#reads-errors")).to_contain_text("1 read · 0 errors")
    expect(page.locator("svg.chart rect.bar-reads")).to_have_count(1)
    expect(page.locator("#consent-allowed")).to_have_text("1")
    fields = page.locator("#consent-fields tbody tr")
    expect(fields).to_have_count(3)
    expect(fields.nth(1)).to_contain_text("Channels")
    expect(page.locator("#webhooks-pending")).to_have_text("1")
    check_at_every_width(page, "portal dashboard")
    _doc_shot(page, "portal-dashboard", e2e_dir)

    # Every other portal page.
    client = f"{portal}/clients/{brand['client_id']}"
    for url, label in [
        (portal, "portal overview"),
        (client, "portal client"),
        (f"{portal}/clients/new", "portal new client"),
        (f"{client}/delete", "portal delete"),
        (f"{portal}/deliveries", "portal deliveries"),
        (f"{portal}/registration", "portal registration"),
    ]:
        _checked(page, url, label)
    page.goto(f"{portal}/registration")
    page.get_by_role("button", name="Issue a new initial access token").click()
    check_at_every_width(page, "portal secret")
    _checked(page, f"{portal}/registration", "portal registration with a token")
    expect(page.locator("#deliveries tbody tr")).to_have_count(0)  # not on this page
    _checked(page, f"{portal}/deliveries", "portal deliveries with one")
    expect(page.locator("#deliveries tbody tr")).to_have_count(1)

    # The consumer sees the question marked closed, with no form to answer it.
    _sign_in(page, sayso, consumer.email)
    page.goto(f"{sayso.url}/questions")
    closed = page.locator("section.closed-question")
    expect(closed).to_contain_text("Closed")
    expect(closed).to_contain_text("takes no new answers")
    expect(closed.get_by_role("button")).to_have_count(0)  # not answered: nothing to remove
    check_at_every_width(page, "consumer questions with a closed one")

    # The officer: the brand picked by its name, a type picked from its group.
    _sign_in(page, sayso, OFFICER)
    set_width(page, 1280)
    page.goto(f"{sayso.url}/console")
    expect(page.locator("#own-views-hidden")).to_be_visible()
    page.locator("select[name=brand]").select_option(label=f"Bookshop ({brand['brand_id']})")
    types = page.locator("select[name=type]")
    expect(
        types.locator("optgroup[label='Brands'] option", has_text="Question closed")
    ).to_have_count(1)
    types.select_option(label="Question closed")
    page.get_by_role("button", name="Search").click()
    expect(page).to_have_url(re.compile(r"type=brand%3Aquestion%3Aclosed"))
    rows = page.locator("table.events-table tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("Question closed")
    expect(rows.first).to_contain_text("Bookshop")
    _doc_shot(page, "console-events", e2e_dir)
    check_at_every_width(page, "console events")
    set_width(page, 390)
    page.screenshot(path=str(_shot_dir(e2e_dir) / "console-events-phone.png"), full_page=True)

    page.goto(f"{sayso.url}/console?brand={brand['brand_id']}")
    expect(rows.first).to_be_visible()
    rows.first.get_by_role("link").first.click()
    expect(page.locator("#raw-type")).to_contain_text(":")
    check_at_every_width(page, "console event")
    for path, label in [
        ("/console?own_views=yes", "console events with own views"),
        ("/console/log", "console log"),
        ("/console/activity", "console activity"),
        ("/console/brands", "console brands"),
        (f"/console/brands/{brand['brand_id']}", "console brand"),
        ("/console/breaches", "console breaches"),
        ("/console/erasures", "console erasures"),
        ("/console?since=2026-13-01", "console refused filter"),
    ]:
        _checked(page, f"{sayso.url}{path}", label)
    assert not FAILURES, "\n\n".join(FAILURES)


def _shot_dir(e2e_dir: Path) -> Path:
    folder = DOCS_IMG if os.environ.get("SAYSO_E2E_SCREENSHOTS") else e2e_dir / "shots"
    folder.mkdir(parents=True, exist_ok=True)
    return folder
