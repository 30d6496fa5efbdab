"""Attacks on the OAuth flow, each tried through HTTP and shown to fail.

Each test names one attack; docs/security.md maps the threat model onto these names.
"""

from __future__ import annotations

import importlib
import json
import threading
from datetime import timedelta
from urllib.parse import quote

import pytest
from sqlalchemy import func, select, update

from sayso.extensions import db
from sayso.ledger import ordering
from sayso.models import Account, AuditEvent, Grant, Token
from sayso.shared.clock import utcnow
from sayso.shared.tokens import token_hash
from tests.functional.test_privacy import _database_bytes
from tests.helpers import PASSWORD, api_headers, csrf_token, run_together, sign_up
from tests.oauth_helpers import (
    REDIRECT,
    authorize_url,
    basic,
    bearer,
    connect,
    consent,
    exchange,
    make_brand,
    pkce,
    redirect_query,
    refresh,
)

OTHER_REDIRECT = "https://news.example/cb"
SECOND_REDIRECT = "https://bookshop.example/other-callback"
DISCLOSURES = {
    "interests": [{"text": "crime fiction"}],
    "browsing_categories": [{"topic_id": 332, "weight": 0.5}],
    "channels": [{"channel": "email", "max_per_week": 1}],
}


@pytest.fixture
def brand(runner):
    return make_brand(runner)


@pytest.fixture
def other_brand(runner):
    return make_brand(runner, name="Newsroom", domain="news.example", redirect=OTHER_REDIRECT)


@pytest.fixture
def consumer(client):
    sign_up(client, "ada@example.org")
    response = client.put("/api/v1/me/disclosures", json=DISCLOSURES, headers=api_headers(client))
    assert response.status_code == 200
    return client


def _profile(client, access_token):
    return client.get("/api/v1/profile", headers=bearer(access_token))


def _introspect(client, brand, token, auth=None):
    return client.post(
        "/oauth/introspect", data={"token": token}, headers=basic(brand) if auth is None else auth
    )


def _twin_brand(runner) -> dict:
    """A brand whose client has two redirect URIs registered: REDIRECT and SECOND_REDIRECT."""
    result = runner.invoke(
        args=[
            "brands",
            "create",
            "Twin shop",
            "--domain",
            "twin.example",
            "--redirect-uri",
            REDIRECT,
            "--redirect-uri",
            SECOND_REDIRECT,
            "--scope",
            "interests:read=recommend books",
            "--json",
        ]
    )
    assert result.exit_code == 0, result.output
    return {**json.loads(result.output), "redirect_uri": REDIRECT}


def _code(client, brand, fields=("interests",), **kwargs) -> tuple[str, str]:
    """Consent to ``fields``; the code and the PKCE verifier it needs."""
    verifier, challenge = pkce()
    query = consent(client, brand, list(fields), challenge=challenge, **kwargs)
    return query["code"], verifier


# Redirect URIs --------------------------------------------------------------------------

BAD_REDIRECTS = {
    "appended-path": REDIRECT + "/evil",
    "extra-query": REDIRECT + "?next=https://attacker.example/",
    "host-case-change": "https://BOOKSHOP.example/callback",
    "path-case-change": "https://bookshop.example/Callback",
    "trailing-slash": REDIRECT + "/",
    "userinfo-host": "https://bookshop.example@attacker.example/callback",
    "userinfo-prefix": "https://attacker@bookshop.example/callback",
    "http-not-https": "http://bookshop.example/callback",
}


@pytest.mark.parametrize("redirect_uri", BAD_REDIRECTS.values(), ids=list(BAD_REDIRECTS))
def test_redirect_uri_variant_is_refused_without_redirecting(consumer, brand, redirect_uri):
    _, challenge = pkce()
    url = authorize_url({**brand, "redirect_uri": redirect_uri}, challenge=challenge)
    page = consumer.get(url)
    assert page.status_code == 400
    assert "Location" not in page.headers
    # Posting the consent form to the tampered URL gets no further.
    answer = consumer.post(
        url,
        data={
            "csrf_token": csrf_token(consumer, "/brands"),
            "decision": "allow",
            "field": ["interests"],
        },
    )
    assert answer.status_code == 400
    assert "Location" not in answer.headers


