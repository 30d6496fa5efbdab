"""Sharing less than everything, through HTTP: the consent page's choice of view, the
brand's read of exactly that view, the receipt and ledger event that record it (names and
parameters, no values), the Brands page's change, grant again and undo keeping it, and the
consumer API."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import pytest
from markupsafe import escape
from sqlalchemy import select

from sayso.coarsening import Coarsener, View, noise_key
from sayso.extensions import db
from sayso.ledger import EventType
from sayso.models import Grant
from sayso.services.receipts import verify_receipt
from sayso.taxonomy import topics
from tests.helpers import api_headers, sign_up
from tests.oauth_helpers import (
    authorize_url,
    bearer,
    exchange,
    make_brand,
    pkce,
    redirect_query,
)
from tests.rights_helpers import events, published_key

_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
POETRY, CHILDRENS, BOOKS, ARTS, AUTOS = 102, 101, 100, 1, 57

INTERESTS = [
    {"topic_id": POETRY},
    {"text": "crime fiction"},
    {"topic_id": CHILDRENS},
    {"topic_id": ARTS},
    {"topic_id": BOOKS},
]
BROWSING = [
    {"topic_id": POETRY, "weight": 0.2},
    {"topic_id": ARTS, "weight": 0.5},
    {"topic_id": CHILDRENS, "weight": 0.9},
    {"topic_id": AUTOS, "weight": 0.4},
]
CHANNELS = [{"channel": "email", "max_per_week": 2}]


@pytest.fixture
def brand(runner):
    return make_brand(runner)


@pytest.fixture
def consumer(client):
    sign_up(client, "ada@example.org")
    document = {"interests": INTERESTS, "browsing_categories": BROWSING, "channels": CHANNELS}
    response = client.put("/api/v1/me/disclosures", json=document, headers=api_headers(client))
    assert response.status_code == 200, response.get_data(as_text=True)
    return client


def _consent(client, brand, fields, views, expiry="1y"):
    """Tick ``fields`` on the consent page with ``views`` chosen; (token response, page)."""
    verifier, challenge = pkce()
    url = authorize_url(brand, challenge=challenge, prompt="consent")
    page = client.get(url)
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    form = {
        "csrf_token": _CSRF.search(html).group(1),
        "decision": "allow",
        "field": fields,
        "expiry": expiry,
        **{f"view-{field}": token for field, token in views.items()},
    }
    answer = client.post(url, data=form)
    assert answer.status_code == 302, answer.get_data(as_text=True)
    issued = exchange(
        client.application.test_client(), brand, redirect_query(answer)["code"], verifier
    )
    assert issued.status_code == 200, issued.get_data(as_text=True)
    return issued.get_json(), html


def _read(client, token) -> dict:
    response = client.application.test_client().get("/api/v1/profile", headers=bearer(token))
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()


def _noised(app, brand, field, value, rate):
    """What the brand must get of ``value`` noised at ``rate`` %, computed apart."""
    grant = _grant(app, field)  # the grant is consumer x brand x field
    account_id, brand_id = grant.account_id, grant.brand_id
    coarsener = Coarsener(noise_key(app.config["SUBJECT_KEY_BYTES"]))
    return coarsener.view(field, value, View("noised", rate), account_id, brand_id)


def _grant(app, field) -> Grant:
    with app.app_context():
        grant = db.session.scalar(select(Grant).where(Grant.field == field))
        db.session.expunge(grant)
        return grant


EXPECTED = {
    ("interests", "all"): INTERESTS,
    ("interests", "top_level"): [{"topic_id": BOOKS}, {"topic_id": ARTS}],
    ("interests", "top:3"): INTERESTS[:3],
    ("interests", "top:10"): INTERESTS,
    ("browsing_categories", "all"): BROWSING,
    ("browsing_categories", "top_level"): [
        {"topic_id": BOOKS, "weight": 0.9},
        {"topic_id": ARTS, "weight": 0.5},
        {"topic_id": AUTOS, "weight": 0.4},
    ],
    ("browsing_categories", "top:3"): [BROWSING[2], BROWSING[1], BROWSING[3]],
}


@pytest.mark.parametrize(("field", "view"), list(EXPECTED), ids=lambda v: str(v))
def test_the_brand_reads_exactly_the_view_chosen_on_the_consent_page(
    app, consumer, brand, field, view
):
    issued, html = _consent(consumer, brand, [field, "channels"], {field: view})
    document = _read(consumer, issued["access_token"])
    assert document[field] == EXPECTED[(field, view)]
    assert document["channels"] == CHANNELS  # always whole
    # The page offered the choice, everything chosen by default, with a preview of each.
    assert f'name="view-{field}"' in html
    assert '<option value="all" selected>Everything</option>' in html
    assert f'data-view="{view}"' in html
    assert _grant(app, field).coarse_view == View.parse(view)


@pytest.mark.parametrize("field", ["interests", "browsing_categories"])
def test_a_noised_view_is_the_same_on_every_read_and_as_previewed(app, consumer, brand, field):
    value = INTERESTS if field == "interests" else BROWSING
    issued, html = _consent(consumer, brand, [field], {field: "noised:10"})
    expected = _noised(app, brand, field, value, 10)
    reads = [_read(consumer, issued["access_token"])[field] for _ in range(3)]
    assert reads == [expected] * 3
    # The consent page previewed exactly these entries for this choice.
    mine = html.split(f'id="what-{field}"', 1)[1]
    block = mine.split('data-view="noised:10">', 1)[1].split("</ul>", 1)[0]
    items = re.findall(r"<li>(.*?)</li>", block)
    assert len(items) == len(expected)
    for item, entry in zip(items, expected, strict=True):
        if "topic_id" in entry:
            assert escape(topics()[entry["topic_id"]].name) in item
        else:
            assert entry["text"] in item
    # A token issued later reads the same noise: nothing to average away.
    again, _ = _consent(consumer, brand, [field], {field: "noised:10"})
    assert _read(consumer, again["access_token"])[field] == expected


def test_many_interests_noised_keep_the_real_ones_in_place_and_replace_the_rest(app, client, brand):
    # The most interests a consumer may hold, noised at 10 %: each entry is either the
    # consumer's own, in its place, or a topic the value does not hold, never repeated.
    sign_up(client, "ada@example.org")
    value = [{"topic_id": t} for t in sorted(topics())[:50]]
    response = client.put(
        "/api/v1/me/disclosures", json={"interests": value}, headers=api_headers(client)
    )
    assert response.status_code == 200
    issued, _ = _consent(client, brand, ["interests"], {"interests": "noised:10"})
    shown = _read(client, issued["access_token"])["interests"]
    assert shown == _noised(app, brand, "interests", value, 10)
    kept = [a for a, b in zip(value, shown, strict=True) if a == b]
    swapped = [b["topic_id"] for a, b in zip(value, shown, strict=True) if a != b]
    assert len(kept) + len(swapped) == 50
    assert not set(swapped) & {v["topic_id"] for v in value}
    assert len(set(swapped)) == len(swapped)


def test_free_text_is_left_out_of_a_top_level_view_and_the_page_says_so(app, client, brand):
    sign_up(client, "ada@example.org")
    value = [{"text": "crime fiction"}, {"text": "jazz"}]
    client.put("/api/v1/me/disclosures", json={"interests": value}, headers=api_headers(client))
    issued, html = _consent(client, brand, ["interests"], {"interests": "top_level"})
    assert _read(client, issued["access_token"])["interests"] == []
    assert "Interests in your own words have no category" in html
    assert "would get nothing: all your interests are in your own words" in html


def test_the_receipt_and_the_ledger_event_record_the_view_and_no_value(app, consumer, brand):
    views = {"interests": "top_level", "browsing_categories": "top:5"}
    _consent(consumer, brand, ["interests", "browsing_categories", "channels"], views)
    (receipt,) = consumer.get("/api/v1/me/receipts").get_json()
    assert receipt["views"] == {
        "browsing_categories": {"name": "top", "parameter": 5},
        "interests": {"name": "top_level", "parameter": None},
    }
    assert verify_receipt(receipt, published_key(consumer))
    (download,) = consumer.get(f"/brands/{brand['brand_id']}/receipts.json").get_json()
    assert download["views"] == receipt["views"]
    assert verify_receipt(download, published_key(consumer))
    page = consumer.get(f"/receipts/{receipt['ledger']['seq']}").get_data(as_text=True)
    assert "Only the top-level categories (your own words are left out)" in page
    assert "Only the top 5, by weight" in page
    (event,) = events(app, str(EventType.CONSENT_GRANTED))
    assert event["details"]["views"] == receipt["views"]
    assert b"crime fiction" not in event["canonical"] and b"Poetry" not in event["canonical"]


def test_the_read_event_names_the_view_and_no_value(app, consumer, brand):
    issued, _ = _consent(consumer, brand, ["interests"], {"interests": "top:3"})
    _read(consumer, issued["access_token"])
    (read,) = events(app, str(EventType.PROFILE_READ))
    assert read["details"]["views"] == {"interests": {"name": "top", "parameter": 3}}
    assert b"crime fiction" not in read["canonical"]


def _form_token(client, path="/brands") -> str:
    return _CSRF.search(client.get(path).get_data(as_text=True)).group(1)


def test_a_change_on_the_brands_page_is_a_grant_event_and_the_next_read_shows_it(
    app, consumer, brand
):
    issued, _ = _consent(consumer, brand, ["interests", "channels"], {})
    assert _read(consumer, issued["access_token"])["interests"] == INTERESTS
    page = consumer.get("/brands").get_data(as_text=True)
    assert "Bookshop sees: Everything" in page
    before = _grant(app, "interests")
    url = f"/brands/{brand['brand_id']}/fields/interests/view"
    answer = consumer.post(url, data={"csrf_token": _form_token(consumer), "view": "top_level"})
    assert answer.status_code == 302
    # The same token: the next read returns the new view.
    assert (
        _read(consumer, issued["access_token"])["interests"] == EXPECTED[("interests", "top_level")]
    )
    after = _grant(app, "interests")
    assert (after.view, after.expires_at, after.purpose) == (
        "top_level",
        before.expires_at,
        before.purpose,
    )
    granted = events(app, str(EventType.CONSENT_GRANTED))
    assert len(granted) == 2
    assert granted[-1]["fields"] == ["interests"]
    assert granted[-1]["details"]["changed"] == "view"
    assert granted[-1]["details"]["views"] == {
        "interests": {"name": "top_level", "parameter": None}
    }
    page = consumer.get("/brands").get_data(as_text=True)
    assert "Bookshop sees: Only the top-level categories" in page
    receipt = consumer.get("/api/v1/me/receipts").get_json()[-1]
    assert receipt["collection_method"] == "Sayso consumer controls: view changed"
    receipt_page = consumer.get(f"/receipts/{receipt['ledger']['seq']}").get_data(as_text=True)
    assert "You changed how much of it the brand may see" in receipt_page
    # The same view again records nothing more.
    consumer.post(url, data={"csrf_token": _form_token(consumer), "view": "top_level"})
    assert len(events(app, str(EventType.CONSENT_GRANTED))) == 2


@pytest.mark.parametrize(
    ("field", "view", "status"),
    [("interests", "top:7", 422), ("interests", "", 422), ("channels", "top:3", 404)],
)
def test_the_brands_page_refuses_a_view_it_does_not_offer(consumer, brand, field, view, status):
    _consent(consumer, brand, ["interests", "channels"], {})
    url = f"/brands/{brand['brand_id']}/fields/{field}/view"
    answer = consumer.post(url, data={"csrf_token": _form_token(consumer), "view": view})
    assert answer.status_code == status


def _undo_value(response) -> str:
    return parse_qs(urlsplit(response.headers["Location"]).query)["undo"][0]


def test_undo_and_grant_again_keep_the_view(app, consumer, brand):
    _consent(consumer, brand, ["interests"], {"interests": "top:3"})
    revoke = f"/brands/{brand['brand_id']}/fields/interests/revoke"
    revoked = consumer.post(revoke, data={"csrf_token": _form_token(consumer)})
    undo = {"csrf_token": _form_token(consumer), "undo": _undo_value(revoked)}
    assert consumer.post("/brands/undo", data=undo).status_code == 302
    assert _grant(app, "interests").coarse_view == View("top", 3)
    undone = events(app, str(EventType.CONSENT_GRANTED))[-1]
    assert undone["details"]["via"] == "undo"
    assert undone["details"]["views"] == {"interests": {"name": "top", "parameter": 3}}

    consumer.post(revoke, data={"csrf_token": _form_token(consumer)})
    again = f"/brands/{brand['brand_id']}/fields/interests/grant"
    page = consumer.get(again).get_data(as_text=True)
    assert "As before, Bookshop would see: Only the first 3, in your order" in page
    form = {"csrf_token": _form_token(consumer, again), "decision": "allow", "expiry": "1y"}
    assert consumer.post(again, data=form).status_code == 302
    assert _grant(app, "interests").coarse_view == View("top", 3)
    regranted = events(app, str(EventType.CONSENT_GRANTED))[-1]
    assert regranted["details"]["views"] == {"interests": {"name": "top", "parameter": 3}}
    # A new token (no page: granted through this client before) reads the kept view.
    verifier, challenge = pkce()
    answer = consumer.get(authorize_url(brand, scope="interests:read", challenge=challenge))
    issued = exchange(consumer, brand, redirect_query(answer)["code"], verifier).get_json()
    assert _read(consumer, issued["access_token"])["interests"] == INTERESTS[:3]


def test_the_consumer_api_returns_and_accepts_a_view(app, consumer, brand):
    _consent(consumer, brand, ["interests", "channels"], {"interests": "top_level"})
    (entry,) = consumer.get("/api/v1/me/grants").get_json()
    views = {g["field"]: g["view"] for g in entry["grants"]}
    assert views == {
        "channels": {"name": "all", "parameter": None},
        "interests": {"name": "top_level", "parameter": None},
    }
    url = f"/api/v1/me/grants/{brand['brand_id']}/interests"
    headers = api_headers(consumer)
    # No body: the view the grant had stays.
    assert consumer.post(url, headers=headers).status_code == 200
    assert _grant(app, "interests").coarse_view == View("top_level")
    body = {"view": {"name": "noised", "parameter": 5}}
    assert consumer.post(url, json=body, headers=headers).status_code == 200
    assert _grant(app, "interests").coarse_view == View("noised", 5)
    assert events(app, str(EventType.CONSENT_GRANTED))[-1]["details"]["views"] == {
        "interests": {"name": "noised", "parameter": 5}
    }


@pytest.mark.parametrize(
    ("field", "body"),
    [
        ("interests", {"view": {"name": "top", "parameter": 4}}),
        ("interests", {"view": {"name": "top_level", "parameter": 3}}),
        ("interests", {"view": {"name": "everything"}}),
        ("interests", {"view": {"name": "top", "parameter": "5"}}),
        ("interests", {"view": "top:5"}),
        ("channels", {"view": {"name": "top", "parameter": 5}}),
    ],
    ids=str,
)
def test_the_consumer_api_refuses_a_view_it_does_not_offer(consumer, brand, field, body):
    _consent(consumer, brand, ["interests"], {})
    url = f"/api/v1/me/grants/{brand['brand_id']}/{field}"
    response = consumer.post(url, json=body, headers=api_headers(consumer))
    assert response.status_code == 422, response.get_data(as_text=True)
    assert set(response.get_json()) == {"error", "message", "fields"}
