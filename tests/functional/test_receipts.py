"""Consent receipts through HTTP: made for every grant and revoke, signed, checkable offline."""

from __future__ import annotations

import base64
import copy
import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from sayso import services
from sayso.extensions import db
from sayso.ledger import Event, EventType
from sayso.offline_verify import load_public_key, verify_lines
from sayso.services.receipts import RECEIPT_SCHEMA, verify_receipt
from tests import rfc9162
from tests.helpers import api_headers, csrf_token
from tests.ledger_helpers import integrate
from tests.oauth_helpers import ALL_SCOPES, bearer, connect, make_brand
from tests.rights_helpers import consumer_with, events, published_key

LEDGER_DOC = Path(__file__).parents[2] / "docs" / "ledger.md"


@pytest.fixture
def brand(runner):
    return make_brand(runner, webhook="https://bookshop.example/hooks/sayso")


@pytest.fixture
def consumer(client):
    consumer_with(client, "ada@example.org", "receipt-marker-ada")
    return client


def _receipts(client, **query) -> list[dict]:
    response = client.get("/api/v1/me/receipts", query_string=query)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()


def _parse(instant: str) -> datetime:
    return datetime.fromisoformat(instant.replace("Z", "+00:00"))


def _offline_verifier():
    """The verification snippet of docs/ledger.md, run as a reader would copy it."""
    blocks = re.findall(r"```python\n(.*?)```", LEDGER_DOC.read_text(), re.S)
    (code,) = [block for block in blocks if "def verify_receipt_offline" in block]
    namespace = {"__name__": "docs_snippet"}
    exec(compile(code, str(LEDGER_DOC), "exec"), namespace)  # noqa: S102  (our own docs)
    return namespace


def test_a_grant_produces_a_receipt_that_verifies_with_the_published_key(app, consumer, brand):
    token = connect(consumer, brand, ["interests", "channels"], expiry="30d")
    (receipt,) = _receipts(consumer)
    (event,) = events(app, "consent:grant:created")

    assert receipt["schema"] == RECEIPT_SCHEMA
    assert receipt["record_id"] == receipt["ledger"]["leaf_hash"] == event["leaf_hash"]
    assert receipt["ledger"]["seq"] == event["seq"]
    # The principal is the brand's own pairwise id for the consumer: the profile's `sub`.
    sub = consumer.get("/api/v1/profile", headers=bearer(token["access_token"])).get_json()["sub"]
    assert receipt["principal"] == {"pseudonym": sub, "kind": "pairwise"}
    assert event["subject"] not in json.dumps(receipt)
    assert receipt["controller"] == {
        "id": brand["brand_id"],
        "name": "Bookshop",
        "client_id": brand["client_id"],
    }
    assert receipt["data_categories"] == ["channels", "interests"]
    assert receipt["purposes"] == sorted(
        (
            {"purpose": ALL_SCOPES[f"{field}:read"], "data_categories": [field]}
            for field in ("channels", "interests")
        ),
        key=lambda p: p["purpose"],
    )
    assert receipt["collection_method"] == "Sayso consent page"
    assert receipt["event"]["type"] == "given" and receipt["event"]["state"] == "active"
    granted_at = _parse(receipt["event"]["time"])
    assert abs(granted_at - datetime.now(UTC)) < timedelta(minutes=5)
    expires = _parse(receipt["validity"]["expires_at"]) - granted_at
    assert timedelta(days=29, hours=23) < expires <= timedelta(days=30)
    assert receipt["withdrawal"]["url"] == "http://localhost/brands"
    assert receipt["withdrawal"]["api"] == f"http://localhost/api/v1/me/grants/{brand['brand_id']}"
    assert receipt["withdrawal"]["how"]
    assert receipt["issuer"]["public_key_url"] == (
        "http://localhost/.well-known/sayso-ledger-key.json"
    )

    key = published_key(consumer)
    assert receipt["signature"]["alg"] == "Ed25519"
    assert receipt["signature"]["key_id"] == app.extensions["sayso_ledger_key"].key_id
    assert verify_receipt(receipt, key)
    # ...and with the snippet from docs/ledger.md, which uses nothing but `cryptography`.
    document = consumer.get("/.well-known/sayso-ledger-key.json").get_json()
    assert _offline_verifier()["verify_receipt_offline"](receipt, document)


def _set(path, value):
    def mutate(receipt):
        node = receipt
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value

    return mutate


MUTATIONS = {
    "purpose": _set(("purposes", 0, "purpose"), "anything at all"),
    "data category added": lambda r: r["data_categories"].append("browsing_categories"),
    "event type": _set(("event", "type"), "withdrawn"),
    "event time": _set(("event", "time"), "2020-01-01T00:00:00.000000Z"),
    "expiry": _set(("validity", "expires_at"), None),
    "controller": _set(("controller", "name"), "Someone Else"),
    "principal": _set(("principal", "pseudonym"), "x" * 43),
    "ledger seq": lambda r: r["ledger"].update(seq=r["ledger"]["seq"] + 1),
    "record id": _set(("record_id",), "0" * 64),
    "member removed": lambda r: r.pop("withdrawal"),
    "member added": _set(("note",), "added later"),
    "signature value": lambda r: r["signature"].update(
        value=("A" if r["signature"]["value"][0] != "A" else "B") + r["signature"]["value"][1:]
    ),
    "signature missing": lambda r: r.pop("signature"),
    "signature alg": _set(("signature", "alg"), "none"),
    "signature key id": _set(("signature", "key_id"), "0" * 32),
}