def test_left_out_redirect_uri_means_the_only_registered_one(consumer, brand):
    verifier, challenge = pkce()
    url = authorize_url(brand, challenge=challenge).replace(
        f"redirect_uri={quote(REDIRECT, safe='')}&", ""
    )
    assert "redirect_uri" not in url
    assert consumer.get(url).status_code == 200
    answer = consumer.post(
        url,
        data={
            "csrf_token": csrf_token(consumer, url),
            "decision": "allow",
            "field": ["interests"],
        },
    )
    assert answer.status_code == 302
    assert answer.headers["Location"].startswith(REDIRECT + "?")
    response = consumer.post(
        "/oauth/token",
        data={
            "grant_type": "authorization_code",
            "code": redirect_query(answer)["code"],
            "code_verifier": verifier,
        },
        headers=basic(brand),
    )
    assert response.status_code == 200, response.get_json()


def test_left_out_redirect_uri_is_refused_when_several_are_registered(consumer, runner):
    twin = _twin_brand(runner)
    _, challenge = pkce()
    url = authorize_url(twin, challenge=challenge).replace(
        f"redirect_uri={quote(REDIRECT, safe='')}&", ""
    )
    page = consumer.get(url)
    assert page.status_code == 400
    assert "Location" not in page.headers


# PKCE -----------------------------------------------------------------------------------


def _assert_refused_at_authorize(response, state="xyz"):
    assert response.status_code == 302
    query = redirect_query(response)
    assert "code" not in query
    assert query["error"] == "invalid_request"
    assert query["state"] == state
    assert query["iss"] == "http://localhost"


def test_pkce_plain_is_refused_at_authorize(consumer, brand):
    verifier, _ = pkce()
    url = authorize_url(brand, code_challenge=verifier, code_challenge_method="plain")
    _assert_refused_at_authorize(consumer.get(url))
    decision = {"csrf_token": csrf_token(consumer, "/brands"), "decision": "allow"}
    _assert_refused_at_authorize(consumer.post(url, data={**decision, "field": ["interests"]}))


def test_pkce_missing_challenge_is_refused_at_authorize(consumer, brand):
    url = authorize_url(brand)
    _assert_refused_at_authorize(consumer.get(url))
    decision = {"csrf_token": csrf_token(consumer, "/brands"), "decision": "allow"}
    _assert_refused_at_authorize(consumer.post(url, data={**decision, "field": ["interests"]}))


def test_pkce_challenge_without_method_is_refused_at_authorize(consumer, brand):
    # RFC 7636 reads a missing method as "plain".
    _, challenge = pkce()
    _assert_refused_at_authorize(consumer.get(authorize_url(brand, code_challenge=challenge)))


