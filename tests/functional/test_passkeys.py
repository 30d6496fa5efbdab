"""Passkeys through HTTP, answered by a software authenticator (tests/passkey_helpers.py):
registering from the account page, signing in with one alone or after the password,
single-use challenges, removing one with re-authentication, the ledger's events."""

import json
import secrets

import pytest
from sqlalchemy import select

from sayso.auth import AUTHENTICATED_AT
from sayso.extensions import db, limiter
from sayso.ledger import EventType
from sayso.models import AccountSession, AuditEvent, Passkey
from tests.helpers import PASSWORD, csrf_token, log_in, sign_up
from tests.passkey_helpers import (
    SoftwareAuthenticator,
    add_passkey,
    b64url,
    passkey_options,
    post_json,
    sign_in_with_passkey,
)


def _events(app, type_):
    with app.app_context():
        return db.session.scalars(select(AuditEvent).where(AuditEvent.type == type_)).all()


def _sign_out(client):
    client.post("/logout", data={"csrf_token": csrf_token(client, "/disclosures")})


@pytest.fixture
def consumer(client):
    sign_up(client, "ada@example.org")
    return client


def test_a_passkey_is_added_from_the_account_page_and_listed(app, consumer):
    page = consumer.get("/account/security").get_data(as_text=True)
    assert "You have no passkeys yet." in page and "passkeys.js" in page
    answer = add_passkey(consumer, SoftwareAuthenticator(), "Work laptop")
    assert answer.status_code == 201, answer.get_data(as_text=True)
    assert answer.get_json() == {"redirect": "/account/security"}
    page = consumer.get("/account/security").get_data(as_text=True)
    assert "Work laptop" in page and "Not used yet." in page
    added = _events(app, EventType.PASSKEY_ADDED)
    assert len(added) == 1
    # No credential material on the ledger: not the id, not the key.
    with app.app_context():
        stored = db.session.scalars(select(Passkey)).one()
        record = json.dumps(added[0].details or {})
        assert b64url(stored.credential_id) not in record and stored.public_key.hex() not in record


def test_sign_in_with_a_passkey_alone_goes_on_to_next(app, consumer):
    authenticator = SoftwareAuthenticator()
    add_passkey(consumer, authenticator)
    _sign_out(consumer)
    assert consumer.get("/account/security").status_code == 302
    answer = sign_in_with_passkey(consumer, authenticator, next_url="/brands")
    assert answer.status_code == 200, answer.get_data(as_text=True)
    assert answer.get_json() == {"redirect": "/brands"}
    assert consumer.get("/account/security").status_code == 200
    page = consumer.get("/account/sessions").get_data(as_text=True)
    assert "with a passkey" in page
    # Somewhere else is never a destination.
    _sign_out(consumer)
    answer = sign_in_with_passkey(consumer, authenticator, next_url="//evil.example/")
    assert answer.get_json() == {"redirect": "/disclosures"}


def test_a_challenge_is_used_once_and_only_for_its_ceremony(app, consumer):
    authenticator = SoftwareAuthenticator()
    add_passkey(consumer, authenticator)
    _sign_out(consumer)
    options = passkey_options(consumer).get_json()
    credential = authenticator.get(options)
    body = {"credential": credential, "purpose": "sign_in"}
    assert post_json(consumer, "/login/passkey", body).status_code == 200
    _sign_out(consumer)
    # The same answer again: its challenge is used up.
    replay = post_json(consumer, "/login/passkey", body)
    assert replay.status_code == 401
    assert replay.get_json()["error"] and "not accepted" in replay.get_json()["message"]
    # An answer for another browser's challenge is refused (bound to the session).
    other = consumer.application.test_client()
    stolen = authenticator.get(passkey_options(other).get_json())
    assert post_json(consumer, "/login/passkey", {"credential": stolen}).status_code == 401
    failed = [json.loads(e.details) for e in _events(app, EventType.LOGIN_FAILED)]
    assert failed == [{"reason": "passkey"}, {"reason": "passkey"}]


@pytest.mark.parametrize(
    "spoil",
    [
        lambda a: setattr(a, "origin", "https://evil.example"),
        lambda a: setattr(a, "verify_user", False),  # a passkey alone needs the person verified
        lambda a: setattr(a, "key", SoftwareAuthenticator().key),  # not the registered key
    ],
)
def test_answers_that_do_not_prove_the_passkey_are_refused(app, consumer, spoil):
    authenticator = SoftwareAuthenticator()
    add_passkey(consumer, authenticator)
    _sign_out(consumer)
    spoil(authenticator)
    assert sign_in_with_passkey(consumer, authenticator).status_code == 401
    assert consumer.get("/account/security").status_code == 302


def test_a_counter_that_goes_back_means_a_cloned_passkey(app, consumer):
    authenticator = SoftwareAuthenticator()
    add_passkey(consumer, authenticator)
    _sign_out(consumer)
    authenticator.counter = 5
    assert sign_in_with_passkey(consumer, authenticator).status_code == 200
    _sign_out(consumer)
    authenticator.counter = 2
    assert sign_in_with_passkey(consumer, authenticator).status_code == 401


