"""Sign-up, sign-in, lockout, sign-out and password change, through HTTP."""

import os
import re
import secrets
from datetime import UTC, datetime, timedelta
from urllib.parse import quote

import pytest
from sqlalchemy import select

from sayso.auth import SESSION_ENDED
from sayso.extensions import db, limiter
from sayso.models import Account, AuditEvent
from sayso.web.accounts import BAD_CREDENTIALS
from tests.helpers import PASSWORD, csrf_token, emailed, log_in, sign_up
from tests.oauth_helpers import REDIRECT, authorize_url, connect, make_brand, pkce


def _events(app, type_):
    with app.app_context():
        return db.session.scalars(
            select(AuditEvent).where(AuditEvent.type == type_).order_by(AuditEvent.seq)
        ).all()


def test_landing_page_explains_and_offers_the_way_in(client):
    html = client.get("/").get_data(as_text=True)
    assert "Tell brands what you want" in html
    assert 'href="/signup"' in html and 'href="/login"' in html


def test_sign_up_signs_in_and_is_a_ledger_event(app, client):
    response = sign_up(client, "Ada@Example.org")
    assert response.status_code == 302
    assert response.headers["Location"] == "/disclosures"
    assert client.get("/disclosures").status_code == 200
    assert client.get("/api/v1/me").get_json()["email"] == "Ada@Example.org"
    (event,) = _events(app, "account:consumer:created")
    assert event.actor.startswith("consumer:") and event.subject


def test_sign_up_twice_with_the_same_email_differing_in_case_makes_no_account(app, client):
    # The same "check your email" page as a new address gets (test_signup_mail.py), and
    # the address is told instead; no second account.
    sign_up(client, "ada@example.org")
    client.post("/logout", data={"csrf_token": csrf_token(client, "/disclosures")})
    response = sign_up(client, "  ADA@example.org ")
    assert response.status_code == 200
    assert "Check your email" in response.get_data(as_text=True)
    assert "Someone tried to sign up" in emailed(app, "ada@example.org")[-1]["Subject"]
    assert len(_events(app, "account:consumer:created")) == 1


@pytest.mark.parametrize(
    ("email", "password", "message"),
    [
        ("not-an-email", PASSWORD, "Email: Write an email address, such as ada@example.org."),
        ("ada@example.org", "short", "Use 10 to 256 characters."),
        ("ada@example.org", "x" * 257, "Use 10 to 256 characters."),
        ("", PASSWORD, "email"),
    ],
)
def test_sign_up_rejects_bad_input_with_a_readable_page(client, email, password, message):
    response = sign_up(client, email, password)
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)


def test_sign_in_and_out(client):
    sign_up(client, "ada@example.org")
    client.post("/logout", data={"csrf_token": csrf_token(client, "/disclosures")})
    assert client.get("/api/v1/me").status_code == 401
    response = log_in(client, "ada@example.org")
    assert response.status_code == 302
    assert client.get("/api/v1/me").status_code == 200


def test_a_copy_of_the_session_cookie_stops_working_at_sign_out(app, client):
    # A cookie copied off a shared computer (or a proxy's log) before its owner signed
    # out: signing out ends every session of the account, this copy's too.
    sign_up(client, "ada@example.org")
    other_browser = app.test_client()
    log_in(other_browser, "ada@example.org")
    copy = app.test_client()
    copy.set_cookie("sayso_session", client.get_cookie("sayso_session").value)
    assert copy.get("/api/v1/me").status_code == 200
    client.post("/logout", data={"csrf_token": csrf_token(client, "/disclosures")})
    assert copy.get("/api/v1/me").status_code == 401
    assert other_browser.get("/api/v1/me").status_code == 401
    assert log_in(client, "ada@example.org").status_code == 302
    assert copy.get("/api/v1/me").status_code == 401  # signing in again does not revive it