def test_pkce_missing_verifier_is_refused_at_token(consumer, brand):
    code, _ = _code(consumer, brand)
    response = consumer.post(
        "/oauth/token",
        data={"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT},
        headers=basic(brand),
    )
    assert response.status_code == 400
    assert response.get_json()["error"] == "invalid_request"
    assert "access_token" not in response.get_json()


def test_pkce_wrong_verifier_is_refused_at_token(consumer, brand):
    code, _ = _code(consumer, brand)
    wrong, _ = pkce()
    response = exchange(consumer, brand, code, wrong)
    assert response.status_code == 400
    assert response.get_json()["error"] == "invalid_grant"
    assert "access_token" not in response.get_json()


# Codes ----------------------------------------------------------------------------------


def _later(monkeypatch, seconds: int) -> None:
    """As if ``seconds`` had passed, for the token service: a code carries its own expiry,
    so only the clock that judges it can make it old."""
    moment = utcnow() + timedelta(seconds=seconds)
    # The module, not the package's ``services.tokens()`` factory that shares its name.
    module = importlib.import_module("sayso.services.tokens")
    monkeypatch.setattr(module, "utcnow", lambda: moment)


def _types(app) -> list[str]:
    with app.app_context():
        return db.session.scalars(select(AuditEvent.type)).all()


@pytest.mark.parametrize("replayed_after", [0, 61], ids=["at-once", "after-expiry"])
def test_code_replay_is_refused_and_revokes_the_tokens_it_issued(
    app, consumer, brand, monkeypatch, replayed_after
):
    code, verifier = _code(consumer, brand)
    first = exchange(consumer, brand, code, verifier)
    assert first.status_code == 200
    token = first.get_json()
    assert _profile(consumer, token["access_token"]).status_code == 200

    # A replay is a replay even once the code has expired: it still revokes the family.
    _later(monkeypatch, replayed_after)
    replay = exchange(consumer, brand, code, verifier)
    assert replay.status_code == 400
    assert replay.get_json()["error"] == "invalid_grant"
    profile = _profile(consumer, token["access_token"])
    assert profile.status_code == 401
    assert "WWW-Authenticate" in profile.headers
    for issued in (token["access_token"], token["refresh_token"]):
        assert _introspect(consumer, brand, issued).get_json() == {"active": False}
    assert refresh(consumer, brand, token["refresh_token"]).status_code == 400
    assert _types(app).count("oauth:code:replayed") == 1


def test_parallel_exchanges_of_one_code_issue_one_token(app, consumer, brand):
    # The token's INSERT is the claim on the code (its hash is unique among tokens): of two
    # concurrent exchanges one inserts, the other finds the code used, a replay.
    code, verifier = _code(consumer, brand)

    def redeem(_slot: int, arrived) -> int:
        client = app.test_client()
        arrived.wait(timeout=10)
        return exchange(client, brand, code, verifier).status_code

    statuses = run_together(2, redeem)
    assert all(isinstance(status, int) for status in statuses), statuses
    assert sorted(statuses) == [200, 400], statuses
    with app.app_context():
        (issued,) = db.session.scalars(select(Token)).all()
        assert issued.code_hash == token_hash(code)
        # The loser's replay revoked what the winner got.
        assert issued.revoked_at is not None
    assert "oauth:code:replayed" in _types(app)


def test_code_redeemed_by_another_client_is_refused(app, consumer, brand, other_brand):
    code, verifier = _code(consumer, brand)
    # The other brand presents the stolen code with the right redirect URI and verifier.
    stolen = exchange(consumer, other_brand, code, verifier, redirect_uri=REDIRECT)
    assert stolen.status_code == 400
    assert stolen.get_json()["error"] == "invalid_grant"
    with app.app_context():
        assert db.session.scalars(select(Token)).all() == []
    # The code is sealed for its own client, and the attempt did not use it up.
    assert exchange(consumer, brand, code, verifier).status_code == 200


def _one_character_changed(code: str, index: int) -> str:
    # Flip the lowest bit of one base64url character: the smallest change a code can take.
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    index %= len(code)
    return code[:index] + alphabet[alphabet.index(code[index]) ^ 1] + code[index + 1 :]


@pytest.mark.parametrize(
    "index", [0, 3, 40, 120, -1], ids=["version", "nonce", "middle", "ciphertext", "last"]
)
def test_code_altered_by_one_character_is_refused(app, consumer, brand, index):
    code, verifier = _code(consumer, brand)
    altered = _one_character_changed(code, index)
    response = exchange(consumer, brand, altered, verifier)
    assert response.status_code == 400
    assert response.get_json()["error"] == "invalid_grant"
    with app.app_context():
        assert db.session.scalars(select(Token)).all() == []
    assert exchange(consumer, brand, code, verifier).status_code == 200


def test_code_redeemed_with_another_redirect_uri_is_refused(app, consumer, runner):
    brand = make_brand(runner)
    # A client with two registered URIs: the code is bound to the one it was issued for.
    twin = _twin_brand(runner)
    for client_brand, other_uri in ((brand, REDIRECT + "/x"), (twin, SECOND_REDIRECT)):
        code, verifier = _code(consumer, client_brand, scope="interests:read")
        response = exchange(consumer, client_brand, code, verifier, redirect_uri=other_uri)
        assert response.status_code == 400, other_uri
        assert response.get_json()["error"] == "invalid_grant"
    with app.app_context():
        assert db.session.scalars(select(Token)).all() == []


def test_confidential_client_cannot_redeem_a_code_without_its_secret(consumer, brand):
    code, verifier = _code(consumer, brand)
    response = consumer.post(
        "/oauth/token",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": REDIRECT,
            "code_verifier": verifier,
            "client_id": brand["client_id"],
        },
    )
    assert response.status_code == 401
    assert response.get_json()["error"] == "invalid_client"


