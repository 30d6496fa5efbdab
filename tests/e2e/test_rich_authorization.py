"""The consent page of a request with RFC 9396 ``authorization_details``, in a real Chromium:
each entry with what it asks (see or do), its purpose and its own duration, at phone width
and with axe; the consumer's ticks and durations decide what Authlib's client receives."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from authlib.integrations.requests_client import OAuth2Session
from playwright.sync_api import expect

from tests.e2e.conftest import PASSWORD, free_port
from tests.e2e.page_checks import check_at_every_width, set_width

INTERESTS = "recommend books about what you like"
CONTACTS = "show you how often we email you"


def test_the_consent_page_shows_authorization_details_at_phone_width(
    page, sayso, consumer, screenshot, bookshop_brand
):
    callback = f"http://127.0.0.1:{free_port()}/callback"
    brand = bookshop_brand(
        callback,
        {
            "interests:read": INTERESTS,
            "channels:read": "email you no more often than you allow",
            "contacts:write": CONTACTS,
        },
    )
    oauth = OAuth2Session(
        brand["client_id"],
        brand["client_secret"],
        redirect_uri=callback,
        code_challenge_method="S256",
    )
    verifier = "v" * 64
    details = [
        {
            "type": "sayso_field",
            "field": "interests",
            "access": "read",
            "purpose": INTERESTS,
            "duration": "30d",
        },
        {"type": "sayso_field", "field": "contacts", "access": "write", "purpose": CONTACTS},
    ]
    url, _ = oauth.create_authorization_url(
        f"{sayso.url}/oauth/authorize",
        code_verifier=verifier,
        scope="channels:read",
        authorization_details=json.dumps(details),
    )
    # The brand's callback is not running: the browser's arrival there is all that is needed.
    page.route(f"{callback}**", lambda route: route.fulfill(body="back at the brand"))

    sayso.server.wait_ready()
    page.goto(url)
    page.get_by_label("Email").fill(consumer.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in", exact=True).click()

    expect(page.get_by_role("heading", name="Bookshop would like to see")).to_be_visible()
    expect(
        page.get_by_text("Bookshop asks to see this, not to change it, for 30 days.")
    ).to_be_visible()
    expect(page.get_by_text("Bookshop asks to do this for 1 year.")).to_be_visible()
    expect(page.get_by_text(f"“{CONTACTS}”")).to_be_visible()
    interests_for = page.get_by_label("How long interests stays shared")
    expect(interests_for).to_have_value("30d")
    expect(page.get_by_role("group", name="For how long? (everything else)")).to_be_visible()
    check_at_every_width(page, "consent with authorization details", screenshot)
    set_width(page, 390)

    # Interests for a year instead of 30 days, channels by scope; contacts left unticked.
    page.locator("input[name=field][value=interests]").check()
    page.locator("input[name=field][value=channels]").check()
    interests_for.select_option("1y")
    page.get_by_role("button", name="Allow selected").click()
    page.wait_for_url(f"{callback}**")

    token = oauth.fetch_token(
        f"{sayso.url}/oauth/token", authorization_response=page.url, code_verifier=verifier
    )
    assert set(token["scope"].split()) == {"interests:read", "channels:read"}
    [granted] = token["authorization_details"]
    assert granted["field"] == "interests" and granted["access"] == "read"
    assert granted["purpose"] == INTERESTS
    expires = datetime.fromisoformat(granted["expires_at"].replace("Z", "+00:00"))
    assert abs(expires - datetime.now(UTC) - timedelta(days=365)) < timedelta(minutes=5)
    refreshed = oauth.refresh_token(f"{sayso.url}/oauth/token")
    assert refreshed["authorization_details"] == [granted]
