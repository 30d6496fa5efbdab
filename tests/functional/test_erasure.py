"""Erasing an account through HTTP: nothing readable remains, brands are cut off and told,
the ledger still verifies and records the erasure, and the account cannot sign in."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from sayso import services
from sayso.extensions import db
from sayso.models import Account, DataKey, Disclosure, Grant, Token, WebhookDelivery
from sayso.services.receipts import verify_receipt
from sayso.shared.crypto import KeyShredded
from sayso.web.accounts import BAD_CREDENTIALS
from tests.functional.test_privacy import _database_bytes
from tests.helpers import PASSWORD, api_headers, csrf_token, log_in, sign_up
from tests.ledger_helpers import log_verifies
from tests.oauth_helpers import basic, bearer, connect, make_brand, refresh
from tests.rights_helpers import consumer_pseudonyms, consumer_with, events, published_key

MARKER = "erasure-marker-pangolin"
EMAIL = "erase-me@example.org"
OTHER_MARKER = "erasure-marker-survivor"
OTHER_EMAIL = "stays@example.org"
WEBHOOK = "https://bookshop.example/hooks/sayso"


@pytest.fixture
def brand(runner):
    return make_brand(runner, webhook=WEBHOOK)


@pytest.fixture
def connected(app, client, brand):
    """A consumer with disclosures, connected to the brand, whose token has been used."""
    consumer_with(client, EMAIL, MARKER)
    token = connect(client, brand, ["interests", "channels"])
    assert client.get("/api/v1/profile", headers=bearer(token["access_token"])).status_code == 200
    return token


def _ciphertexts(app, account_id: int) -> list[tuple[str, bytes]]:
    with app.app_context():
        account = db.session.get(Account, account_id)
        sealed = [
            (row.field, row.ciphertext)
            for row in db.session.scalars(
                select(Disclosure).where(Disclosure.account_id == account_id)
            )
        ]
        if account.email_encrypted:
            sealed.append(("email", account.email_encrypted))
        return sealed


def _erase(client, password=PASSWORD, headers=None):
    return client.delete(
        "/api/v1/me", json={"password": password}, headers=headers or api_headers(client)
    )


def test_a_wrong_password_erases_nothing(app, client, brand, connected):
    response = _erase(client, password="not the password at all")
    assert response.status_code == 403
    assert response.get_json()["error"] == "wrong_password"
    assert client.get("/api/v1/me").status_code == 200
    assert client.get("/api/v1/me/disclosures").get_json()["interests"][1] == {"text": MARKER}
    token = connected["access_token"]
    assert client.get("/api/v1/profile", headers=bearer(token)).status_code == 200
    assert events(app, "account:consumer:erased") == []
    assert events(app, "consent:grant:revoked") == []


@pytest.mark.parametrize(
    "body, status",
    [
        ({}, 422),
        ({"password": ""}, 422),
        ({"password": 7}, 422),
        ({"pw": PASSWORD}, 422),
        ({"password": "\ud800"}, 422),  # a lone surrogate: not text argon2 can hash
    ],
)
def test_erase_validates_its_body(client, connected, body, status):
    response = client.delete("/api/v1/me", json=body, headers=api_headers(client))
    assert response.status_code == status
    assert response.get_json()["error"] == "validation_failed"
    assert client.get("/api/v1/me").status_code == 200


def test_erase_needs_the_csrf_header_and_a_json_body(client, connected):
    response = client.delete("/api/v1/me", json={"password": PASSWORD})
    assert response.status_code == 400
    assert response.get_json()["error"] == "csrf_failed"
    response = client.delete("/api/v1/me", data="password", headers=api_headers(client))
    assert response.status_code == 415
    assert client.get("/api/v1/me").status_code == 200


def test_after_erasure_nothing_of_the_consumer_is_readable(app, client, brand, connected):
    other = app.test_client()
    consumer_with(other, OTHER_EMAIL, OTHER_MARKER)
    pseudonym, other_pseudonym = consumer_pseudonyms(app)
    with app.app_context():
        account_id = db.session.scalar(select(Account.id).where(Account.pseudonym == pseudonym))
    sealed = _ciphertexts(app, account_id)
    assert len(sealed) == 4  # three disclosures and the email

    response = _erase(client)
    assert response.status_code == 204
    # The session that erased is over.
    assert client.get("/api/v1/me").status_code == 401

    with app.app_context():
        assert db.session.get(DataKey, account_id) is None
        assert (
            db.session.scalars(select(Disclosure).where(Disclosure.account_id == account_id)).all()
            == []
        )
        account = db.session.get(Account, account_id)
        assert account.erased_at is not None and not account.is_active
        assert account.email_index is None
        assert account.email_encrypted is None
        assert account.password_hash is None
        # Every copy of the ciphertexts (a backup, say) is now unreadable for good.
        vault = services.vault()
        for label, blob in sealed:
            with pytest.raises(KeyShredded):
                vault.decrypt_for(account_id, label, blob)
        # Every grant is revoked, every token too.
        grants = db.session.scalars(select(Grant).where(Grant.account_id == account_id)).all()
        assert grants and all(g.revoked_at is not None for g in grants)
        tokens = db.session.scalars(select(Token).where(Token.account_id == account_id)).all()
        assert tokens and all(t.revoked_at is not None for t in tokens)

    # Nothing of the erased consumer is in the database in any readable form; the other
    # consumer is untouched.
    stored = _database_bytes(app)
    for marker in (MARKER, EMAIL):
        for encoded in (marker.encode(), marker.encode("utf-16-le"), marker.lower().encode()):
            assert encoded not in stored, marker
    assert other.get("/api/v1/me/disclosures").get_json()["interests"][1] == {"text": OTHER_MARKER}
    assert other_pseudonym != pseudonym


def test_after_erasure_the_brand_is_cut_off_and_told(app, client, brand, connected):
    assert _erase(client).status_code == 204
    anyone = app.test_client()
    response = anyone.get("/api/v1/profile", headers=bearer(connected["access_token"]))
    assert response.status_code == 401
    assert response.get_json()["error"] == "invalid_token"
    for token in (connected["access_token"], connected["refresh_token"]):
        introspection = anyone.post(
            "/oauth/introspect", data={"token": token}, headers=basic(brand)
        )
        assert introspection.get_json() == {"active": False}
    assert refresh(anyone, brand, connected["refresh_token"]).status_code == 400

    with app.app_context():
        (delivery,) = db.session.scalars(
            select(WebhookDelivery).where(WebhookDelivery.event_type == "consent.revoked")
        ).all()
        assert delivery.client_id == brand["client_id"] and delivery.status == "pending"
        payload = json.loads(delivery.payload)
    assert payload["data"]["brand_id"] == brand["brand_id"]
    assert payload["data"]["fields"] == ["channels", "interests"]
    (revoked,) = events(app, "consent:grant:revoked")
    assert payload["data"]["sequence"] == 1  # the client's own count, not the ledger's seq
    assert revoked["details"]["reason"] == "account_erased"


def test_after_erasure_the_ledger_verifies_and_records_it(app, client, brand, connected, runner):
    (pseudonym,) = consumer_pseudonyms(app)
    before = len(events(app, "consent:grant:created"))
    assert _erase(client).status_code == 204

    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 0, result.output
    assert "ledger intact" in result.output
    with app.app_context():
        assert log_verifies(app)

    (erased,) = events(app, "account:consumer:erased", pseudonym)
    assert erased["fields"] == ["browsing_categories", "channels", "interests"]
    assert erased["details"] == {
        "brands_revoked": 1,
        "answers_deleted": 0,
        "contacts_deleted": 0,
        "tokens_revoked": 1,
        "data_key": "shredded",
    }
    (revoked,) = events(app, "consent:grant:revoked", pseudonym)
    assert revoked["seq"] < erased["seq"]
    # Earlier events stay, and no event holds a value.
    assert len(events(app, "consent:grant:created")) == before
    for event in events(app, "account:consumer:erased") + events(app, "consent:grant:revoked"):
        assert MARKER.encode() not in event["canonical"]

    # Receipts are built from the ledger, so they survive the erasure, and the erasure's
    # revoke has a receipt of its own.
    with app.test_request_context():
        account = db.session.scalar(select(Account).where(Account.pseudonym == pseudonym))
        receipts = services.receipts().for_account(account)
    assert [r["event"]["type"] for r in receipts] == ["given", "withdrawn"]
    assert receipts[1]["collection_method"] == "Sayso account erasure"
    key = published_key(client)
    assert all(verify_receipt(r, key) for r in receipts)


def test_after_erasure_sign_in_fails_with_the_generic_message(app, client, connected):
    assert _erase(client).status_code == 204
    response = log_in(client, EMAIL)
    assert response.status_code == 401
    assert BAD_CREDENTIALS in response.get_data(as_text=True)
    # The email is free again: signing up with it makes a new, empty account.
    assert sign_up(client, EMAIL).status_code == 302
    assert client.get("/api/v1/me/disclosures").get_json() == {}
    assert client.get("/api/v1/me/receipts").get_json() == []


def test_wrong_erasure_passwords_count_toward_the_lockout(app_factory):
    # A session left open is no way to guess the password: as on the sign-in page, wrong
    # guesses lock the account (recorded), and a locked account's right password is refused.
    app = app_factory(LOGIN_MAX_FAILURES=3)
    client = app.test_client()
    sign_up(client, EMAIL)
    assert [_erase(client, password=f"guess number {i}").status_code for i in range(3)] == [403] * 3
    assert _erase(client).status_code == 403  # locked now, right password or not
    assert client.get("/api/v1/me").status_code == 200  # nothing erased
    assert len(events(app, "account:login:locked")) == 1
    assert len(events(app, "account:login:failed")) == 4
    with app.app_context():
        account = db.session.scalars(select(Account)).one()
        assert account.erased_at is None and account.locked_until is not None


def test_erasure_ends_every_other_session_too(app, client, connected):
    elsewhere = app.test_client()
    assert log_in(elsewhere, EMAIL).status_code == 302
    assert elsewhere.get("/api/v1/me").status_code == 200
    assert _erase(client).status_code == 204
    assert elsewhere.get("/api/v1/me").status_code == 401


def test_erasure_from_the_my_data_page(app, client, brand, connected):
    token = csrf_token(client, "/account/data")
    wrong = client.post(
        "/account/erase", data={"csrf_token": token, "password": "wrong one", "confirm": "yes"}
    )
    assert wrong.status_code == 403
    assert "Nothing was erased" in wrong.get_data(as_text=True)
    unconfirmed = client.post("/account/erase", data={"csrf_token": token, "password": PASSWORD})
    assert unconfirmed.status_code == 422
    assert "Tick the box to confirm." in unconfirmed.get_data(as_text=True)
    assert (
        client.post("/account/erase", data={"password": PASSWORD, "confirm": "yes"}).status_code
        == 400
    )  # no CSRF token
    assert events(app, "account:consumer:erased") == []

    done = client.post(
        "/account/erase", data={"csrf_token": token, "password": PASSWORD, "confirm": "yes"}
    )
    assert done.status_code == 200
    html = done.get_data(as_text=True)
    assert "Your account is erased" in html
    assert "Bookshop" in html and "Interests" in html
    assert "What remains" in html
    (erased,) = events(app, "account:consumer:erased")
    assert f"event number {erased['seq']}" in html
    # Signed out: the pages send you to sign in.
    assert client.get("/brands").status_code == 302
    assert (
        client.get("/api/v1/profile", headers=bearer(connected["access_token"])).status_code == 401
    )


def test_erasing_an_account_with_nothing_granted(app, client):
    sign_up(client, "quiet@example.org")
    assert _erase(client).status_code == 204
    (erased,) = events(app, "account:consumer:erased")
    assert erased["fields"] == []
    assert erased["details"]["brands_revoked"] == 0
    assert events(app, "consent:grant:revoked") == []


def test_the_officer_console_shows_the_erasure(app, client, connected):
    assert _erase(client).status_code == 204
    (erased,) = events(app, "account:consumer:erased")
    result = app.test_cli_runner().invoke(
        args=["officers", "create", "officer@sayso.example", "--password-stdin"],
        input=PASSWORD + "\n",
    )
    assert result.exit_code == 0, result.output
    officer = app.test_client()
    assert log_in(officer, "officer@sayso.example").status_code == 302
    html = officer.get("/console/erasures").get_data(as_text=True)
    assert f'href="/console/events/{erased["seq"]}"' in html
    # No value, nor the email, reaches the officer.
    assert MARKER not in html and EMAIL not in html