def test_code_of_an_erased_account_gets_no_token(app, consumer, brand):
    code, verifier = _code(consumer, brand)
    # The consumer erases the account between consenting and the brand's exchange. The
    # code cannot be revoked, but the exchange checks the account.
    erased = consumer.delete(
        "/api/v1/me", json={"password": PASSWORD}, headers=api_headers(consumer)
    )
    assert erased.status_code == 204
    response = exchange(app.test_client(), brand, code, verifier)
    assert response.status_code == 400
    assert response.get_json()["error"] == "invalid_grant"
    with app.app_context():
        assert db.session.scalars(select(Token)).all() == []
    # Not a replay: nothing was issued from the code.
    assert "oauth:code:replayed" not in _types(app)


def test_failed_exchange_does_not_use_up_the_code(app, consumer, brand):
    # The claim on a code is the token's own INSERT: an exchange refused for a wrong
    # verifier leaves the code to its rightful holder (who has the verifier).
    code, verifier = _code(consumer, brand)
    wrong, _ = pkce()
    assert exchange(consumer, brand, code, wrong).status_code == 400
    assert exchange(consumer, brand, code, verifier).status_code == 200
    assert "oauth:code:replayed" not in _types(app)


@pytest.mark.parametrize(("seconds", "status"), [(58, 200), (61, 400)])
def test_code_expires_after_60_seconds(consumer, brand, monkeypatch, seconds, status):
    code, verifier = _code(consumer, brand)
    _later(monkeypatch, seconds)
    response = exchange(consumer, brand, code, verifier)
    assert response.status_code == status, response.get_json()
    if status == 400:
        assert response.get_json()["error"] == "invalid_grant"


# Tokens ---------------------------------------------------------------------------------


def test_refresh_token_reuse_revokes_the_whole_family(app, consumer, brand):
    original = connect(consumer, brand, ["interests"])
    rotated = refresh(consumer, brand, original["refresh_token"])
    assert rotated.status_code == 200
    rotated = rotated.get_json()
    assert _profile(consumer, rotated["access_token"]).status_code == 200

    # Someone replays the old refresh token (a thief, or the brand's stale copy).
    reuse = refresh(consumer, brand, original["refresh_token"])
    assert reuse.status_code == 400
    assert reuse.get_json()["error"] == "invalid_grant"
    # The rotated-in pair dies with it.
    assert _profile(consumer, rotated["access_token"]).status_code == 401
    assert _profile(consumer, original["access_token"]).status_code == 401
    assert refresh(consumer, brand, rotated["refresh_token"]).status_code == 400
    assert _introspect(consumer, brand, rotated["access_token"]).get_json() == {"active": False}
    with app.app_context():
        assert "oauth:refresh:reused" in db.session.scalars(select(AuditEvent.type)).all()


def test_introspection_calls_a_rotated_refresh_token_inactive(app, consumer, brand):
    original = connect(consumer, brand, ["interests"])
    rotated = refresh(consumer, brand, original["refresh_token"]).get_json()
    assert _introspect(consumer, brand, original["refresh_token"]).get_json() == {"active": False}
    live = _introspect(consumer, brand, rotated["refresh_token"]).get_json()
    assert live["active"] is True
    # A refresh token lives longer than its access token, and says so.
    with app.app_context():
        row = db.session.get(Token, token_hash(rotated["access_token"]))
        assert live["exp"] == int(row.refresh_expires_at.timestamp())
        row.access_expires_at = utcnow() - timedelta(seconds=1)
        db.session.commit()
    assert _introspect(consumer, brand, rotated["access_token"]).get_json() == {"active": False}
    assert _introspect(consumer, brand, rotated["refresh_token"]).get_json()["active"] is True