def test_bad_credentials_get_one_generic_message_and_are_ledger_events(app, client):
    sign_up(client, "ada@example.org")
    client.post("/logout", data={"csrf_token": csrf_token(client, "/disclosures")})
    wrong_password = log_in(client, "ada@example.org", "not the password")
    unknown = log_in(client, "nobody@example.org", PASSWORD)
    for response in (wrong_password, unknown):
        assert response.status_code == 401
        assert BAD_CREDENTIALS in response.get_data(as_text=True)
    reasons = sorted(e.details for e in _events(app, "account:login:failed"))
    assert reasons == ['{"reason":"bad_password"}', '{"reason":"unknown_account"}']
    for event in _events(app, "account:login:failed"):
        assert "example.org" not in event.canonical.decode()


def test_repeated_failures_lock_the_account_even_for_the_right_password(app_factory):
    app = app_factory(LOGIN_MAX_FAILURES=3, LOGIN_LOCKOUT_SECONDS=600)
    client = app.test_client()
    sign_up(client, "ada@example.org")
    client.post("/logout", data={"csrf_token": csrf_token(client, "/disclosures")})
    for _ in range(3):
        assert log_in(client, "ada@example.org", "wrong password!").status_code == 401
    locked = log_in(client, "ada@example.org")
    assert locked.status_code == 401
    assert BAD_CREDENTIALS in locked.get_data(as_text=True)
    assert len(_events(app, "account:login:locked")) == 1

    # When the lockout has run out, the right password works again.
    with app.app_context():
        account = db.session.scalars(select(Account)).one()
        account.locked_until = datetime.now(UTC) - timedelta(seconds=1)
        db.session.commit()
    assert log_in(client, "ada@example.org").status_code == 302


RATE_LIMIT_STORAGES = ["memory"] + (["redis"] if os.environ.get("SAYSO_TEST_REDIS_URL") else [])


@pytest.mark.parametrize("storage", RATE_LIMIT_STORAGES)
def test_sign_in_is_rate_limited_per_client(app_factory, storage):
    redis = {"REDIS_URL": os.environ.get("SAYSO_TEST_REDIS_URL")} if storage == "redis" else {}
    app = app_factory(LOGIN_RATE_LIMIT="3 per minute", **redis)
    assert app.config["RATELIMIT_STORAGE_URI"].startswith(storage)
    if storage == "memory":
        with app.app_context():
            limiter.reset()  # counters from earlier tests on the same storage
    client = app.test_client()
    # On Redis, an address of the test's own instead of a reset: another run of the suite
    # may share the database, and resetting would delete its counters (as its resets
    # would delete these).
    client.environ_base["REMOTE_ADDR"] = "10." + ".".join(str(b) for b in secrets.token_bytes(3))
    statuses = [log_in(client, "nobody@example.org").status_code for _ in range(4)]
    assert statuses == [401, 401, 401, 429]


def test_forms_without_the_csrf_token_are_rejected(client):
    response = client.post("/signup", data={"email": "ada@example.org", "password": PASSWORD})
    assert response.status_code == 400
    assert "This form has expired" in response.get_data(as_text=True)
    response = client.post(
        "/login",
        data={"email": "ada@example.org", "password": PASSWORD, "csrf_token": "forged"},
    )
    assert response.status_code == 400


@pytest.mark.parametrize(
    ("next_", "expected"),
    [
        ("/disclosures/channels", "/disclosures/channels"),
        ("https://evil.example/", "/disclosures"),
        ("//evil.example/", "/disclosures"),
        ("/\\evil.example", "/disclosures"),
        ("javascript:alert(1)", "/disclosures"),
        ("", "/disclosures"),
    ],
)
def test_next_redirects_only_within_sayso(client, next_, expected):
    sign_up(client, "ada@example.org")
    client.post("/logout", data={"csrf_token": csrf_token(client, "/disclosures")})
    response = log_in(client, "ada@example.org", next=next_)
    assert response.headers["Location"] == expected


def test_pages_need_sign_in_and_come_back_after_it(client):
    response = client.get("/disclosures/interests")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login?next=")


