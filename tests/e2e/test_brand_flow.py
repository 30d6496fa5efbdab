"""A brand's request as a consumer lives it, in a real Chromium: from the bookshop's Connect
through signing up to the consent page and back to the bookshop without typing a URL; the
consent flow, revoking (with its confirmation and undo) and granting a field again with
the keyboard alone. Each page on the way fits a desktop and a phone window and passes
axe-core (``tests/e2e/page_checks.py``).

With ``SAYSO_E2E_SCREENSHOTS`` set, the pages are saved as ``docs/img/consumer-<name>-
<desktop|phone>.png`` for docs/consumers.md ("Connecting a brand", "Revoking and undoing").
"""

from __future__ import annotations

from playwright.sync_api import Page, expect

from tests.e2e.conftest import PASSWORD, emailed_confirmation_link
from tests.e2e.page_checks import check_at_every_width, set_width

#: Enough presses of Tab to reach anything on these pages.
MAX_TABS = 80


def docs_shot(shoot, name: str):
    """The ``screenshot`` argument of ``check_at_every_width``: ``<name>-desktop`` and
    ``<name>-phone``."""
    return lambda label: shoot(f"{name}-{label.rsplit('-', 1)[1]}")


def tab_to(page: Page, selector: str, focus_shown: bool = True) -> None:
    """Press Tab until the focused element matches ``selector`` (CSS), as a keyboard user
    moves through the page; fails if it is never reached, or (``focus_shown``) reached
    without a visible focus indicator."""
    for _ in range(MAX_TABS):
        page.keyboard.press("Tab")
        if page.evaluate("s => !!document.activeElement?.matches(s)", selector):
            if not focus_shown:
                return
            shown = page.evaluate(
                """() => {
                  const el = document.activeElement, style = getComputedStyle(el);
                  return el.matches(':focus-visible') &&
                    (style.outlineStyle !== 'none' || style.boxShadow !== 'none');
                }"""
            )
            assert shown, f"{selector} has no visible focus"
            return
    raise AssertionError(f"Tab never reached {selector} on {page.url}")


def test_a_new_consumer_goes_from_connect_through_sign_up_to_consent_and_back(
    page, sayso, bookshop, shoot
):
    bookshop.server.wait_ready()
    sayso.server.wait_ready()
    page.goto(bookshop.url)
    page.get_by_role("link", name="Connect with Sayso").click()

    expect(page.get_by_role("heading", name="Sign in to continue to Bookshop")).to_be_visible()
    check_at_every_width(page, "sign in for a brand", docs_shot(shoot, "sign-in-brand"))
    page.get_by_role("link", name="Create an account").click()

    expect(
        page.get_by_role("heading", name="Create your Sayso account to continue to Bookshop")
    ).to_be_visible()
    page.get_by_label("Email").fill("grace@example.org")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign up").click()

    # "Check your email": the link comes by email (this Sayso runs in development, with no
    # mail server: its background mail worker writes each message into instance/mail/).
    expect(page.get_by_role("heading", name="Check your email")).to_be_visible()
    check_at_every_width(page, "check your email")
    page.goto(sayso.url + emailed_confirmation_link(sayso, "grace@example.org"))
    expect(page.get_by_role("heading", name="Confirm your email address")).to_be_visible()
    check_at_every_width(page, "confirm the address")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Confirm and sign in").click()

    # Back at the same request, now signed in: the consent page, nothing filled in yet.
    expect(page.get_by_role("heading", name="Bookshop would like to see")).to_be_visible()
    expect(page.get_by_role("heading", name="Bookshop would also like to")).to_be_visible()
    expect(page.get_by_text("Not verified: bookshop.localhost")).to_be_visible()
    empty = page.get_by_text("You have not filled this in — Bookshop will get nothing.")
    expect(empty).to_have_count(3)  # interests, channels, browsing categories
    expect(page.get_by_text("You have not answered any of Bookshop's questions")).to_be_visible()
    for box in page.locator("input[name=field]").all():
        expect(box).not_to_be_checked()
    check_at_every_width(page, "consent for a new consumer")
    page.locator("input[name=field][value=interests]").check()
    page.get_by_role("button", name="Allow selected").click()

    expect(page).to_have_url(f"{bookshop.url}/")