@pytest.mark.parametrize("mutation", MUTATIONS.values(), ids=MUTATIONS.keys())
def test_a_modified_receipt_does_not_verify(consumer, brand, mutation):
    connect(consumer, brand, ["interests", "channels"])
    (receipt,) = _receipts(consumer)
    key = published_key(consumer)
    document = consumer.get("/.well-known/sayso-ledger-key.json").get_json()
    offline = _offline_verifier()["verify_receipt_offline"]
    assert verify_receipt(receipt, key) and offline(receipt, document)
    modified = copy.deepcopy(receipt)
    mutation(modified)
    assert modified != receipt
    assert not verify_receipt(modified, key)
    assert not offline(modified, document)


def test_another_receipts_signature_does_not_fit(consumer, brand, runner):
    connect(consumer, brand, ["interests"])
    connect(consumer, make_brand(runner, name="Cafe", domain="cafe.example"), ["channels"])
    first, second = _receipts(consumer)
    swapped = {**first, "signature": second["signature"]}
    assert not verify_receipt(swapped, published_key(consumer))


def test_a_signed_checkpoint_is_not_a_receipt(app, consumer, brand):
    # The ledger key signs checkpoints too: a checkpoint's signature, put in a receipt's
    # signature member over the checkpoint's own words, is no receipt.
    connect(consumer, brand, ["interests"])
    integrate(app)
    note = consumer.get("/ledger/checkpoint").get_data(as_text=True)
    text, _, line = note.partition("\n\n")
    signature = base64.b64decode(line.split()[-1])[4:]
    document = consumer.get("/.well-known/sayso-ledger-key.json").get_json()
    origin, size, root = text.splitlines()
    as_receipt = {
        "schema": RECEIPT_SCHEMA,
        "origin": origin,
        "size": size,
        "root": root,
        "signature": {
            "alg": "Ed25519",
            "key_id": document["key_id"],
            "value": base64.urlsafe_b64encode(signature).decode().rstrip("="),
        },
    }
    assert not verify_receipt(as_receipt, published_key(consumer))
    assert not _offline_verifier()["verify_receipt_offline"](as_receipt, document)


def test_a_receipt_proves_it_is_in_the_log_everyone_sees(app, consumer, brand):
    connect(consumer, brand, ["interests"])
    (pending,) = _receipts(consumer)
    # Not yet integrated: its leaf hash is known, its place not yet.
    assert pending["ledger"]["leaf_index"] is None and pending["ledger"]["checkpoint"] is None
    integrate(app)
    (receipt,) = _receipts(consumer)
    assert verify_receipt(receipt, published_key(consumer))
    place = receipt["ledger"]
    vkey = consumer.get("/ledger/key").get_json()["verifier_key"]
    _, size, root = rfc9162.read_checkpoint(place["checkpoint"], vkey)
    proof = [base64.b64decode(h) for h in place["inclusion_proof"]]
    leaf = bytes.fromhex(place["leaf_hash"])
    assert rfc9162.verify_inclusion(leaf, place["leaf_index"], size, proof, root)
    # The same checkpoint, fetched by anyone, is the one the receipt was proven against.
    assert (
        rfc9162.read_checkpoint(consumer.get("/ledger/checkpoint").get_data(as_text=True), vkey)[2]
        == root
    )
    assert not rfc9162.verify_inclusion(leaf, place["leaf_index"] + 1, size, proof, root)
    # The snippet in docs/ledger.md says the same, and refuses a receipt moved elsewhere.
    document = consumer.get("/.well-known/sayso-ledger-key.json").get_json()
    in_log = _offline_verifier()["receipt_in_log"]
    assert in_log(receipt, document)
    moved = copy.deepcopy(receipt)
    moved["ledger"]["leaf_index"] += 1
    assert not in_log(moved, document)


def test_a_revoke_produces_a_withdrawn_receipt(app, consumer, brand):
    connect(consumer, brand, ["interests", "channels"])
    response = consumer.delete(
        f"/api/v1/me/grants/{brand['brand_id']}/channels", headers=api_headers(consumer)
    )
    assert response.status_code == 200
    given, withdrawn = _receipts(consumer)
    (event,) = events(app, "consent:grant:revoked")
    assert given["event"]["type"] == "given"
    assert withdrawn["ledger"]["seq"] == event["seq"]
    assert withdrawn["ledger"]["leaf_hash"] == event["leaf_hash"]
    assert withdrawn["event"]["type"] == "withdrawn"
    assert withdrawn["event"]["state"] == "withdrawn"
    assert withdrawn["data_categories"] == ["channels"]
    assert withdrawn["purposes"] == [
        {"purpose": ALL_SCOPES["channels:read"], "data_categories": ["channels"]}
    ]
    assert withdrawn["collection_method"] == "Sayso consumer controls"
    assert withdrawn["validity"]["expires_at"] == withdrawn["event"]["time"]
    assert withdrawn["controller"]["client_id"] is None
    assert withdrawn["principal"] == given["principal"]
    assert verify_receipt(withdrawn, published_key(consumer))


