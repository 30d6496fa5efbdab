"""Access history and "export my data" through HTTP: everything of mine, nothing of anyone else."""

from __future__ import annotations

import json

import pytest

from sayso.services.receipts import verify_receipt
from tests.helpers import csrf_token
from tests.oauth_helpers import ALL_SCOPES, bearer, connect, make_brand
from tests.rights_helpers import consumer_pseudonyms, consumer_with, events, published_key

ADA_MARKER = "export-marker-ada-quokka"
BOB_MARKER = "export-marker-bob-wombat"
ADA_EMAIL = "ada.export@example.org"
BOB_EMAIL = "bob.export@example.org"


@pytest.fixture
def brands(runner):
    return (
        make_brand(runner),
        make_brand(runner, name="Cafe", domain="cafe.example", redirect="https://cafe.example/cb"),
    )


@pytest.fixture
def people(app, brands):
    """Ada and Bob, each with their own marker, both connected to both brands, and read."""
    bookshop, cafe = brands
    ada, bob = app.test_client(), app.test_client()
    ada_doc = consumer_with(ada, ADA_EMAIL, ADA_MARKER)
    bob_doc = consumer_with(bob, BOB_EMAIL, BOB_MARKER)
    tokens = {}
    for name, client in (("ada", ada), ("bob", bob)):
        tokens[name, "bookshop"] = connect(client, bookshop, ["interests", "channels"])
        tokens[name, "cafe"] = connect(client, cafe, ["browsing_categories"])
    # Bookshop reads Ada twice and Bob once; Cafe reads each once.
    for name, brand in (("ada", "bookshop"), ("ada", "bookshop"), ("bob", "bookshop")):
        read = ada.get("/api/v1/profile", headers=bearer(tokens[name, brand]["access_token"]))
        assert read.status_code == 200
    for name in ("ada", "bob"):
        read = ada.get("/api/v1/profile", headers=bearer(tokens[name, "cafe"]["access_token"]))
        assert read.status_code == 200
    return {"ada": ada, "bob": bob, "ada_doc": ada_doc, "bob_doc": bob_doc, "tokens": tokens}


def _history(client, **query):
    response = client.get("/api/v1/me/access-history", query_string=query)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()


def test_access_history_lists_each_read_with_fields_and_time(app, people, brands):
    bookshop, cafe = brands
    ada_pseudonym, bob_pseudonym = consumer_pseudonyms(app)
    reads = {e["seq"]: e for e in events(app, "api:profile:read")}
    page = _history(people["ada"])
    assert page["next_before"] is None
    assert [r["brand_id"] for r in page["reads"]] == [
        cafe["brand_id"],
        bookshop["brand_id"],
        bookshop["brand_id"],
    ]
    seqs = [r["seq"] for r in page["reads"]]
    assert seqs == sorted(seqs, reverse=True)
    for read in page["reads"]:
        event = reads[read["seq"]]
        assert event["subject"] == ada_pseudonym  # nothing of Bob's
        assert read["fields"] == event["fields"]
        assert read["occurred_at"]
    newest_bookshop = page["reads"][1]
    assert newest_bookshop["brand_name"] == "Bookshop"
    assert newest_bookshop["client_id"] == bookshop["client_id"]
    assert newest_bookshop["fields"] == ["channels", "interests"]
    assert newest_bookshop["purposes"] == {
        "channels": ALL_SCOPES["channels:read"],
        "interests": ALL_SCOPES["interests:read"],
    }
    assert bob_pseudonym not in json.dumps(page)


def test_access_history_per_brand_and_paginated(people, brands):
    bookshop, cafe = brands
    ada = people["ada"]
    only_cafe = _history(ada, brand_id=cafe["brand_id"])["reads"]
    assert [r["fields"] for r in only_cafe] == [["browsing_categories"]]
    first = _history(ada, brand_id=bookshop["brand_id"], limit=1)
    assert len(first["reads"]) == 1 and first["next_before"] == first["reads"][0]["seq"]
    second = _history(ada, brand_id=bookshop["brand_id"], limit=1, before=first["next_before"])
    assert len(second["reads"]) == 1 and second["next_before"] is None
    assert second["reads"][0]["seq"] < first["reads"][0]["seq"]
    assert len(_history(people["bob"], brand_id=bookshop["brand_id"])["reads"]) == 1


@pytest.mark.parametrize(
    "query",
    [
        {"limit": 0},
        {"limit": 201},
        {"limit": "many"},
        {"before": 0},
        {"before": 2**63},
        {"before": 2**64},
        {"x": 1},
    ],
)
def test_access_history_rejects_bad_queries(people, query):
    response = people["ada"].get("/api/v1/me/access-history", query_string=query)
    assert response.status_code == 422
    assert response.get_json()["error"] == "validation_failed"