def test_consent_revoking_undoing_and_granting_again_with_the_keyboard_alone(
    page, sayso, bookshop, consumer, shoot
):
    brand_id = bookshop.brand["brand_id"]
    bookshop.server.wait_ready()
    page.goto(bookshop.url)
    set_width(page, 1280)

    tab_to(page, "a[href$='/connect']", focus_shown=False)  # the bookshop's own page
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Sign in to continue to Bookshop")).to_be_visible()
    tab_to(page, "input[name=email]")
    page.keyboard.type(consumer.email)
    tab_to(page, "input[name=password]")
    page.keyboard.type(consumer.password)
    page.keyboard.press("Enter")

    expect(page.get_by_role("heading", name="Bookshop would like to see")).to_be_visible()
    # What would go, in plain words, before anything is ticked: the preview of the view
    # chosen ("Everything"); the previews of the other views are hidden beside it.
    expect(page.get_by_text("“crime fiction”").locator("visible=true")).to_have_count(1)
    expect(
        page.get_by_text("Email: at most 1 a week, never between 21:00 and 08:00 (Europe/Paris)")
    ).to_be_visible()
    check_at_every_width(page, "consent", docs_shot(shoot, "consent-values"))
    set_width(page, 1280)
    for field in ("interests", "channels"):
        tab_to(page, f"input[name=field][value={field}]")
        page.keyboard.press("Space")
        expect(page.locator(f"input[name=field][value={field}]")).to_be_checked()
    tab_to(page, "button[value=allow]")
    page.keyboard.press("Enter")
    expect(page).to_have_url(f"{bookshop.url}/")
    expect(page.locator("#field-interests")).to_be_visible()

    page.goto(f"{sayso.url}/brands")
    check_at_every_width(page, "brands", docs_shot(shoot, "brands-grants"))
    tab_to(page, f"a[href$='/brands/{brand_id}/revoke']")
    page.keyboard.press("Enter")

    expect(page.get_by_role("heading", name="Revoke everything for Bookshop?")).to_be_visible()
    ending = page.locator("ul.ending")
    expect(ending).to_contain_text("Interests")
    expect(ending).to_contain_text("Channels")
    check_at_every_width(page, "revoke confirmation", docs_shot(shoot, "revoke-confirm"))
    tab_to(page, "button.danger")
    page.keyboard.press("Enter")

    expect(page.get_by_role("status")).to_contain_text("Bookshop can no longer see anything")
    expect(page.get_by_role("link", name="Revoke everything for Bookshop")).to_have_count(0)
    expect(page.get_by_role("heading", name="Changed your mind?")).to_be_visible()
    check_at_every_width(page, "brands after a revoke", docs_shot(shoot, "brands-undo"))
    tab_to(page, "form[action$='/brands/undo'] button")
    page.keyboard.press("Enter")
    expect(page.get_by_role("status")).to_contain_text("Undone: 2 revoked fields")
    expect(page.locator("form[action$='/fields/channels/revoke']")).to_have_count(1)

    # One field revoked, then granted again through its consent step.
    tab_to(page, "form[action$='/fields/channels/revoke'] button")
    page.keyboard.press("Enter")
    expect(page.get_by_role("status")).to_contain_text("Bookshop can no longer see your channels")
    tab_to(page, f"a[href$='/brands/{brand_id}/fields/channels/grant']")
    page.keyboard.press("Enter")
    expect(
        page.get_by_role("heading", name="Let Bookshop see your channels again?")
    ).to_be_visible()
    expect(page.get_by_text("email you no more often than you allow")).to_be_visible()
    check_at_every_width(page, "grant again", docs_shot(shoot, "grant-again"))
    set_width(page, 1280)
    tab_to(page, "button[value=allow]")
    page.keyboard.press("Enter")
    expect(page.get_by_role("status")).to_contain_text("Bookshop can see your channels again")
    expect(page.locator("li.grant", has_text="Channels")).to_contain_text("can see")
