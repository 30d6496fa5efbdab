"""Change notifications: a brand holding a grant hears which fields changed, never values."""

from __future__ import annotations

import json

import pytest

from sayso.services.webhooks import verify
from tests.functional.test_webhooks import DISCLOSURES, Receiver, deliver, make_due
from tests.helpers import api_headers, sign_up
from tests.oauth_helpers import bearer, connect, make_brand


@pytest.fixture
def receiver():
    started = Receiver().start()
    yield started
    started.stop()


@pytest.fixture
def consumer(client):
    sign_up(client, "ada@example.org")
    client.put("/api/v1/me/disclosures", json=DISCLOSURES, headers=api_headers(client))
    return client


def put_field(consumer, name, value):
    response = consumer.put(
        f"/api/v1/me/disclosures/{name}", json={"value": value}, headers=api_headers(consumer)
    )
    assert response.status_code == 200, response.get_data(as_text=True)


def bodies(receiver) -> list[dict]:
    return [json.loads(r.body) for r in receiver.received]


def test_an_update_is_delivered_once_to_the_brand_holding_it_with_names_not_values(
    app, runner, consumer, receiver
):
    bookshop = make_brand(runner, webhook=receiver.url)
    other = make_brand(runner, name="Garden", domain="garden.example", webhook=receiver.url)
    token = connect(consumer, bookshop, ["interests", "channels"])["access_token"]
    sub = consumer.get("/api/v1/profile", headers=bearer(token)).get_json()["sub"]
    connect(consumer, other, ["browsing_categories"])

    put_field(consumer, "interests", [{"text": "Michael Chabon"}])
    assert receiver.received == []  # queued, not sent from the request
    assert deliver(app) == "delivered 1, retried 0, failed 0"
    (got,) = receiver.received
    assert verify(bookshop["webhook_secret"], got.body, got.headers["sayso-signature"])
    body = json.loads(got.body)
    assert body["type"] == got.headers["sayso-event-type"] == "disclosure.updated"
    assert body["data"]["brand_id"] == bookshop["brand_id"]
    assert body["data"]["sub"] == sub
    assert body["data"]["fields"] == ["interests"]
    assert body["data"]["sequence"] == 1
    assert "Chabon" not in got.body.decode() and "crime" not in got.body.decode()

    # Delivered once: another round sends nothing more.
    make_due(app)
    assert deliver(app) == "delivered 0, retried 0, failed 0"
    assert len(receiver.received) == 1


def test_a_deletion_is_announced_and_only_granted_fields_are_named(app, runner, consumer, receiver):
    bookshop = make_brand(runner, webhook=receiver.url)
    connect(consumer, bookshop, ["channels"])
    response = consumer.put(
        "/api/v1/me/disclosures",
        json={"interests": [{"text": "poetry"}], "channels": []},
        headers=api_headers(consumer),
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    assert deliver(app) == "delivered 1, retried 0, failed 0"
    (body,) = bodies(receiver)
    assert body["data"]["fields"] == ["channels"]  # interests changed too, but isn't granted
    assert "poetry" not in json.dumps(body)


@pytest.mark.parametrize("case", ["unchanged", "not granted", "revoked"])
def test_no_notification_without_a_change_to_a_live_grant(app, runner, consumer, receiver, case):
    bookshop = make_brand(runner, webhook=receiver.url)
    connect(consumer, bookshop, ["interests"])
    if case == "unchanged":
        put_field(consumer, "interests", DISCLOSURES["interests"])
    elif case == "not granted":
        put_field(consumer, "browsing_categories", [{"topic_id": 1, "weight": 1.0}])
    else:
        path = f"/api/v1/me/grants/{bookshop['brand_id']}/interests"
        assert consumer.delete(path, headers=api_headers(consumer)).status_code == 200
        deliver(app)  # the consent.revoked event
        receiver.received.clear()
        put_field(consumer, "interests", [{"text": "poetry"}])
    assert deliver(app) == "delivered 0, retried 0, failed 0"
    assert receiver.received == []


def test_two_brands_told_of_one_change_get_nothing_to_join_their_pseudonyms_on(
    app, runner, consumer, receiver
):
    # One change, told to two brands granted the field: each copy has its own id, its own
    # client's sequence number and the brand's own pairwise sub; the time is to the second.
    bookshop = make_brand(runner, webhook=receiver.url)
    garden = make_brand(runner, name="Garden", domain="garden.example", webhook=receiver.url)
    connect(consumer, garden, ["interests"])
    put_field(consumer, "interests", [{"text": "roses"}])  # garden's first event
    connect(consumer, bookshop, ["interests"])
    put_field(consumer, "interests", [{"text": "Michael Chabon"}])
    assert deliver(app) == "delivered 3, retried 0, failed 0"
    *_, first, second = bodies(receiver)
    by_brand = {b["data"]["brand_id"]: b for b in (first, second)}
    shop, yard = by_brand[bookshop["brand_id"]], by_brand[garden["brand_id"]]
    assert (shop["data"]["sequence"], yard["data"]["sequence"]) == (1, 2)
    assert shop["id"] != yard["id"] and shop["data"]["sub"] != yard["data"]["sub"]
    shared = {
        (key, json.dumps(value))
        for key, value in {**shop, **shop["data"]}.items()
        if {**yard, **yard["data"]}.get(key) == value
    }
    assert {key for key, _ in shared} <= {"type", "created_at", "fields"}