def test_parallel_refreshes_of_one_token_leave_at_most_one_live_token(app, consumer, brand):
    original = connect(consumer, brand, ["interests"])

    def one_refresh(_slot: int, arrived) -> tuple:
        # Each thread is its own brand server process, with its own HTTP client.
        client = app.test_client()
        arrived.wait(timeout=10)
        response = refresh(client, brand, original["refresh_token"])
        return response.status_code, response.get_json()

    outcomes = run_together(2, one_refresh)
    for outcome in outcomes:
        assert isinstance(outcome, tuple), outcome
    statuses = sorted(status for status, _ in outcomes)
    assert statuses in ([200, 200], [200, 400], [400, 400]), outcomes
    issued = [body for status, body in outcomes if status == 200]
    # The later of two refreshes within the retry window is taken for a retry of the first
    # (its answer lost): it gets the very same pair, never a second one.
    assert len({(body["access_token"], body["refresh_token"]) for body in issued}) <= 1

    # (The original access token lives on until it expires, as after any refresh.)
    access_tokens = {body["access_token"] for body in issued}
    live = [t for t in access_tokens if _profile(consumer, t).status_code == 200]
    assert len(live) <= 1
    with app.app_context():
        usable_refresh = db.session.scalars(
            select(Token).where(
                Token.refresh_token_hash.is_not(None),
                Token.revoked_at.is_(None),
                Token.rotated_at.is_(None),
            )
        ).all()
        assert len(usable_refresh) <= 1


def test_access_token_expires_after_10_minutes(app, consumer, brand):
    token = connect(consumer, brand, ["interests"])
    assert token["expires_in"] == 600
    digest = token_hash(token["access_token"])
    with app.app_context():
        row = db.session.get(Token, digest)
        assert row.access_expires_at - row.issued_at == timedelta(minutes=10)
        db.session.execute(
            update(Token)
            .where(Token.access_token_hash == digest)
            .values(access_expires_at=utcnow() - timedelta(seconds=1))
        )
        db.session.commit()
    response = _profile(consumer, token["access_token"])
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]
    assert _introspect(consumer, brand, token["access_token"]).get_json() == {"active": False}


def test_token_in_query_string_is_refused_even_when_valid(app, consumer, brand):
    issued = connect(consumer, brand, ["interests"])
    token = issued["access_token"]
    response = consumer.get(f"/api/v1/profile?access_token={token}")
    assert response.status_code == 400
    assert "interests" not in response.get_json()
    assert "revoked" in response.get_json()["message"]
    # Not even alongside a good Authorization header: the URL has already leaked it.
    both = consumer.get(f"/api/v1/profile?access_token={token}", headers=bearer(token))
    assert both.status_code == 400
    with app.app_context():
        reads = db.session.scalars(
            select(AuditEvent).where(AuditEvent.type == "api:profile:read")
        ).all()
        assert reads == []
    # It has leaked into logs and proxies by now: revoked, with its refresh token, and
    # recorded, so the header alone no longer reads either.
    assert _profile(consumer, token).status_code == 401
    assert refresh(consumer, brand, issued["refresh_token"]).status_code == 400
    with app.app_context():
        assert (
            db.session.scalar(select(func.count()).where(AuditEvent.type == "oauth:token:exposed"))
            == 1
        )


def test_secrets_are_stored_only_as_sha256_hashes(app, consumer, runner):
    brand = make_brand(runner, webhook="https://bookshop.example/hooks")
    code, verifier = _code(consumer, brand)
    token = exchange(consumer, brand, code, verifier).get_json()
    rotated = refresh(consumer, brand, token["refresh_token"]).get_json()
    raw = {
        "code": code,
        "access_token": token["access_token"],
        "refresh_token": token["refresh_token"],
        "rotated_access_token": rotated["access_token"],
        "rotated_refresh_token": rotated["refresh_token"],
        "client_secret": brand["client_secret"],
    }
    stored = _database_bytes(app)
    for name, value in raw.items():
        assert value.encode() not in stored, name
        # The scan does see the stored form, so an absence above means something.
        assert token_hash(value).encode() in stored, name
    # The webhook secret Sayso must sign with is sealed, not hashed; still never in clear.
    assert brand["webhook_secret"].encode() not in stored