def test_access_history_page_per_brand(people, brands):
    bookshop, _ = brands
    ada = people["ada"]
    page = ada.get("/brands").get_data(as_text=True)
    link = f"/brands/{bookshop['brand_id']}/access"
    assert f'href="{link}"' in page
    html = ada.get(link).get_data(as_text=True)
    assert "Who read what: Bookshop" in html
    # Ada's two reads (not Bob's), grouped by field and day.
    assert "<strong>Bookshop</strong> read <strong>Interests</strong> 2 times today" in html
    assert ALL_SCOPES["interests:read"] in html
    assert "Browsing categories" not in html  # that was Cafe's read
    bob_html = people["bob"].get(link).get_data(as_text=True)
    assert "<strong>Bookshop</strong> read <strong>Interests</strong> once today" in bob_html
    assert ada.get("/brands/br_nobody/access").status_code == 404


def _export(client) -> dict:
    response = client.get("/api/v1/me/export")
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.headers["Content-Disposition"].startswith("attachment;")
    assert response.headers["Cache-Control"] == "no-store"
    return response.get_json()


def test_export_contains_everything_and_nothing_of_anyone_else(app, people, brands):
    bookshop, cafe = brands
    ada_pseudonym, bob_pseudonym = consumer_pseudonyms(app)
    export = _export(people["ada"])

    assert export["format"] == "sayso-data-export/v1"
    assert export["account"]["email"] == ADA_EMAIL
    assert export["account"]["created_at"]
    # Disclosures, decrypted, exactly as given.
    assert export["disclosures"] == people["ada_doc"]
    # Grants, per brand.
    grants = {entry["brand_id"]: entry for entry in export["grants"]}
    assert set(grants) == {bookshop["brand_id"], cafe["brand_id"]}
    assert sorted(g["field"] for g in grants[bookshop["brand_id"]]["grants"]) == [
        "channels",
        "interests",
    ]
    assert all(g["active"] for entry in export["grants"] for g in entry["grants"])
    # Receipts: one per grant, each verifying.
    ada_grants = events(app, "consent:grant:created", ada_pseudonym)
    assert [r["ledger"]["seq"] for r in export["receipts"]] == [e["seq"] for e in ada_grants]
    key = published_key(people["ada"])
    assert all(verify_receipt(r, key) for r in export["receipts"])
    # Access history: every read of Ada, oldest first, and no other.
    ada_reads = events(app, "api:profile:read", ada_pseudonym)
    assert [r["seq"] for r in export["access_history"]] == [e["seq"] for e in ada_reads]
    assert len(ada_reads) == 3

    text = json.dumps(export)
    assert ADA_MARKER in text
    for foreign in (BOB_MARKER, BOB_EMAIL, bob_pseudonym, ada_pseudonym):
        assert foreign not in text
    # Bob's pairwise ids for each brand are his, not in Ada's export either.
    for brand_name in ("bookshop", "cafe"):
        bob_sub = (
            people["bob"]
            .get(
                "/api/v1/profile",
                headers=bearer(people["tokens"]["bob", brand_name]["access_token"]),
            )
            .get_json()["sub"]
        )
        assert bob_sub not in text

    # The export itself is on the ledger, without any of its contents.
    (exported,) = events(app, "account:data:exported", ada_pseudonym)
    assert export["ledger_seq"] == exported["seq"]
    assert exported["fields"] == ["browsing_categories", "channels", "interests"]
    assert ADA_MARKER.encode() not in exported["canonical"]
    assert ADA_EMAIL.encode() not in exported["canonical"]
    assert events(app, "account:data:exported", bob_pseudonym) == []


def test_export_download_from_the_my_data_page(people):
    ada = people["ada"]
    nav = ada.get("/disclosures").get_data(as_text=True)
    assert 'href="/account/data"' in nav
    page = ada.get("/account/data").get_data(as_text=True)
    assert "Download my data" in page and "Erase my account" in page
    response = ada.post(
        "/account/data/export", data={"csrf_token": csrf_token(ada, "/account/data")}
    )
    assert response.status_code == 200
    assert response.headers["Content-Disposition"].startswith(
        'attachment; filename="sayso-my-data-'
    )
    export = json.loads(response.get_data())
    assert export["disclosures"] == people["ada_doc"]
    assert BOB_MARKER not in response.get_data(as_text=True)
    # A cross-site form cannot trigger it.
    assert ada.post("/account/data/export").status_code == 400


def test_export_of_a_new_account_is_complete_and_empty(client):
    consumer_with(client, "new@example.org", "fresh-marker")
    export = _export(client)
    assert export["grants"] == [] and export["receipts"] == [] and export["access_history"] == []
    assert export["disclosures"]["interests"][1] == {"text": "fresh-marker"}


def test_export_and_history_need_sign_in(app):
    anonymous = app.test_client()
    for path in ("/api/v1/me/export", "/api/v1/me/access-history", "/api/v1/me/receipts"):
        response = anonymous.get(path)
        assert response.status_code == 401
        assert response.get_json()["error"] == "unauthorized"
    assert anonymous.get("/account/data").status_code == 302
