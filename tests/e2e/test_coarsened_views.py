"""Sharing less than everything, in a real Chromium at phone width: the consumer chooses
"only the top-level categories" for interests on the consent page (seeing what the brand
would get with that choice), the brand's read returns exactly that view, the Brands page
shows it and changes it to the first 3, and the brand's next read follows; every page
fits 390 px and passes axe."""

from __future__ import annotations

import requests
from authlib.integrations.requests_client import OAuth2Session
from playwright.sync_api import expect

from tests.e2e.conftest import PASSWORD, free_port, put_disclosures
from tests.e2e.page_checks import assert_page_ok, set_width

INTERESTS = [
    {"topic_id": 102},  # Poetry, in Books & Literature
    {"text": "crime fiction"},
    {"topic_id": 101},  # Children's Literature, in Books & Literature
    {"topic_id": 1},  # Arts & Entertainment
]


def test_a_coarsened_view_chosen_on_the_consent_page_is_what_the_brand_reads(
    page, sayso, consumer, screenshot, bookshop_brand
):
    callback = f"http://127.0.0.1:{free_port()}/callback"
    brand = bookshop_brand(
        callback,
        {
            "interests:read": "recommend books about what you like",
            "channels:read": "email you no more often than you allow",
        },
    )
    sayso.server.wait_ready()
    put_disclosures(sayso, consumer, {"interests": INTERESTS})
    oauth = OAuth2Session(
        brand["client_id"],
        brand["client_secret"],
        redirect_uri=callback,
        scope="interests:read channels:read",
        code_challenge_method="S256",
    )
    verifier = "v" * 64
    url, _ = oauth.create_authorization_url(f"{sayso.url}/oauth/authorize", code_verifier=verifier)
    # The brand's callback is not running: the browser's arrival there is all that is needed.
    page.route(f"{callback}**", lambda route: route.fulfill(body="back at the brand"))

    set_width(page, 390)
    page.goto(url)
    page.get_by_label("Email").fill(consumer.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in", exact=True).click()

    choice = page.get_by_label("How much of your interests may Bookshop see?")
    expect(choice).to_have_value("all")  # everything, as before, unless the consumer says
    interests = page.locator("#what-interests")
    everything = interests.locator('.view-preview[data-view="all"]')
    top_level = interests.locator('.view-preview[data-view="top_level"]')
    expect(everything).to_be_visible()
    expect(top_level).to_be_hidden()
    assert_page_ok(page, "consent page, everything")

    page.locator("input[name=field][value=interests]").check()
    choice.select_option("top_level")
    # The preview follows the choice: the categories only, the free text left out.
    expect(top_level).to_be_visible()
    expect(everything).to_be_hidden()
    expect(top_level.get_by_role("listitem")).to_have_text(
        ["Books & Literature", "Arts & Entertainment"]
    )
    expect(interests.get_by_text("Interests in your own words have no category")).to_be_visible()
    assert_page_ok(page, "consent page, top-level categories")
    screenshot("consent-top-level-390")
    page.get_by_role("button", name="Allow selected").click()
    page.wait_for_url(f"{callback}**")

    token = oauth.fetch_token(
        f"{sayso.url}/oauth/token", authorization_response=page.url, code_verifier=verifier
    )
    assert token["scope"] == "interests:read"

    def read() -> dict:
        answer = requests.get(
            f"{sayso.url}/api/v1/profile",
            headers={"Authorization": f"Bearer {token['access_token']}"},
            timeout=10,
        )
        assert answer.status_code == 200, answer.text
        return answer.json()

    assert read()["interests"] == [{"topic_id": 100}, {"topic_id": 1}]

    # The Brands page says what Bookshop sees, and changes it.
    page.goto(f"{sayso.url}/brands")
    expect(page.get_by_text("Bookshop sees: Only the top-level categories")).to_be_visible()
    assert_page_ok(page, "Brands page with a coarsened view")
    screenshot("brands-view-390")
    page.get_by_label("What Bookshop may see of your interests").select_option("top:3")
    page.get_by_role("button", name="Change what Bookshop may see of your interests").click()
    expect(page.get_by_text("Bookshop sees: Only the first 3, in your order")).to_be_visible()
    page.wait_for_load_state()
    assert_page_ok(page, "Brands page after the change")
    assert read()["interests"] == INTERESTS[:3]

    # The receipt of the change says so, in words.
    page.goto(f"{sayso.url}/receipts")
    page.get_by_role("link", name="Read the receipt").first.click()
    expect(page.get_by_role("heading", name="Consent receipt")).to_be_visible()
    page.wait_for_load_state()  # its stylesheet too, before measuring the width
    expect(page.get_by_text("Only the first 3, in your order").first).to_be_visible()
    assert_page_ok(page, "receipt of a view change")
