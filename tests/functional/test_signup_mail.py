"""Email that really goes out, and signing up without telling anyone whether an address has
an account: a real SMTP server (aiosmtpd) receives what the mail worker sends."""

from __future__ import annotations

import re
import statistics
import time
from pathlib import Path

import pytest
from sqlalchemy import select, update

from sayso import services
from sayso.config import ConfigError
from sayso.extensions import db
from sayso.models import Account, AuditEvent, OutgoingMail
from sayso.shared.clock import utcnow
from sayso.shared.mail_settings import parse_mail_url
from tests.helpers import PASSWORD, api_headers, csrf_token, log_in
from tests.mail_helpers import Mailbox, link_to, mailbox  # noqa: F401  (a fixture)
from tests.oauth_helpers import authorize_url, make_brand, pkce

CONFIRM = "/account/confirm/"


@pytest.fixture
def mail_app(app_factory, mailbox):  # noqa: F811
    """The app, sending through the real SMTP server."""
    return app_factory(MAIL_URL=mailbox.url, MAIL_FROM="Sayso <hello@sayso.test>")


def _post_signup(client, email, password=PASSWORD, next_url=""):
    token = csrf_token(client, "/signup")
    form = {"email": email, "password": password, "csrf_token": token, "next": next_url}
    return client.post("/signup", data=form)


def _deliver(app) -> str:
    return app.test_cli_runner().invoke(args=["mail", "deliver", "--once"]).output.strip()


def _outbox(app) -> list[OutgoingMail]:
    with app.app_context():
        return db.session.scalars(select(OutgoingMail).order_by(OutgoingMail.id)).all()


def _events(app, type_) -> list[AuditEvent]:
    with app.app_context():
        return db.session.scalars(select(AuditEvent).where(AuditEvent.type == type_)).all()


def test_sign_up_emails_a_link_that_confirms_the_address_and_signs_in(mail_app, mailbox):  # noqa: F811
    client = mail_app.test_client()
    answer = _post_signup(client, "ada@example.org")
    assert answer.status_code == 200
    assert "Check your email" in answer.get_data(as_text=True)
    # Nobody is signed in by the sign-up itself (that would tell the two cases apart).
    assert client.get("/api/v1/me").status_code == 401
    # Queued with the account, sealed: nothing readable in the row.
    (queued,) = _outbox(mail_app)
    assert queued.status == "pending" and b"ada@example.org" not in queued.sealed

    assert _deliver(mail_app) == "sent 1, retried 0, failed 0"
    (message,) = mailbox.wait_for("ada@example.org")
    assert message["From"] == "Sayso <hello@sayso.test>"
    assert message["Subject"] == "Confirm your email address for Sayso"
    assert message["Auto-Submitted"] == "auto-generated"
    link = link_to(message, CONFIRM)
    assert "sayso_cfm_" in link

    # Once sent, only the status, attempts and times stay.
    (sent,) = _outbox(mail_app)
    assert (sent.status, sent.attempts, sent.sealed) == ("sent", 1, None) and sent.sent_at

    page = client.get(link)
    assert page.status_code == 200 and "Confirm your email address" in page.get_data(as_text=True)
    wrong = client.post(
        link, data={"password": "not the one", "csrf_token": csrf_token(client, link)}
    )
    assert wrong.status_code == 401
    confirmed = client.post(
        link, data={"password": PASSWORD, "csrf_token": csrf_token(client, link)}
    )
    assert confirmed.status_code == 302 and confirmed.headers["Location"] == "/disclosures"
    assert client.get("/api/v1/me").status_code == 200
    assert "Confirm your email address:" not in client.get("/disclosures").get_data(as_text=True)
    (event,) = _events(mail_app, "account:email:confirmed")
    assert "ada@example.org" not in event.canonical.decode()
    # Used once: the link does not work again.
    assert mail_app.test_client().get(link).status_code == 404