@pytest.mark.parametrize(
    ("referer", "landing"),
    [
        ("http://localhost/brands", "/brands"),
        (None, "/disclosures"),
        ("https://evil.example/brands", "/disclosures"),
    ],
    ids=["referer", "no-referer", "foreign-referer"],
)
def test_a_form_sent_after_the_session_ended_is_repeated_by_the_person(
    app, runner, referer, landing
):
    # Signed out everywhere from another browser, Ada clicks Revoke on a /brands page she
    # had open. Signing in again must not GET the POST-only URL (405), nor revoke unseen:
    # she goes back to the page she was on (if it was ours) and is told to repeat it.
    brand = make_brand(runner)
    here, there = app.test_client(), app.test_client()
    sign_up(there, "ada@example.org")
    connect(there, brand, ["interests"], scope="interests:read")
    log_in(here, "ada@example.org")
    token = re.search(
        r'name="csrf_token" value="([^"]+)"', here.get("/brands").get_data(as_text=True)
    ).group(1)
    there.post("/logout", data={"csrf_token": csrf_token(there, "/disclosures")})

    revoke = f"/brands/{brand['brand_id']}/fields/interests/revoke"
    headers = {"Referer": referer} if referer else {}
    response = here.post(revoke, data={"csrf_token": token}, headers=headers)
    assert response.status_code == 302
    sign_in_page = here.get(response.headers["Location"]).get_data(as_text=True)
    assert SESSION_ENDED in sign_in_page
    next_ = re.search(r'name="next" value="([^"]*)"', sign_in_page).group(1)
    assert revoke not in next_

    signed_in = log_in(here, "ada@example.org", next=next_)
    assert signed_in.headers["Location"] == landing
    assert here.get(landing).status_code == 200
    (entry,) = here.get("/api/v1/me/grants").get_json()
    assert [(g["field"], g["active"]) for g in entry["grants"]] == [("interests", True)]


def test_a_failed_sign_in_keeps_the_typed_email_not_the_password(client):
    sign_up(client, "ada@example.org")
    client.post("/logout", data={"csrf_token": csrf_token(client, "/disclosures")})
    response = log_in(client, "ada@example.org", "a wrong password")
    assert response.status_code == 401
    html = response.get_data(as_text=True)
    assert 'name="email" value="ada@example.org"' in html
    assert "a wrong password" not in html


def test_form_errors_are_focused_and_tied_to_their_inputs(client):
    response = sign_up(client, "not an email", PASSWORD)
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert '<div class="errors" id="errors" role="alert" tabindex="-1" autofocus>' in html
    assert '<li id="error-1">Email: Write an email address, such as ada@example.org.</li>' in html
    email = re.search(r'<input type="email" name="email"[^>]*>', html).group(0)
    assert 'aria-invalid="true" aria-describedby="error-1"' in email
    password = re.search(r'<input type="password" name="password"[^>]*>', html).group(0)
    assert "aria-invalid" not in password


def test_password_change_ends_other_sessions(app):
    first, second = app.test_client(), app.test_client()
    sign_up(first, "ada@example.org")
    log_in(second, "ada@example.org")
    assert second.get("/api/v1/me").status_code == 200
    token = csrf_token(first, "/account/password")
    response = first.post(
        "/account/password",
        data={
            "current_password": PASSWORD,
            "new_password": "a new long password",
            "csrf_token": token,
        },
    )
    assert response.status_code == 302
    assert first.get("/api/v1/me").status_code == 200
    assert second.get("/api/v1/me").status_code == 401
    assert log_in(second, "ada@example.org").status_code == 401
    assert log_in(second, "ada@example.org", "a new long password").status_code == 302
    assert len(_events(app, "account:password:changed")) == 1


def test_password_change_needs_the_current_password(client):
    sign_up(client, "ada@example.org")
    token = csrf_token(client, "/account/password")
    response = client.post(
        "/account/password",
        data={
            "current_password": "wrong",
            "new_password": "a new long password",
            "csrf_token": token,
        },
    )
    assert response.status_code == 403


