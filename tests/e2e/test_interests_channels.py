"""The topic browser and the channels editor in a real Chromium, with script: topics are
added and removed without a page reload, with the keyboard alone; the time zone is
detected from the browser; both pages fit a phone and pass axe-core at every width.

With ``SAYSO_E2E_SCREENSHOTS`` set (``make screenshots``), the pages are saved as
``docs/img/consumer-interests-*.png`` and ``docs/img/consumer-channels-*.png``.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import PASSWORD, Consumer, put_disclosures
from tests.e2e.page_checks import check_at_every_width


@pytest.fixture
def newcomer(sayso) -> Consumer:
    """A consumer with reviewed browsing categories, and no interests or channels yet."""
    email = "bea@example.org"
    sayso.cli("consumers", "create", email, "--password-stdin", input=PASSWORD + "\n")
    sayso.server.wait_ready()
    consumer = Consumer(email, PASSWORD)
    put_disclosures(
        sayso,
        consumer,
        {
            "browsing_categories": [
                {"topic_id": 332, "weight": 0.8},
                {"topic_id": 100, "weight": 0.4},
            ]
        },
    )
    return consumer


def sign_in(page: Page, sayso, consumer: Consumer) -> None:
    page.goto(f"{sayso.url}/login")
    page.locator("input[name=email]").fill(consumer.email)
    page.locator("input[name=password]").fill(consumer.password)
    page.get_by_role("button", name="Sign in", exact=True).click()
    page.wait_for_url(f"{sayso.url}/**")


def tab_to(page: Page, selector: str, presses: int = 120) -> None:
    """Press Tab (only) until the focused element matches ``selector``."""
    for _ in range(presses):
        if page.evaluate("(s) => document.activeElement?.matches(s) ?? false", selector):
            return
        page.keyboard.press("Tab")
    pytest.fail(f"Tab never reached {selector}")


def chosen(page: Page) -> list[str]:
    return [
        " ".join(text.split()) for text in page.locator("#chosen .topic-name").all_inner_texts()
    ]


def test_topics_are_added_and_removed_with_the_keyboard_without_reload(
    page, sayso, newcomer, shoot
):
    sign_in(page, sayso, newcomer)
    page.goto(f"{sayso.url}/disclosures/interests")
    check_at_every_width(page, "interests", shoot)
    # A mark the page would lose if it reloaded.
    page.evaluate("() => { window.notReloaded = true; }")

    # Search with everyday words, typed and sent with Enter.
    tab_to(page, "#topic-search")
    page.keyboard.type("novels")
    page.keyboard.press("Enter")
    results = page.locator("#search .topic-list")
    expect(results).to_contain_text("Books & Literature")
    assert "q=novels" in page.url

    # Add the first result: Tab to its button, Enter.
    tab_to(page, '#search button[data-focus="result-100"]')
    page.keyboard.press("Enter")
    expect(page.locator("#chosen")).to_contain_text("Books & Literature")
    expect(page.locator("#interest-status")).to_have_text("Added Books & Literature.")
    # Focus stays on that topic, whose button now removes it.
    focused = page.locator(":focus")
    expect(focused).to_have_attribute("data-focus", "result-100")
    expect(focused).to_have_text("Remove Books & Literature")

    # A suggestion from the browsing categories, then a category opened by its link.
    tab_to(page, '#suggested-heading ~ ul button[data-focus="suggested-332"]')
    page.keyboard.press("Enter")
    expect(page.locator("#chosen")).to_contain_text("Travel & Transportation")
    tab_to(page, '#browse a[href*="category=1#"]')
    page.keyboard.press("Enter")
    expect(page.locator("#browse")).to_contain_text("Arts & Entertainment itself")
    tab_to(page, '#browse a[href*="category=12#"]')
    page.keyboard.press("Enter")
    tab_to(page, '#browse button[data-focus="browse-15"]')
    page.keyboard.press("Enter")
    expect(page.locator("#chosen")).to_contain_text(
        "Comedy Films in Arts & Entertainment \u203a Movies"
    )

    # Words of one's own.
    tab_to(page, "#interest-text")
    page.keyboard.type("crime fiction")
    page.keyboard.press("Enter")
    expect(page.locator("#chosen")).to_contain_text("“crime fiction” in your own words")

    assert chosen(page) == [
        "Books & Literature",
        "Travel & Transportation",
        "Comedy Films in Arts & Entertainment \u203a Movies",
        "“crime fiction” in your own words",
    ]
    check_at_every_width(page, "interests-chosen", shoot)

    # Remove one, by keyboard: it goes, and focus lands on the list.
    page.locator("#chosen-heading").focus()
    tab_to(page, '#chosen button[data-focus="chosen-332"]')
    page.keyboard.press("Enter")
    expect(page.locator("#chosen")).not_to_contain_text("Travel & Transportation")
    expect(page.locator("#interest-status")).to_have_text("Removed Travel & Transportation.")
    assert page.evaluate("() => window.notReloaded === true"), "the page reloaded"

    # The same is saved: a fresh load shows it.
    page.reload()
    assert chosen(page) == [
        "Books & Literature",
        "Comedy Films in Arts & Entertainment \u203a Movies",
        "“crime fiction” in your own words",
    ]


def test_the_time_zone_is_detected_and_quiet_hours_kept_in_it(page, sayso, newcomer, shoot):
    # The browser says it is in Tokyo.
    page.context.new_cdp_session(page).send(
        "Emulation.setTimezoneOverride", {"timezoneId": "Asia/Tokyo"}
    )
    sign_in(page, sayso, newcomer)
    page.goto(f"{sayso.url}/disclosures/channels")
    zone = page.locator("#time_zone")
    expect(zone).to_have_value("Asia/Tokyo")
    expect(page.locator("#time-zone-detected")).to_contain_text("We filled in Asia/Tokyo")
    # Caps start empty.
    for name in ("email", "sms", "in_app"):
        expect(page.locator(f"input[name=max_{name}]")).to_have_value("")
    check_at_every_width(page, "channels", shoot)

    # Typed as a city, in lower case.
    zone.fill("paris")
    page.locator("input[name=enabled_email]").check()
    page.locator("input[name=max_email]").fill("2")
    page.locator("input[name=quiet_start_email]").fill("21:00")
    page.locator("input[name=quiet_end_email]").fill("08:00")
    page.locator("input[name=enabled_sms]").check()
    page.locator("input[name=max_sms]").fill("0")
    page.get_by_role("button", name="Save channels").click()
    page.wait_for_url(f"{sayso.url}/disclosures")
    expect(
        page.get_by_text("Email: at most 2 a week, never between 21:00 and 08:00 (Paris time)")
    ).to_be_visible()
    expect(page.get_by_text("Text message (SMS): never on this channel")).to_be_visible()

    # Back on the page: the saved zone, not the browser's.
    page.goto(f"{sayso.url}/disclosures/channels")
    expect(zone).to_have_value("Europe/Paris")
    expect(page.locator("#time-zone-detected")).to_have_text("")
