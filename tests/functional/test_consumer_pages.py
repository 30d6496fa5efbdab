"""The consumer's own pages through HTTP: the access history grouped for people, in their time
zone; receipts as readable pages with the signed JSON still downloadable; the navigation."""

from __future__ import annotations

import html
import json
import re
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from sayso.extensions import db
from sayso.fields import CHANNEL_LABELS, CHANNELS, FIELDS, PERMISSIONS
from sayso.models import Account
from sayso.services.receipts import verify_receipt
from tests.helpers import PASSWORD, api_headers
from tests.oauth_helpers import ALL_SCOPES, bearer, connect, make_brand
from tests.rights_helpers import consumer_with, events, published_key

STYLESHEET = Path(__file__).parents[2] / "server" / "sayso" / "static" / "sayso.css"
MARKER = "pages-marker-ada-okapi"
#: A zone 14 hours from UTC: every time shown in it differs from UTC's, whatever the hour.
KIRITIMATI = "Pacific/Kiritimati"


@pytest.fixture
def brand(runner):
    return make_brand(runner)


@pytest.fixture
def ada(app, brand):
    """Ada: disclosures, a grant of interests and channels to the bookshop, read 7 times."""
    client = app.test_client()
    consumer_with(client, "ada.pages@example.org", MARKER)
    token = connect(client, brand, ["interests", "channels"])
    for _ in range(7):
        read = client.get("/api/v1/profile", headers=bearer(token["access_token"]))
        assert read.status_code == 200
    return client


def _set_zone(app, zone: str | None) -> None:
    # The channels page sets it (another part of the work); here it is set as it is stored.
    with app.app_context():
        account = db.session.scalar(select(Account).where(Account.role == "consumer"))
        account.time_zone = zone
        db.session.commit()


