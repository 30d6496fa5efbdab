"""Forgot password: an emailed single-use link, received by a real SMTP server (aiosmtpd);
and a new password is never the current one."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from sayso.extensions import db
from sayso.models import Account, AuditEvent
from sayso.shared.clock import utcnow
from tests.helpers import PASSWORD, csrf_token, log_in, sign_up
from tests.mail_helpers import link_to, mailbox  # noqa: F401  (a fixture)

RESET = "/account/reset/"
NEW_PASSWORD = "a brand new passphrase"


@pytest.fixture
def mail_app(app_factory, mailbox):  # noqa: F811
    """The app sending through the real SMTP server, with Ada's account (confirmed)."""
    app = app_factory(MAIL_URL=mailbox.url)
    app.test_cli_runner().invoke(
        args=["consumers", "create", "ada@example.org", "--password-stdin"], input=PASSWORD
    )
    return app


def _forgot(client, email):
    token = csrf_token(client, "/account/forgot")
    return client.post("/account/forgot", data={"email": email, "csrf_token": token})


def _reset_link(app, mailbox, count=1) -> str:  # noqa: F811
    app.test_cli_runner().invoke(args=["mail", "deliver", "--once"])
    messages = mailbox.wait_for("ada@example.org", count)
    assert messages[-1]["Subject"] == "Reset your Sayso password"
    return link_to(messages[-1], RESET)


def _set_password(client, link, password):
    return client.post(
        link, data={"new_password": password, "csrf_token": csrf_token(client, link)}
    )


def _events(app, type_):
    with app.app_context():
        return db.session.scalars(select(AuditEvent).where(AuditEvent.type == type_)).all()


def test_the_sign_in_page_offers_forgot_password(client):
    assert 'href="/account/forgot"' in client.get("/login").get_data(as_text=True)
    assert "Forgot your password?" in client.get("/account/forgot").get_data(as_text=True)


def test_a_reset_link_sets_a_new_password_and_ends_every_session(mail_app, mailbox):  # noqa: F811
    elsewhere = mail_app.test_client()
    assert log_in(elsewhere, "ada@example.org").status_code == 302

    client = mail_app.test_client()
    asked = _forgot(client, "Ada@Example.org ")
    assert asked.status_code == 200
    assert "If an account has that address" in asked.get_data(as_text=True)
    link = _reset_link(mail_app, mailbox)
    assert "sayso_rst_" in link and "30 minutes" in mailbox.messages[-1].get_content()

    page = client.get(link)
    assert page.status_code == 200 and "Choose a new password" in page.get_data(as_text=True)
    # The current password is refused as the new one.
    same = _set_password(client, link, PASSWORD)
    assert same.status_code == 422
    assert "That is the password you have now" in same.get_data(as_text=True)
    done = _set_password(client, link, NEW_PASSWORD)
    assert done.status_code == 302 and done.headers["Location"] == "/login"

    assert elsewhere.get("/api/v1/me").status_code == 401  # every session ended
    assert log_in(mail_app.test_client(), "ada@example.org").status_code == 401
    assert log_in(mail_app.test_client(), "ada@example.org", NEW_PASSWORD).status_code == 302
    # Used once.
    assert client.get(link).status_code == 404
    token = csrf_token(client, "/account/forgot")
    again = client.post(link, data={"new_password": "yet another one", "csrf_token": token})
    assert again.status_code == 404

    # Recorded, without the address.
    (requested,) = _events(mail_app, "account:password:reset_requested")
    (reset,) = _events(mail_app, "account:password:reset")
    with mail_app.app_context():
        pseudonym = db.session.scalar(select(Account.pseudonym))
    for event in (requested, reset):
        assert event.subject == pseudonym
        assert "ada@" not in event.canonical.decode().lower()


