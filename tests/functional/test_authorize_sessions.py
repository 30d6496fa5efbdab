"""The authorization endpoint reads the browser's session along with the client (one
statement, services/sessions.py's ``SessionRecords.along``): the session's checks are
those of every other page. An ended session, a cookie without its record or with another
account's, gets no consent page and grants nothing; "last seen" still moves."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from sayso.extensions import db
from sayso.models import AccountSession, Grant
from sayso.services.sessions import LAST_SEEN_EVERY
from sayso.shared.clock import utcnow
from tests.helpers import csrf_token, log_in, sign_up
from tests.oauth_helpers import authorize_url, make_brand, pkce


@pytest.fixture
def brand(runner):
    return make_brand(runner)


@pytest.fixture
def url(brand):
    _, challenge = pkce()
    return authorize_url(brand, challenge=challenge, prompt="consent")


def _sent_to_sign_in(response) -> bool:
    return response.status_code == 302 and response.headers["Location"].startswith("/login")


def _grants(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(Grant))


def _allow(client, url, token):
    form = {"csrf_token": token, "decision": "allow", "field": ["interests"]}
    return client.post(url, data=form)


def test_a_session_ended_from_another_browser_can_neither_see_nor_give_consent(app, url):
    here = app.test_client()
    sign_up(here, "ada@example.org")
    there = app.test_client()
    assert log_in(there, "ada@example.org").status_code == 302
    token = csrf_token(there, url)  # the consent page, shown while the session was live
    ended = here.post(
        "/account/sessions/end-others",
        data={"csrf_token": csrf_token(here, "/account/sessions")},
    )
    assert ended.status_code == 302
    assert _sent_to_sign_in(there.get(url))
    assert _sent_to_sign_in(_allow(there, url, token))
    assert _grants(app) == 0
    # The browser whose session is live consents as before.
    assert _allow(here, url, csrf_token(here, url)).status_code == 302
    assert _grants(app) == 1


def test_a_cookie_without_its_session_record_signs_nobody_in_to_consent(app, url):
    client = app.test_client()
    sign_up(client, "ada@example.org")
    token = csrf_token(client, url)
    with client.session_transaction() as session:
        session.pop("sid")
    assert _sent_to_sign_in(client.get(url))
    assert _sent_to_sign_in(_allow(client, url, token))
    assert _grants(app) == 0


def test_another_accounts_session_record_does_not_sign_this_account_in(app, url):
    # The record must be the named account's own: Ada's cookie carrying Bob's live
    # session id is no session at all.
    ada, bob = app.test_client(), app.test_client()
    sign_up(ada, "ada@example.org")
    sign_up(bob, "bob@example.org")
    with bob.session_transaction() as session:
        bobs = session["sid"]
    token = csrf_token(ada, url)
    with ada.session_transaction() as session:
        session["sid"] = bobs
    assert _sent_to_sign_in(ada.get(url))
    assert _sent_to_sign_in(_allow(ada, url, token))
    assert _grants(app) == 0


def test_the_consent_page_notes_the_session_seen(app, url):
    client = app.test_client()
    sign_up(client, "ada@example.org")
    long_ago = utcnow() - LAST_SEEN_EVERY - timedelta(seconds=1)
    with app.app_context():
        db.session.execute(update(AccountSession).values(last_seen_at=long_ago))
        db.session.commit()
    assert client.get(url).status_code == 200
    with app.app_context():
        seen = db.session.scalar(select(AccountSession.last_seen_at))
    assert seen > long_ago + timedelta(seconds=1)


def test_an_unknown_client_is_refused_to_a_signed_in_consumer(app):
    client = app.test_client()
    sign_up(client, "ada@example.org")
    _, challenge = pkce()
    fake = {"client_id": "no-such-client", "redirect_uri": "https://x.example/cb"}
    page = client.get(authorize_url(fake, challenge=challenge))
    assert page.status_code == 400
    # Still signed in: the session loaded on its own.
    assert client.get("/account/sessions").status_code == 200