def _change_password(client, current):
    return client.post(
        "/account/password",
        data={
            "current_password": current,
            "new_password": "a new long password",
            "csrf_token": csrf_token(client, "/account/password"),
        },
    )


def test_wrong_current_passwords_count_toward_the_lockout(app_factory):
    # An open session is no way to guess the password: wrong current passwords lock the
    # account as failed sign-ins do, and then even the right one is refused.
    app = app_factory(LOGIN_MAX_FAILURES=3, LOGIN_LOCKOUT_SECONDS=600)
    client = app.test_client()
    sign_up(client, "ada@example.org")
    assert [_change_password(client, f"guess {i}").status_code for i in range(3)] == [403] * 3
    assert _change_password(client, PASSWORD).status_code == 403
    assert len(_events(app, "account:login:locked")) == 1
    reasons = [e.details for e in _events(app, "account:login:failed")]
    assert reasons == ['{"reason":"bad_password"}'] * 3 + ['{"reason":"locked"}']
    assert log_in(app.test_client(), "ada@example.org").status_code == 401


def test_password_change_is_rate_limited(app_factory):
    app = app_factory(LOGIN_RATE_LIMIT="3 per minute", LOGIN_MAX_FAILURES=100)
    with app.app_context():
        limiter.reset()
    client = app.test_client()
    sign_up(client, "ada@example.org")
    statuses = [_change_password(client, f"guess {i}").status_code for i in range(4)]
    assert statuses == [403, 403, 403, 429]


def test_session_cookie_is_httponly_and_samesite(client):
    response = sign_up(client, "ada@example.org")
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie


def test_session_cookie_is_secure_when_configured(app_factory):
    client = app_factory(SESSION_COOKIE_SECURE=True).test_client()
    response = sign_up(client, "ada@example.org")
    assert "Secure" in response.headers["Set-Cookie"]


def test_behind_a_trusted_proxy_each_client_has_its_own_limit(app_factory):
    app = app_factory(LOGIN_RATE_LIMIT="2 per minute", TRUSTED_PROXIES=1)
    with app.app_context():
        limiter.reset()
    client = app.test_client()

    def attempt(ip):
        token = csrf_token(client, "/login")
        return client.post(
            "/login",
            data={"email": "x@example.org", "password": "y", "csrf_token": token},
            headers={"X-Forwarded-For": ip},
        ).status_code

    assert [attempt("198.51.100.1") for _ in range(3)] == [401, 401, 429]
    assert attempt("198.51.100.2") == 401


def test_the_sign_in_page_on_the_way_to_a_brand_lets_its_form_end_at_the_brand(app, runner):
    # Signing in may end at the client at once (a brand asking again for what it was
    # granted): the browser checks the form's redirects against form-action, so the page
    # allows the origin of the client's registered redirect URI, and nothing else.
    brand = make_brand(runner)
    client = app.test_client()
    _, challenge = pkce()
    to_brand = authorize_url(brand, scope="interests:read", challenge=challenge)
    page = client.get("/login?next=" + quote(to_brand, safe=""))
    assert "form-action 'self' https://bookshop.example;" in page.headers["Content-Security-Policy"]
    failed = client.post(
        "/login",
        data={
            "csrf_token": csrf_token(client, "/login"),
            "email": "nobody@example.org",
            "password": "wrong password",
            "next": to_brand,
        },
    )
    assert "https://bookshop.example" in failed.headers["Content-Security-Policy"]
    # A redirect URI the client never registered, or no authorization request: 'self' only.
    elsewhere = to_brand.replace(
        quote(REDIRECT, safe=""), quote("https://evil.example/cb", safe="")
    )
    for next_url in (elsewhere, "/brands", ""):
        csp = client.get("/login?next=" + quote(next_url, safe="")).headers[
            "Content-Security-Policy"
        ]
        assert "form-action 'self';" in csp, next_url