def test_one_receipt_by_its_ledger_seq(app, consumer, brand, runner):
    connect(consumer, brand, ["interests"])
    consumer.delete(f"/api/v1/me/grants/{brand['brand_id']}", headers=api_headers(consumer))
    receipts = _receipts(consumer)
    for receipt in receipts:
        response = consumer.get(f"/api/v1/me/receipts/{receipt['ledger']['seq']}")
        assert response.status_code == 200
        assert response.get_json() == receipt
    # Events that are not grants or revokes have no receipt; nor has a seq out of range.
    (created,) = events(app, "account:consumer:created")
    for seq in (created["seq"], 10**6, 2**31, 2**63 - 1, 2**63, 10**30):
        response = consumer.get(f"/api/v1/me/receipts/{seq}")
        assert response.status_code == 404
        assert response.get_json()["error"] == "not_found"


def test_nobody_sees_another_consumers_receipts(app, consumer, brand):
    connect(consumer, brand, ["interests"])
    (receipt,) = _receipts(consumer)
    other = app.test_client()
    consumer_with(other, "bob@example.org", "receipt-marker-bob")
    assert _receipts(other) == []
    assert other.get(f"/api/v1/me/receipts/{receipt['ledger']['seq']}").status_code == 404
    assert app.test_client().get("/api/v1/me/receipts").status_code == 401


def test_receipts_filter_by_brand_and_validate_the_query(consumer, brand, runner):
    cafe = make_brand(runner, name="Cafe", domain="cafe.example")
    connect(consumer, brand, ["interests"])
    connect(consumer, cafe, ["channels"])
    assert len(_receipts(consumer)) == 2
    (only,) = _receipts(consumer, brand_id=cafe["brand_id"])
    assert only["controller"]["id"] == cafe["brand_id"]
    assert _receipts(consumer, brand_id="br_nobody") == []
    response = consumer.get("/api/v1/me/receipts", query_string={"brand_id": "x" * 65})
    assert response.status_code == 422
    assert "brand_id" in response.get_json()["fields"]
    response = consumer.get("/api/v1/me/receipts", query_string={"colour": "blue"})
    assert response.status_code == 422


def test_receipts_download_from_the_brands_page(consumer, brand):
    connect(consumer, brand, ["interests"])
    consumer.post(
        f"/brands/{brand['brand_id']}/revoke",
        data={"csrf_token": csrf_token(consumer, "/brands"), "confirm": "yes"},
    )
    page = consumer.get("/brands").get_data(as_text=True)
    link = f"/brands/{brand['brand_id']}/receipts.json"
    assert f'href="{link}"' in page
    response = consumer.get(link)
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    assert response.headers["Content-Disposition"].startswith("attachment;")
    receipts = response.get_json()
    assert [r["event"]["type"] for r in receipts] == ["given", "withdrawn"]
    key = published_key(consumer)
    assert all(verify_receipt(r, key) for r in receipts)
    assert consumer.get("/brands/br_nobody/receipts.json").status_code == 404


def test_a_receipt_is_found_in_a_verified_ledger_export(app, consumer, brand, runner):
    connect(consumer, brand, ["interests", "channels"])
    consumer.delete(f"/api/v1/me/grants/{brand['brand_id']}", headers=api_headers(consumer))
    integrate(app)  # an export is evidence of what a checkpoint signed
    result = runner.invoke(args=["audit", "export", "--format", "jsonl"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    key_document = consumer.get("/.well-known/sayso-ledger-key.json").get_json()
    ok, message = verify_lines(lines, load_public_key(json.dumps(key_document)))
    assert ok, message
    in_export = _offline_verifier()["receipt_in_export"]
    receipts = _receipts(consumer)
    assert len(receipts) == 2
    for receipt in receipts:
        assert in_export(receipt, lines)
        forged = copy.deepcopy(receipt)
        forged["data_categories"] = ["browsing_categories"]
        assert not in_export(forged, lines)


def test_a_revoke_recorded_without_purposes_takes_them_from_its_grant(app, consumer, brand):
    # Revoke events written before revokes named their purposes carry no details.
    connect(consumer, brand, ["interests", "channels"])
    (grant,) = events(app, "consent:grant:created")
    with app.app_context():
        row = services.ledger().append(
            Event(
                EventType.CONSENT_REVOKED,
                actor="consumer:" + grant["subject"],
                subject=grant["subject"],
                brand=brand["brand_id"],
                fields=("interests",),
            )
        )
        seq = row.seq
        db.session.commit()
    receipt = consumer.get(f"/api/v1/me/receipts/{seq}").get_json()
    assert receipt["purposes"] == [
        {"purpose": ALL_SCOPES["interests:read"], "data_categories": ["interests"]}
    ]
    assert _receipts(consumer)[-1] == receipt
    assert verify_receipt(receipt, published_key(consumer))