def test_a_passkey_after_the_password(app, consumer):
    authenticator = SoftwareAuthenticator()
    add_passkey(consumer, authenticator)
    token = csrf_token(consumer, "/account/security")
    consumer.post(
        "/account/passkeys/second-factor", data={"csrf_token": token, "second_factor": "on"}
    )
    assert "checked" in consumer.get("/account/security").get_data(as_text=True)
    _sign_out(consumer)
    answer = log_in(consumer, "ada@example.org", next="/brands")
    assert answer.status_code == 302 and answer.headers["Location"] == "/login/passkey"
    # The password alone signs nobody in.
    assert consumer.get("/account/security").status_code == 302
    assert "Confirm with your passkey" in consumer.get("/login/passkey").get_data(as_text=True)
    # Only this account's passkey will do.
    stranger = SoftwareAuthenticator()
    options = passkey_options(consumer, "second_factor", "/login/passkey").get_json()
    assert [c["id"] for c in options["allowCredentials"]] == [b64url(authenticator.credential_id)]
    refused = post_json(
        consumer,
        "/login/passkey",
        {"credential": stranger.get(options), "purpose": "second_factor"},
        "/login/passkey",
    )
    assert refused.status_code == 401
    answer = sign_in_with_passkey(consumer, authenticator, "second_factor", page="/login/passkey")
    assert answer.status_code == 200 and answer.get_json() == {"redirect": "/brands"}
    assert consumer.get("/account/security").status_code == 200


def test_the_second_step_needs_the_password_first(client):
    assert client.get("/login/passkey").status_code == 302
    assert passkey_options(client, "second_factor").status_code == 401


def test_removing_a_passkey_needs_a_recent_sign_in_or_the_password(app, consumer):
    add_passkey(consumer, SoftwareAuthenticator())
    with app.app_context():
        passkey_id = db.session.scalars(select(Passkey.id)).one()
    with consumer.session_transaction() as session:
        session[AUTHENTICATED_AT] = 0  # signed in long ago
    url = f"/account/passkeys/{passkey_id}/remove"
    token = csrf_token(consumer, "/account/security")
    asked = consumer.post(url, data={"csrf_token": token})
    assert asked.status_code == 403
    assert "confirm it is you" in asked.get_data(as_text=True)
    wrong = consumer.post(url, data={"csrf_token": token, "password": "not the password"})
    assert wrong.status_code == 403
    done = consumer.post(url, data={"csrf_token": token, "password": PASSWORD})
    assert done.status_code == 302
    assert "You have no passkeys yet." in consumer.get("/account/security").get_data(as_text=True)
    assert len(_events(app, EventType.PASSKEY_REMOVED)) == 1


def test_confirming_with_a_passkey_allows_removing_one(app, consumer):
    authenticator = SoftwareAuthenticator()
    add_passkey(consumer, authenticator)
    with app.app_context():
        passkey_id = db.session.scalars(select(Passkey.id)).one()
    with consumer.session_transaction() as session:
        session[AUTHENTICATED_AT] = 0
    confirmed = sign_in_with_passkey(consumer, authenticator, "confirm", page="/account/security")
    assert confirmed.status_code == 200
    token = csrf_token(consumer, "/account/security")
    assert (
        consumer.post(
            f"/account/passkeys/{passkey_id}/remove", data={"csrf_token": token}
        ).status_code
        == 302
    )
    assert len(_events(app, EventType.PASSKEY_REMOVED)) == 1


def test_one_account_cannot_remove_anothers_passkey(app, consumer):
    add_passkey(consumer, SoftwareAuthenticator())
    with app.app_context():
        passkey_id = db.session.scalars(select(Passkey.id)).one()
    other = app.test_client()
    sign_up(other, "bob@example.org")
    token = csrf_token(other, "/account/security")
    other.post(f"/account/passkeys/{passkey_id}/remove", data={"csrf_token": token})
    with app.app_context():
        assert db.session.get(Passkey, passkey_id) is not None


def test_bad_bodies_get_the_json_error_shape(consumer):
    answer = post_json(consumer, "/account/passkeys", {"name": ""}, "/account/security")
    assert answer.status_code == 422
    assert set(answer.get_json()) == {"error", "message", "fields"}
    answer = post_json(consumer, "/login/passkey/options", {"purpose": "everything"})
    assert answer.status_code == 422


def test_passkey_sign_in_has_the_sign_in_rate_limit(app_factory):
    app = app_factory(LOGIN_RATE_LIMIT="3 per minute")
    with app.app_context():
        limiter.reset()
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = "10." + ".".join(str(b) for b in secrets.token_bytes(3))
    # One budget for both ways in: alternating gets no more tries.
    statuses = [
        post_json(client, "/login/passkey", {"credential": {}}).status_code,
        log_in(client, "nobody@example.org").status_code,
        post_json(client, "/login/passkey", {"credential": {}}).status_code,
        log_in(client, "nobody@example.org").status_code,
        post_json(client, "/login/passkey", {"credential": {}}).status_code,
    ]
    assert statuses == [401, 401, 401, 429, 429]


def test_erasure_forgets_passkeys_and_sessions(app, consumer):
    add_passkey(consumer, SoftwareAuthenticator())
    token = csrf_token(consumer, "/account/data")
    answer = consumer.post(
        "/account/erase", data={"csrf_token": token, "password": PASSWORD, "confirm": "yes"}
    )
    assert answer.status_code in (200, 302)
    with app.app_context():
        assert db.session.scalars(select(Passkey)).all() == []
        assert db.session.scalars(select(AccountSession)).all() == []