def _text(page: str) -> str:
    """The page's text, tags dropped and whitespace collapsed, as a person reads it."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", page)).split())


def _reads(app) -> list[dict]:
    return events(app, "api:profile:read")


def _occurred(app, seq: int) -> datetime:
    from sayso.models import AuditEvent

    with app.app_context():
        return db.session.scalar(select(AuditEvent.occurred_at).where(AuditEvent.seq == seq))


def test_history_groups_reads_by_brand_field_and_day(app, ada, brand):
    page = ada.get(f"/brands/{brand['brand_id']}/access")
    assert page.status_code == 200
    text = _text(page.get_data(as_text=True))
    _set_zone(app, None)
    assert "Bookshop read Interests 7 times today" in text
    assert "Bookshop read Channels 7 times today" in text
    # One tally per brand and field, not one row per read; the details one click away.
    assert page.get_data(as_text=True).count("<details>") == 2
    assert ALL_SCOPES["interests:read"] in text
    # No raw ids.
    assert "interests" not in text.replace("Interests", "")
    assert "Times are in UTC, because you have not set your time zone" in text
    assert 'href="/disclosures/channels"' in page.get_data(as_text=True)


def test_history_is_in_the_consumer_s_own_time_zone(app, ada, brand):
    _set_zone(app, KIRITIMATI)
    page = ada.get("/account/access").get_data(as_text=True)
    text = _text(page)
    assert f"Times are in your time zone, {KIRITIMATI}" in text
    zone = ZoneInfo(KIRITIMATI)
    for read in _reads(app):
        at = _occurred(app, read["seq"])
        local = at.astimezone(zone).replace(microsecond=0)
        assert f'datetime="{local.isoformat()}"' in page
        assert local.strftime("%H:%M:%S") in text
        assert at.astimezone(UTC).strftime("%H:%M:%S") not in text  # 14 hours apart
        # The day is the consumer's day, not UTC's.
        assert f"{local.strftime('%A')} {local.day} {local.strftime('%B %Y')}" in text
    assert "Bookshop read Interests 7 times today" in text
    assert 'href="/brands/' in page  # each brand's own history, from the overall one


def test_history_links_receipts_and_my_data_links_history(ada, brand):
    page = ada.get(f"/brands/{brand['brand_id']}/access").get_data(as_text=True)
    assert f'href="/receipts?brand_id={brand["brand_id"]}"' in page
    my_data = ada.get("/account/data").get_data(as_text=True)
    assert 'href="/account/access"' in my_data and 'href="/receipts"' in my_data


def test_history_of_nobody_and_of_an_unknown_brand(app, brand):
    client = app.test_client()
    consumer_with(client, "bo.pages@example.org", MARKER)
    assert "No brand has read anything of yours" in _text(
        client.get("/account/access").get_data(as_text=True)
    )
    assert client.get("/brands/br_nobody/access").status_code == 404
    assert client.get("/account/access?before=0").status_code == 422


def test_a_receipt_is_a_readable_page_with_its_signed_json(app, ada, brand):
    _set_zone(app, "Europe/Paris")
    listing = ada.get("/receipts").get_data(as_text=True)
    (seq,) = re.findall(r'href="/receipts/(\d+)"', listing)
    assert "You let Bookshop see Interests and Channels" in _text(listing)

    page = ada.get(f"/receipts/{seq}")
    assert page.status_code == 200
    body = page.get_data(as_text=True)
    text = _text(body)
    assert "Consent receipt" in text and "Brand Bookshop" in text
    for field in ("interests", "channels"):
        assert FIELDS[field].label in text
        assert ALL_SCOPES[f"{field}:read"] in text
    # Granted for a year (the consent helper's default): the end is said, in her zone.
    assert re.search(r"For how long Until \w+day \d+ \w+ \d{4} at \d\d:\d\d ?, then it ends", text)
    (grant,) = events(app, "consent:grant:created")
    given = _occurred(app, grant["seq"]).astimezone(ZoneInfo("Europe/Paris"))
    assert given.strftime("%B %Y at %H:%M") in text
    assert "What this receipt proves" in text and "How to check it" in text
    assert "/.well-known/sayso-ledger-key.json" in body
    assert f'href="/receipts/{seq}.json"' in body
    assert f'href="/brands/{brand["brand_id"]}/receipts.json"' in body
    assert "@media print" in STYLESHEET.read_text()
    # Nothing the receipt does not hold: none of Ada's values, nor her email.
    assert MARKER not in body and "ada.pages@example.org" not in body
    assert "crime" not in body

    download = ada.get(f"/receipts/{seq}.json")
    assert download.headers["Content-Disposition"].startswith("attachment;")
    receipt = download.get_json()
    assert verify_receipt(receipt, published_key(ada))
    assert receipt["record_id"] in body  # the page and the JSON are the same receipt


def test_a_withdrawal_receipt_says_so(app, ada, brand):
    revoked = ada.delete(f"/api/v1/me/grants/{brand['brand_id']}", headers=api_headers(ada))
    assert revoked.status_code in (200, 204), revoked.get_data(as_text=True)
    listing = ada.get(f"/receipts?brand_id={brand['brand_id']}").get_data(as_text=True)
    newest, _older = re.findall(r'href="/receipts/(\d+)"', listing)
    text = _text(ada.get(f"/receipts/{newest}").get_data(as_text=True))
    assert "You stopped Bookshop seeing" in text
    assert "You revoked it yourself" in text


def test_receipts_of_someone_else_or_of_nothing_are_not_found(app, ada, brand):
    other = app.test_client()
    consumer_with(other, "eve.pages@example.org", "eve-marker")
    (grant,) = events(app, "consent:grant:created")
    assert other.get(f"/receipts/{grant['seq']}").status_code == 404
    assert other.get(f"/receipts/{grant['seq']}.json").status_code == 404
    assert other.get("/receipts/99999999999999999999").status_code == 404
    assert other.get("/receipts?brand_id=br_nobody").status_code == 404
    assert "No receipts yet" in _text(other.get("/receipts").get_data(as_text=True))
    anonymous = app.test_client()
    assert anonymous.get(f"/receipts/{grant['seq']}").status_code in (302, 401)


def test_navigation_marks_the_current_page_and_has_a_skip_link(ada):
    page = ada.get("/account/data").get_data(as_text=True)
    assert '<html lang="en">' in page
    assert '<a class="skip-link" href="#content">' in page and 'id="content"' in page
    assert '<nav aria-label="Main">' in page
    assert re.search(r'<a href="/account/data"\s+aria-current="page">My data</a>', page)
    assert page.count("aria-current") == 1
    history = ada.get("/account/access").get_data(as_text=True)
    assert re.search(r'<a href="/account/data"\s+aria-current="true">My data</a>', history)
    # The menu works without JavaScript: it is served open.
    assert '<details class="menu" open>' in page


def test_every_channel_and_grantable_has_a_plain_label():
    assert set(CHANNEL_LABELS) == set(CHANNELS)
    for label in [
        *CHANNEL_LABELS.values(),
        *(f.label for f in [*FIELDS.values(), *PERMISSIONS.values()]),
    ]:
        assert "_" not in label and label[0].isupper()


def test_pages_never_show_raw_field_ids(app, ada):
    raw_ids = ("browsing_categories", "in_app", "topic_id", "max_per_week", ":read")
    for path in (
        "/",
        "/account/data",
        "/account/password",
        "/account/access",
        "/receipts",
        "/no-such-page",
    ):
        text = _text(ada.get(path).get_data(as_text=True))
        for word in raw_ids:
            assert word not in text, (path, word)


def test_the_json_receipt_list_download_still_works(ada, brand):
    response = ada.get(f"/brands/{brand['brand_id']}/receipts.json")
    assert response.status_code == 200
    assert json.loads(response.get_data())[0]["controller"]["name"] == "Bookshop"


def test_the_erased_page_names_what_was_revoked_in_plain_words(app, runner):
    scopes = {**ALL_SCOPES, "answers:read": "tell you about the authors you choose"}
    brand = make_brand(runner, scopes=scopes)
    client = app.test_client()
    consumer_with(client, "cy.pages@example.org", MARKER)
    connect(client, brand, ["interests", "answers", "browsing_categories"], scope=" ".join(scopes))
    token = re.search(
        r'name="csrf_token" value="([^"]+)"', client.get("/account/data").get_data(as_text=True)
    ).group(1)
    erased = client.post(
        "/account/erase", data={"password": PASSWORD, "confirm": "yes", "csrf_token": token}
    )
    assert erased.status_code == 200, erased.get_data(as_text=True)
    text = _text(erased.get_data(as_text=True))
    revoked = re.search(r"Bookshop: (.*?) These brands have been told", text).group(1)
    assert set(revoked.split(", ")) == {"Interests", "Browsing categories", "Your answers"}
    assert "browsing_categories" not in text