# Brands are kept apart ------------------------------------------------------------------


def test_brand_token_never_reads_what_only_another_brand_was_granted(consumer, brand, other_brand):
    mine = connect(consumer, brand, ["interests", "channels"])
    connect(consumer, other_brand, ["channels", "browsing_categories"])
    assert set(_profile(consumer, mine["access_token"]).get_json()) == {
        "sub",
        "interests",
        "channels",
    }
    # The consumer takes channels back from the first brand only: the other still has it.
    consumer.delete(
        f"/api/v1/me/grants/{brand['brand_id']}/channels", headers=api_headers(consumer)
    )
    body = _profile(consumer, mine["access_token"]).get_json()
    assert set(body) == {"sub", "interests"}
    # Introspection agrees: the token's scope shrank with the grants.
    assert _introspect(consumer, brand, mine["access_token"]).get_json()["scope"] == (
        "interests:read"
    )


def test_pairwise_sub_differs_between_brands_and_is_stable_for_one(
    app, client, consumer, brand, other_brand
):
    first = connect(consumer, brand, ["interests"])
    theirs = connect(consumer, other_brand, ["interests"])
    again = connect(consumer, brand, ["interests"], prompt="consent")
    sub = _profile(consumer, first["access_token"]).get_json()["sub"]
    assert _profile(consumer, again["access_token"]).get_json()["sub"] == sub
    assert _introspect(consumer, brand, first["access_token"]).get_json()["sub"] == sub
    other_sub = _profile(consumer, theirs["access_token"]).get_json()["sub"]
    assert other_sub != sub
    with app.app_context():
        account = db.session.scalars(select(Account)).one()
        assert sub not in {str(account.id), account.pseudonym}


# The consent page -----------------------------------------------------------------------


@pytest.mark.parametrize("token", [None, "not-the-token"], ids=["missing", "wrong"])
def test_consent_post_without_the_csrf_token_is_refused(app, consumer, brand, token):
    _, challenge = pkce()
    url = authorize_url(brand, challenge=challenge)
    data = {"decision": "allow", "field": ["interests"]}
    if token:
        data["csrf_token"] = token
    response = consumer.post(url, data=data)
    assert response.status_code == 400
    assert "Location" not in response.headers
    with app.app_context():
        assert db.session.scalars(select(Grant)).all() == []


def test_consent_page_cannot_be_framed(consumer, brand):
    _, challenge = pkce()
    response = consumer.get(authorize_url(brand, challenge=challenge))
    assert response.status_code == 200
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
    assert response.headers["X-Frame-Options"] == "DENY"


def test_state_is_echoed_on_success_and_on_error(consumer, brand):
    _, challenge = pkce()
    allowed = consent(consumer, brand, ["interests"], challenge=challenge, state="st-ok/1")
    assert allowed["state"] == "st-ok/1"
    url = authorize_url(brand, challenge=challenge, state="st-no/2")
    denied = consumer.post(url, data={"csrf_token": csrf_token(consumer, url), "decision": "deny"})
    assert redirect_query(denied)["state"] == "st-no/2"


def test_iss_is_in_error_redirects_too(consumer, brand):
    _, challenge = pkce()
    url = authorize_url(brand, challenge=challenge)
    denied = consumer.post(url, data={"csrf_token": csrf_token(consumer, url), "decision": "deny"})
    query = redirect_query(denied)
    assert query["error"] == "access_denied"
    assert query["iss"] == "http://localhost"
    assert denied.headers["Location"].startswith(REDIRECT + "?")

    bad_scope = consumer.get(authorize_url(brand, scope="wallet:read", challenge=challenge))
    assert bad_scope.status_code == 302
    query = redirect_query(bad_scope)
    assert query["error"] == "invalid_scope"
    assert query["iss"] == "http://localhost"
    assert query["state"] == "xyz"


# Introspection and revocation -------------------------------------------------------------