def test_sign_up_answers_alike_for_a_new_and_a_taken_address(app_factory, mailbox):  # noqa: F811
    # Production's hashing cost, so the timing compared is the one people would see.
    app = app_factory(MAIL_URL=mailbox.url, ARGON2_TIME_COST=3, ARGON2_MEMORY_COST=64 * 1024)
    services_cli = app.test_cli_runner()
    services_cli.invoke(
        args=["consumers", "create", "taken@example.org", "--password-stdin"], input=PASSWORD
    )

    def timed_signup(email):
        client = app.test_client()
        token = csrf_token(client, "/signup")
        form = {"email": email, "password": PASSWORD, "csrf_token": token}
        started = time.perf_counter()
        answer = client.post("/signup", data=form)
        return answer, time.perf_counter() - started

    new, taken = [], []
    for number in range(4):
        new.append(timed_signup(f"new-{number}@example.org"))
        taken.append(timed_signup("taken@example.org"))

    def shape(answer):
        body = re.sub(r'value="[^"]*"', 'value=""', answer.get_data(as_text=True))
        cookies = tuple(sorted(h.split("=", 1)[0] for h in answer.headers.getlist("Set-Cookie")))
        return answer.status_code, body, cookies, answer.headers.get("Content-Type")

    assert {shape(a) for a, _ in new} == {shape(a) for a, _ in taken}
    assert shape(new[0][0])[0] == 200
    # One password hash, one message, one event, one commit either way: within a third.
    new_time = statistics.median(t for _, t in new)
    taken_time = statistics.median(t for _, t in taken)
    assert 0.67 < new_time / taken_time < 1.5, (new_time, taken_time)

    _deliver(app)
    told = mailbox.wait_for("taken@example.org", 4)
    assert told[0]["Subject"] == "Someone tried to sign up to Sayso with your address"
    text = told[0].get_content()
    assert "/login" in text and "/account/forgot" in text and CONFIRM not in text
    assert CONFIRM in mailbox.wait_for("new-0@example.org")[0].get_content()
    with app.app_context():
        assert db.session.scalar(select(db.func.count()).select_from(Account)) == 5
    assert len(_events(app, "account:signup:repeated")) == 4


def test_an_unconfirmed_account_signs_in_but_grants_nothing_until_confirmed(
    mail_app,
    mailbox,  # noqa: F811
):
    brand = make_brand(mail_app.test_cli_runner())
    client = mail_app.test_client()
    _post_signup(client, "ada@example.org")
    assert log_in(client, "ada@example.org").status_code == 302
    page = client.get("/disclosures").get_data(as_text=True)
    assert "Confirm your email address:" in page and "Email me a new link" in page

    # The consent page says what to do instead of asking.
    url = authorize_url(brand, scope="interests:read", challenge=pkce()[1])
    consent = client.get(url)
    assert consent.status_code == 403
    assert "Confirm your email address first" in consent.get_data(as_text=True)
    # No grant through the API either.
    granted = client.post(
        f"/api/v1/me/grants/{brand['brand_id']}/interests", headers=api_headers(client)
    )
    assert granted.status_code == 403
    assert "Confirm your email address" in granted.get_json()["message"]

    # A new link replaces the first one.
    _deliver(mail_app)
    first = link_to(mailbox.wait_for("ada@example.org")[0], CONFIRM)
    resent = client.post(
        "/account/confirm/resend",
        data={"csrf_token": csrf_token(client, "/disclosures"), "next": url},
    )
    assert resent.status_code == 302 and resent.headers["Location"] == url
    _deliver(mail_app)
    second = link_to(mailbox.wait_for("ada@example.org", 2)[1], CONFIRM)
    assert client.get(first).status_code == 404
    done = client.post(
        second, data={"password": PASSWORD, "csrf_token": csrf_token(client, second)}
    )
    assert done.headers["Location"] == url
    assert client.get(url).status_code == 200  # the consent page, now


def test_a_mail_server_that_is_down_loses_nothing(app_factory):
    box = Mailbox()  # not listening yet
    app = app_factory(MAIL_URL=box.url)
    _post_signup(app.test_client(), "ada@example.org")
    assert _deliver(app) == "sent 0, retried 1, failed 0"
    (waiting,) = _outbox(app)
    assert waiting.status == "pending" and waiting.sealed is not None
    assert "could not reach the mail server" in waiting.last_error
    listed = app.test_cli_runner().invoke(args=["mail", "list"]).output
    assert "confirm_address" in listed and "pending" in listed and "ada@" not in listed
    # Not due before its backoff has passed...
    assert _deliver(app) == "sent 0, retried 0, failed 0"
    box.start()
    try:
        with app.app_context():  # ...which it now has.
            db.session.execute(update(OutgoingMail).values(next_attempt_at=utcnow()))
            db.session.commit()
        assert _deliver(app) == "sent 1, retried 0, failed 0"
        (message,) = box.wait_for("ada@example.org")
        assert CONFIRM in message.get_content()
        (sent,) = _outbox(app)
        assert (sent.status, sent.attempts, sent.sealed) == ("sent", 2, None)
    finally:
        box.stop()


