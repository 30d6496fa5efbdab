"""Sessions and devices through HTTP: the list of signed-in browsers, signing out of one or
of all others, "last seen" written at most every few minutes, the extension's entry."""

import json
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from sayso.extensions import db
from sayso.ledger import EventType
from sayso.models import AccountSession, AuditEvent
from sayso.services.sessions import LAST_SEEN_EVERY, describe
from sayso.shared.clock import utcnow
from tests.functional.test_extension_api import _extension_token
from tests.helpers import PASSWORD, csrf_token, log_in, sign_up
from tests.oauth_helpers import bearer

FIREFOX = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0"
SAFARI = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1"
)


@pytest.fixture
def two_browsers(app):
    """The same consumer signed in on a Windows Firefox and an iPhone."""
    here = app.test_client()
    here.environ_base["HTTP_USER_AGENT"] = FIREFOX
    sign_up(here, "ada@example.org")
    there = app.test_client()
    there.environ_base["HTTP_USER_AGENT"] = SAFARI
    assert log_in(there, "ada@example.org").status_code == 302
    return here, there


def _rows(app):
    with app.app_context():
        return db.session.scalars(select(AccountSession)).all()


def test_user_agents_in_peoples_words():
    assert describe(FIREFOX) == ("Firefox", "Windows")
    assert describe(SAFARI) == ("Mobile Safari", "iOS")
    assert describe("") == (None, None)


def test_the_page_lists_each_signed_in_browser_and_says_it_does_not_geolocate(two_browsers):
    here, _ = two_browsers
    page = here.get("/account/sessions").get_data(as_text=True)
    assert "Firefox on Windows</strong> (this browser)" in page
    assert "Mobile Safari on iOS</strong>" in page
    assert "does not look up where you are" in page
    assert "Sign out all others" in page
    assert "not signed in to your account" in page  # no extension


def test_sign_out_all_others_ends_the_other_browser_only(app, two_browsers):
    here, there = two_browsers
    token = csrf_token(here, "/account/sessions")
    answer = here.post("/account/sessions/end-others", data={"csrf_token": token})
    assert answer.status_code == 302
    assert there.get("/account/sessions").status_code == 302  # sent to sign in
    page = here.get("/account/sessions").get_data(as_text=True)
    assert "Signed out of 1 other session." in page and "Mobile Safari" not in page
    with app.app_context():
        events = db.session.scalars(
            select(AuditEvent).where(AuditEvent.type == EventType.SESSION_ENDED)
        ).all()
    assert [json.loads(e.details)["what"] for e in events] == ["other_sessions"]


def test_sign_out_this_one(app, two_browsers):
    here, there = two_browsers
    other = next(r for r in _rows(app) if r.user_agent == SAFARI)
    token = csrf_token(here, "/account/sessions")
    here.post(f"/account/sessions/{other.id_hash}/end", data={"csrf_token": token})
    assert there.get("/account/sessions").status_code == 302
    assert here.get("/account/sessions").status_code == 200
    # This browser's own entry signs it out.
    mine = next(r for r in _rows(app) if r.user_agent == FIREFOX)
    token = csrf_token(here, "/account/sessions")
    here.post(f"/account/sessions/{mine.id_hash}/end", data={"csrf_token": token})
    assert here.get("/account/sessions").status_code == 302


def test_another_accounts_session_cannot_be_ended(app, two_browsers):
    here, _ = two_browsers
    stranger = app.test_client()
    sign_up(stranger, "bob@example.org")
    row = next(r for r in _rows(app) if r.user_agent == FIREFOX)
    token = csrf_token(stranger, "/account/sessions")
    stranger.post(f"/account/sessions/{row.id_hash}/end", data={"csrf_token": token})
    assert here.get("/account/sessions").status_code == 200


def test_last_seen_is_written_at_most_every_few_minutes(app, two_browsers):
    here, _ = two_browsers
    row = next(r for r in _rows(app) if r.user_agent == FIREFOX)
    for _ in range(3):
        here.get("/disclosures")
    again = next(r for r in _rows(app) if r.id_hash == row.id_hash)
    assert again.last_seen_at == row.last_seen_at  # not on every request
    long_ago = utcnow() - LAST_SEEN_EVERY - timedelta(seconds=1)
    with app.app_context():
        db.session.execute(
            update(AccountSession)
            .where(AccountSession.id_hash == row.id_hash)
            .values(last_seen_at=long_ago)
        )
        db.session.commit()
    here.get("/disclosures")  # a GET: read-only, yet "last seen" moves
    seen = next(r for r in _rows(app) if r.id_hash == row.id_hash).last_seen_at
    assert seen > long_ago + timedelta(seconds=1)


def test_a_password_change_ends_the_other_sessions_and_lists_only_this_one(app, two_browsers):
    here, there = two_browsers
    token = csrf_token(here, "/account/password")
    here.post(
        "/account/password",
        data={
            "csrf_token": token,
            "current_password": PASSWORD,
            "new_password": "a brand new passphrase",
        },
    )
    assert there.get("/account/sessions").status_code == 302
    page = here.get("/account/sessions").get_data(as_text=True)
    assert page.count("Sign out of this") == 1


def test_a_session_cookie_without_its_record_signs_nobody_in(app, two_browsers):
    here, _ = two_browsers
    with here.session_transaction() as session:
        session.pop("sid")
    assert here.get("/account/sessions").status_code == 302


def test_the_extension_appears_and_can_be_signed_out(app, runner, client):
    assert runner.invoke(args=["init"]).exit_code == 0
    sign_up(client, "ada@example.org")
    token = _extension_token(client)
    extension = app.test_client()  # no cookie: the token alone, as the extension sends it
    assert extension.get("/api/v1/me/grants", headers=bearer(token)).status_code == 200
    page = client.get("/account/sessions").get_data(as_text=True)
    assert "Sign the extension out" in page
    family = page.split("/account/extension/")[1].split("/end")[0]
    csrf = csrf_token(client, "/account/sessions")
    answer = client.post(f"/account/extension/{family}/end", data={"csrf_token": csrf})
    assert answer.status_code == 302
    assert extension.get("/api/v1/me/grants", headers=bearer(token)).status_code == 401
    page = client.get("/account/sessions").get_data(as_text=True)
    assert "not signed in to your account" in page