BAD_CLIENT_AUTH = {
    "no-auth": lambda brand: ({}, {}),
    "client-id-only": lambda brand: ({"client_id": brand["client_id"]}, {}),
    "wrong-secret-basic": lambda brand: (
        {},
        basic({**brand, "client_secret": brand["client_secret"] + "x"}),
    ),
    "wrong-secret-post": lambda brand: (
        {"client_id": brand["client_id"], "client_secret": "sayso_cs_guess"},
        {},
    ),
}


@pytest.mark.parametrize("endpoint", ["/oauth/introspect", "/oauth/revoke"])
@pytest.mark.parametrize("auth", BAD_CLIENT_AUTH.values(), ids=list(BAD_CLIENT_AUTH))
def test_unauthenticated_client_is_refused(consumer, brand, endpoint, auth):
    token = connect(consumer, brand, ["interests"])
    form, headers = auth(brand)
    response = consumer.post(
        endpoint, data={"token": token["access_token"], **form}, headers=headers
    )
    assert response.status_code == 401
    assert response.get_json()["error"] == "invalid_client"
    assert _profile(consumer, token["access_token"]).status_code == 200


def test_client_cannot_introspect_another_clients_token(consumer, brand, other_brand):
    token = connect(consumer, brand, ["interests"])
    for value in (token["access_token"], token["refresh_token"]):
        answer = _introspect(consumer, other_brand, value)
        assert answer.status_code == 200
        assert answer.get_json() == {"active": False}
    assert _introspect(consumer, brand, token["access_token"]).get_json()["active"] is True


def test_client_cannot_revoke_another_clients_token(consumer, brand, other_brand):
    token = connect(consumer, brand, ["interests"])
    for value in (token["access_token"], token["refresh_token"]):
        answer = consumer.post("/oauth/revoke", data={"token": value}, headers=basic(other_brand))
        assert answer.status_code == 400
        assert answer.get_json()["error"] == "invalid_grant"
    assert _profile(consumer, token["access_token"]).status_code == 200
    assert refresh(consumer, brand, token["refresh_token"]).status_code == 200


@pytest.mark.parametrize("scope", ["wallet:read", "interests:read channels:read"])
def test_scope_without_a_registered_purpose_is_refused(consumer, runner, scope):
    # This brand declared a purpose for interests only; it cannot ask for anything else.
    brand = make_brand(runner, scopes={"interests:read": "recommend books"})
    _, challenge = pkce()
    response = consumer.get(authorize_url(brand, scope=scope, challenge=challenge))
    assert response.status_code == 302
    query = redirect_query(response)
    assert query["error"] == "invalid_scope" and "code" not in query


def test_a_refresh_waits_for_a_revoke_in_progress_and_is_then_refused(app, consumer, brand):
    # A revoke holds the consumer's lock for the brand (exclusively) while it ends the
    # brand's tokens. A refresh arriving meanwhile must wait for it, then find its token
    # revoked: if it went
    # ahead, on PostgreSQL the revoke's UPDATE (its snapshot older than the new token)
    # would leave the rotated token alive. (On SQLite every writer waits anyway.)
    tokens = connect(consumer, brand, ["interests"])
    with app.app_context():
        engine = db.engine
        account_id, brand_id = db.session.execute(select(Token.account_id, Token.brand_id)).first()
    revoking = engine.connect()
    transaction = revoking.begin()  # SQLite: BEGIN IMMEDIATE, as any writer of this app
    try:
        # PostgreSQL: the consumer's advisory lock for the brand, as a revoke takes it.
        ordering.hold(revoking, account_id, [brand_id])
        answers = []
        refresher = threading.Thread(
            target=lambda: answers.append(
                refresh(app.test_client(), brand, tokens["refresh_token"])
            )
        )
        refresher.start()
        refresher.join(timeout=0.5)
        assert refresher.is_alive(), "the refresh did not wait for the revoke in progress"
        revoking.execute(
            update(Token).where(Token.account_id == account_id).values(revoked_at=utcnow())
        )
        transaction.commit()
    finally:
        revoking.close()
    refresher.join(timeout=30)
    assert answers[0].status_code == 400, answers[0].get_data(as_text=True)
    assert answers[0].get_json()["error"] == "invalid_grant"
    with app.app_context():
        assert db.session.scalars(select(Token).where(Token.revoked_at.is_(None))).all() == []