def test_the_worker_sends_with_credentials_and_gives_up_on_a_refused_address(app_factory):
    box = Mailbox(credentials=("sayso", "s3cret word")).start()
    try:
        app = app_factory(MAIL_URL=box.url.replace("s3cret word", "s3cret%20word"))
        box.refused.add("nobody@example.org")
        _post_signup(app.test_client(), "ada@example.org")
        _post_signup(app.test_client(), "nobody@example.org")
        assert _deliver(app) == "sent 1, retried 0, failed 1"
        assert box.logins == ["sayso", "sayso"] and len(box.to("ada@example.org")) == 1
        refused = _outbox(app)[1]
        assert refused.status == "failed" and refused.sealed is None
        assert "refused the recipient (550)" in refused.last_error
    finally:
        box.stop()


def test_starttls_required_never_sends_in_the_clear(app_factory, mailbox):  # noqa: F811
    app = app_factory(MAIL_URL=mailbox.url + "?starttls=required")
    _post_signup(app.test_client(), "ada@example.org")
    assert _deliver(app) == "sent 0, retried 1, failed 0"
    assert mailbox.messages == []
    assert _outbox(app)[0].last_error == "the mail server does not offer STARTTLS"


def test_an_erased_account_s_queued_mail_is_never_sent(mail_app, mailbox):  # noqa: F811
    client = mail_app.test_client()
    _post_signup(client, "ada@example.org")
    log_in(client, "ada@example.org")
    erased = client.post(
        "/account/erase",
        data={
            "password": PASSWORD,
            "confirm": "yes",
            "csrf_token": csrf_token(client, "/account/data"),
        },
    )
    assert erased.status_code in (200, 302), erased.get_data(as_text=True)
    assert _deliver(mail_app) == "sent 0, retried 0, failed 1"
    assert mailbox.messages == []
    assert _outbox(mail_app)[0].sealed is None


def test_without_a_mail_server_messages_go_to_the_mail_folder_and_the_console(app_factory, capfd):
    app = app_factory(ENV="development", MAIL_WORKER="off")
    _post_signup(app.test_client(), "ada@example.org")
    with app.app_context():
        assert str(services.mail().deliver_due()) == "sent 1, retried 0, failed 0"
    (saved,) = (Path(app.instance_path) / "mail").glob("*.eml")
    text = saved.read_text()
    assert "To: ada@example.org" in text and CONFIRM in text
    printed = capfd.readouterr().err
    assert "Confirm your email address for Sayso" in printed and CONFIRM in printed


def test_production_needs_a_mail_server(app_factory):
    with pytest.raises(ConfigError, match="SAYSO_MAIL_URL"):
        app_factory(ENV="production", ISSUER="https://sayso.example")


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("http://mail.example", "smtp:// or smtps://"),
        ("smtp://", "names no host"),
        ("smtp://mail.example/inbox", "no path"),
        ("smtp://mail.example?starttls=maybe", "auto, required or off"),
        ("smtps://mail.example?starttls=required", "does not apply"),
        ("smtp://mail.example?tls=1", "unknown option"),
        ("smtp://mail.example:99999", "not a URL"),
    ],
)
def test_a_mail_url_that_cannot_work_is_refused_at_start_up(app_factory, url, problem):
    with pytest.raises(ConfigError, match="SAYSO_MAIL_URL is not valid") as refused:
        app_factory(MAIL_URL=url)
    assert problem in str(refused.value)


def test_mail_urls_read_as_expected_and_never_show_their_password():
    plain = parse_mail_url("smtp://user%40x:p%3Ass@mail.example")
    assert (plain.host, plain.port, plain.tls, plain.starttls) == (
        "mail.example",
        587,
        False,
        "auto",
    )
    assert (plain.username, plain.password) == ("user@x", "p:ss")
    assert "p:ss" not in repr(plain)
    wrapped = parse_mail_url("smtps://mail.example")
    assert (wrapped.port, wrapped.tls, wrapped.starttls) == (465, True, "off")
    assert parse_mail_url("smtp://127.0.0.1:2525?starttls=off").port == 2525


def test_a_bad_sender_is_refused(app_factory):
    with pytest.raises(ConfigError, match="SAYSO_MAIL_FROM"):
        app_factory(MAIL_FROM="not an address")


def test_sign_up_mail_is_rate_limited_per_address(mail_app):
    for _ in range(5):
        assert _post_signup(mail_app.test_client(), "ada@example.org").status_code == 200
    assert _post_signup(mail_app.test_client(), "ada@example.org").status_code == 429
    # "Forgot password?" counts toward the same five.
    client = mail_app.test_client()
    token = csrf_token(client, "/account/forgot")
    forgot = client.post("/account/forgot", data={"email": "ada@example.org", "csrf_token": token})
    assert forgot.status_code == 429
    assert _post_signup(mail_app.test_client(), "bob@example.org").status_code == 200