def test_an_unknown_address_gets_the_same_answer_and_no_mail(mail_app, mailbox):  # noqa: F811
    known = _forgot(mail_app.test_client(), "ada@example.org")
    unknown = _forgot(mail_app.test_client(), "nobody@example.org")

    def shape(answer):
        return answer.status_code, re.sub(r'value="[^"]*"', "", answer.get_data(as_text=True))

    assert shape(known) == shape(unknown)
    mail_app.test_cli_runner().invoke(args=["mail", "deliver", "--once"])
    assert mailbox.to("nobody@example.org") == [] and len(mailbox.to("ada@example.org")) == 1
    events = _events(mail_app, "account:password:reset_requested")
    assert sorted(e.subject is None for e in events) == [False, True]


def test_a_newer_link_a_password_change_and_time_each_end_a_link(mail_app, mailbox):  # noqa: F811
    client = mail_app.test_client()
    _forgot(client, "ada@example.org")
    first = _reset_link(mail_app, mailbox, 1)
    _forgot(client, "ada@example.org")
    second = _reset_link(mail_app, mailbox, 2)
    assert client.get(first).status_code == 404  # replaced by the newer one
    assert client.get(second).status_code == 200

    # A password change (signed in) ends the link too.
    log_in(client, "ada@example.org")
    changed = client.post(
        "/account/password",
        data={
            "current_password": PASSWORD,
            "new_password": NEW_PASSWORD,
            "csrf_token": csrf_token(client, "/account/password"),
        },
    )
    assert changed.status_code == 302
    assert mail_app.test_client().get(second).status_code == 404

    # And time: a link works for 30 minutes.
    _forgot(client, "ada@example.org")
    third = _reset_link(mail_app, mailbox, 3)
    with mail_app.app_context():
        db.session.execute(update(Account).values(reset_expires_at=utcnow() - timedelta(seconds=1)))
        db.session.commit()
    expired = mail_app.test_client().get(third)
    assert expired.status_code == 404
    assert "Ask for a new link" in expired.get_data(as_text=True)


def test_a_reset_confirms_an_unconfirmed_address(app_factory, mailbox):  # noqa: F811
    # Someone signed up with Ada's address and a password of their own: Ada, who owns the
    # mailbox, takes the account over by resetting the password (and their sessions end).
    app = app_factory(MAIL_URL=mailbox.url)
    squatter = app.test_client()
    token = csrf_token(squatter, "/signup")
    squatter.post(
        "/signup", data={"email": "ada@example.org", "password": PASSWORD, "csrf_token": token}
    )
    log_in(squatter, "ada@example.org")
    client = app.test_client()
    _forgot(client, "ada@example.org")
    app.test_cli_runner().invoke(args=["mail", "deliver", "--once"])
    link = link_to(mailbox.wait_for("ada@example.org", 2)[-1], RESET)
    assert _set_password(client, link, NEW_PASSWORD).status_code == 302
    assert squatter.get("/api/v1/me").status_code == 401
    with app.app_context():
        assert db.session.scalar(select(Account.email_confirmed_at)) is not None


def test_forgot_password_is_rate_limited_per_address_and_per_client(mail_app):
    for _ in range(5):
        assert _forgot(mail_app.test_client(), "ada@example.org").status_code == 200
    assert _forgot(mail_app.test_client(), "ada@example.org").status_code == 429
    # Per client address: 20 an hour, whatever the addresses.
    client = mail_app.test_client()
    answers = [_forgot(client, f"someone-{n}@example.org").status_code for n in range(16)]
    assert answers[:14] == [200] * 14 and answers[-1] == 429


def test_a_new_password_cannot_be_the_current_one(client):
    sign_up(client, "ada@example.org")
    refused = client.post(
        "/account/password",
        data={
            "current_password": PASSWORD,
            "new_password": PASSWORD,
            "csrf_token": csrf_token(client, "/account/password"),
        },
    )
    assert refused.status_code == 422
    assert "That is the password you have now" in refused.get_data(as_text=True)


def test_bad_links_are_a_readable_404(client):
    for path in (RESET + "nonsense", RESET + "sayso_rst_unknown", "/account/confirm/x"):
        answer = client.get(path)
        assert answer.status_code == 404
        assert "This link no longer works" in answer.get_data(as_text=True)
