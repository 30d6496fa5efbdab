"""RFC 9396 Rich Authorization Requests of type ``sayso_field``, end to end through HTTP: the
consent page shows each entry, the consumer's ticks and durations decide, the token response
(code exchange and refresh) and introspection return the details as granted, and a bad
``authorization_details`` is refused with ``invalid_authorization_details``."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

import pytest
import requests
from authlib.integrations.requests_client import OAuth2Session

from sayso.config import new_key
from tests.helpers import PASSWORD, api_headers, counting, disclosing_consumer
from tests.oauth_helpers import (
    ALL_SCOPES,
    REDIRECT,
    basic,
    bearer,
    exchange,
    make_brand,
    pkce,
    redirect_query,
    refresh,
)
from tests.servers import gunicorn

_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
CONTACTS_PURPOSE = "tell Sayso about each newsletter we send you"
SCOPES = {**ALL_SCOPES, "contacts:write": CONTACTS_PURPOSE}


def detail(field, access="read", duration=None, purpose=None, **more) -> dict:
    """One entry of type sayso_field, with the purpose the brand registered."""
    entry = {
        "type": "sayso_field",
        "field": field,
        "access": access,
        "purpose": purpose or SCOPES[f"{field}:{access}"],
    }
    if duration:
        entry["duration"] = duration
    return {**entry, **more}


def rar_params(brand, details, challenge, scope=None, **extra) -> dict:
    """The parameters of an authorization request with ``authorization_details`` (and
    ``scope``, if given)."""
    params = {
        "response_type": "code",
        "client_id": brand["client_id"],
        "redirect_uri": brand["redirect_uri"],
        "state": "xyz",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        "authorization_details": details if isinstance(details, str) else json.dumps(details),
    }
    if scope:
        params["scope"] = scope
    params.update(extra)
    return params


def rar_url(brand, details, challenge, scope=None, **extra) -> str:
    """An authorization request with ``authorization_details`` (and ``scope``, if given)."""
    return "/oauth/authorize?" + urlencode(rar_params(brand, details, challenge, scope, **extra))


def allow(consumer, url, fields, **choices):
    """Tick ``fields`` on the page at ``url`` and allow, with the given expiry inputs."""
    page = consumer.get(url)
    assert page.status_code == 200, page.get_data(as_text=True)
    token = _CSRF.search(page.get_data(as_text=True)).group(1)
    form = {"csrf_token": token, "decision": "allow", "field": fields, **choices}
    answer = consumer.post(url, data=form)
    assert answer.status_code == 302, answer.get_data(as_text=True)
    return redirect_query(answer)


def introspect(app, brand, token):
    return app.test_client().post("/oauth/introspect", data={"token": token}, headers=basic(brand))


def _about(when: str | None, days: int) -> bool:
    """``when`` (RFC 3339) is ``days`` from now, give or take a minute."""
    at = datetime.fromisoformat(when.replace("Z", "+00:00"))
    return abs(at - (datetime.now(UTC) + timedelta(days=days))) < timedelta(minutes=1)


@pytest.fixture
def brand(runner):
    return make_brand(runner, scopes=SCOPES)


@pytest.fixture
def consumer(client):
    return disclosing_consumer(client)


def test_the_consent_page_shows_each_entry_with_access_purpose_and_duration(consumer, brand):
    _, challenge = pkce()
    details = [detail("interests", duration="30d"), detail("contacts", "write")]
    page = consumer.get(rar_url(brand, details, challenge))
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Interests" in html and "Contact reports" in html
    # Only what was asked: no scope, so not every registered field.
    assert "Browsing categories" not in html and "Channels" not in html
    assert "Bookshop asks to see this, not to change it, for 30 days." in html
    assert "Bookshop asks to do this for 1 year." in html
    assert f"“{ALL_SCOPES['interests:read']}”" in html and f"“{CONTACTS_PURPOSE}”" in html
    # Each entry has its own duration, the one asked for selected; no shared one.
    assert re.search(r'<option value="30d" selected>30 days \(as asked\)', html)
    assert 'name="expiry-contacts"' in html and 'name="expiry"' not in html
    assert 'name="field" value="interests"' in html


def test_partly_ticked_entries_are_granted_as_chosen_in_token_introspection_and_refresh(
    app, consumer, brand
):
    verifier, challenge = pkce()
    details = [detail("interests", duration="30d"), detail("contacts", "write")]
    # The consumer ticks interests only, and lets it last a year instead of 30 days.
    code = allow(
        consumer, rar_url(brand, details, challenge), ["interests"], **{"expiry-interests": "1y"}
    )["code"]
    issued = exchange(app.test_client(), brand, code, verifier)
    assert issued.status_code == 200, issued.get_json()
    body = issued.get_json()
    assert body["scope"] == "interests:read"
    [granted] = body["authorization_details"]
    assert {k: v for k, v in granted.items() if k != "expires_at"} == {
        "type": "sayso_field",
        "field": "interests",
        "access": "read",
        "purpose": ALL_SCOPES["interests:read"],
        "view": {"name": "all", "parameter": None},
    }
    assert _about(granted["expires_at"], 365)

    seen = introspect(app, brand, body["access_token"]).get_json()
    assert seen["active"] is True and seen["authorization_details"] == [granted]

    rotated = refresh(app.test_client(), brand, body["refresh_token"])
    assert rotated.status_code == 200
    assert rotated.get_json()["authorization_details"] == [granted]
    again = introspect(app, brand, rotated.get_json()["refresh_token"]).get_json()
    assert again["authorization_details"] == [granted]

    # The brand still reads interests with it.
    read = app.test_client().get("/api/v1/profile", headers=bearer(body["access_token"]))
    assert read.status_code == 200


def test_scopes_and_details_together_ask_for_their_union(app, consumer, brand):
    verifier, challenge = pkce()
    url = rar_url(brand, [detail("interests", duration="30d")], challenge, scope="channels:read")
    html = consumer.get(url).get_data(as_text=True)
    assert "Channels" in html and "Interests" in html and "Browsing categories" not in html
    # The scope's field keeps the page's shared expiry.
    assert "For how long? (everything else)" in html
    code = allow(consumer, url, ["interests", "channels"], expiry="never")["code"]
    body = exchange(app.test_client(), brand, code, verifier).get_json()
    assert set(body["scope"].split()) == {"interests:read", "channels:read"}
    # Only the entry asked as a detail comes back as one, with its own expiry.
    [granted] = body["authorization_details"]
    assert granted["field"] == "interests" and _about(granted["expires_at"], 30)
    grants = {
        g["field"]: g
        for entry in consumer.get("/api/v1/me/grants").get_json()
        for g in entry["grants"]
    }
    assert grants["channels"]["expires_at"] is None
    assert grants["interests"]["expires_at"] is not None


def test_a_revoked_entry_leaves_the_granted_details(app, consumer, brand):
    verifier, challenge = pkce()
    details = [detail("interests"), detail("channels")]
    code = allow(consumer, rar_url(brand, details, challenge), ["interests", "channels"])["code"]
    body = exchange(app.test_client(), brand, code, verifier).get_json()
    assert [d["field"] for d in body["authorization_details"]] == ["interests", "channels"]
    brand_id = consumer.get("/api/v1/me/grants").get_json()[0]["brand_id"]
    revoked = consumer.delete(
        f"/api/v1/me/grants/{brand_id}/channels", headers=api_headers(consumer)
    )
    assert revoked.status_code in (200, 204), revoked.get_data(as_text=True)
    seen = introspect(app, brand, body["access_token"]).get_json()
    assert [d["field"] for d in seen["authorization_details"]] == ["interests"]
    rotated = refresh(app.test_client(), brand, body["refresh_token"]).get_json()
    assert [d["field"] for d in rotated["authorization_details"]] == ["interests"]
    assert rotated["scope"] == "interests:read"


def test_scopes_alone_get_no_authorization_details(app, consumer, brand):
    verifier, challenge = pkce()
    params = {
        "response_type": "code",
        "client_id": brand["client_id"],
        "redirect_uri": brand["redirect_uri"],
        "scope": "interests:read",
        "state": "xyz",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }
    code = allow(consumer, "/oauth/authorize?" + urlencode(params), ["interests"])["code"]
    body = exchange(app.test_client(), brand, code, verifier).get_json()
    assert "authorization_details" not in body
    assert "authorization_details" not in introspect(app, brand, body["access_token"]).get_json()


@pytest.mark.parametrize(
    "details",
    [
        "not json",
        json.dumps({"type": "sayso_field"}),
        "[]",
        '["interests"]',
        [detail("interests", type="payment_initiation")],
        [{"type": "sayso_field", "field": "interests", "access": "read"}],
        [detail("shoe_size", purpose="know your shoe size")],
        [detail("interests", access="write", purpose=ALL_SCOPES["interests:read"])],
        [detail("contacts", access="read", purpose=CONTACTS_PURPOSE)],
        [detail("interests", purpose="sell your interests to anyone")],
        [detail("interests", purpose="recommend books\u202eevil")],
        [detail("interests", duration="5y")],
        [detail("interests", locations=["https://bookshop.example"])],
        [detail("interests"), detail("interests", duration="30d")],
        [detail("answers", purpose="read your answers to our questions")],
    ],
    ids=[
        "not-json",
        "not-array",
        "empty",
        "not-objects",
        "unknown-type",
        "no-purpose",
        "unknown-field",
        "write-a-field",
        "read-contacts",
        "other-purpose",
        "hidden-character",
        "unknown-duration",
        "unknown-member",
        "repeated",
        "unregistered-scope",
    ],
)
def test_invalid_details_are_refused_on_the_redirect(consumer, brand, details):
    _, challenge = pkce()
    answer = consumer.get(rar_url(brand, details, challenge))
    assert answer.status_code == 302, answer.get_data(as_text=True)
    assert answer.headers["Location"].startswith(REDIRECT)
    query = redirect_query(answer)
    assert query["error"] == "invalid_authorization_details"
    assert query["error_description"] and query["state"] == "xyz" and query["iss"]


def test_invalid_details_with_an_untrusted_redirect_get_the_error_page(consumer, brand):
    _, challenge = pkce()
    url = rar_url(brand, "not json", challenge, redirect_uri="https://evil.example/cb")
    answer = consumer.get(url)
    assert answer.status_code == 400 and "Location" not in answer.headers


def test_a_third_party_scope_cannot_be_asked_as_a_detail(runner, consumer):
    shared = make_brand(
        runner, name="Sharer", domain="sharer.example", third_party=["interests:read"]
    )
    _, challenge = pkce()
    answer = consumer.get(rar_url(shared, [detail("interests")], challenge))
    assert redirect_query(answer)["error"] == "invalid_authorization_details"


def test_the_token_request_may_narrow_the_details_to_some_granted(app, consumer, brand):
    verifier, challenge = pkce()
    details = [detail("interests"), detail("channels")]
    code = allow(consumer, rar_url(brand, details, challenge), ["interests", "channels"])["code"]
    narrowed = app.test_client().post(
        "/oauth/token",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": brand["redirect_uri"],
            "code_verifier": verifier,
            "authorization_details": json.dumps([detail("channels")]),
        },
        headers=basic(brand),
    )
    assert narrowed.status_code == 200, narrowed.get_json()
    body = narrowed.get_json()
    assert body["scope"] == "channels:read"
    assert [d["field"] for d in body["authorization_details"]] == ["channels"]
    # More than was granted is refused, and the token is left as it was.
    wider = app.test_client().post(
        "/oauth/token",
        data={
            "grant_type": "refresh_token",
            "refresh_token": body["refresh_token"],
            "authorization_details": json.dumps([detail("interests")]),
        },
        headers=basic(brand),
    )
    assert wider.status_code == 400
    assert wider.get_json()["error"] == "invalid_authorization_details"
    assert refresh(app.test_client(), brand, body["refresh_token"]).status_code == 200


def test_the_exchange_of_a_detailed_code_reads_no_grant(app, consumer, brand):
    # The granted details come sealed in the code: the exchange stays within the token
    # endpoint's statement ceiling (tests/functional/test_oauth_statements.py).
    from tests.functional.test_oauth_statements import _within

    verifier, challenge = pkce()
    details = [detail("interests"), detail("contacts", "write")]
    code = allow(consumer, rar_url(brand, details, challenge), ["interests", "contacts"])["code"]
    with counting(app) as statements:
        issued = exchange(app.test_client(), brand, code, verifier)
    assert len(issued.get_json()["authorization_details"]) == 2
    _within(app, "token", statements)


def test_metadata_advertises_the_type(client):
    document = client.get("/.well-known/oauth-authorization-server").get_json()
    assert document["authorization_details_types_supported"] == ["sayso_field"]


def test_authlib_s_client_asks_with_details_against_a_live_server(
    app_factory, database_url, tmp_path
):
    # Sayso under gunicorn; the brand is Authlib's own OAuth 2 client, the consumer a
    # browser-like session of requests.
    master_key = new_key()
    runner = app_factory(MASTER_KEY=master_key).test_cli_runner()
    brand = make_brand(runner, scopes=SCOPES)
    created = runner.invoke(
        args=["consumers", "create", "ada@example.org", "--password-stdin"], input=PASSWORD + "\n"
    )
    assert created.exit_code == 0, created.output
    with gunicorn(database_url, tmp_path, workers=1, MASTER_KEY=master_key) as server:
        base = server.url
        browser = requests.Session()
        login = browser.get(base + "/login", timeout=10).text
        answer = browser.post(
            base + "/login",
            data={
                "email": "ada@example.org",
                "password": PASSWORD,
                "csrf_token": _CSRF.search(login).group(1),
            },
            allow_redirects=False,
            timeout=10,
        )
        assert answer.status_code == 302, answer.text

        oauth = OAuth2Session(
            brand["client_id"],
            brand["client_secret"],
            redirect_uri=brand["redirect_uri"],
            code_challenge_method="S256",
        )
        verifier = "v" * 64
        details = [detail("interests", duration="30d"), detail("contacts", "write")]
        url, _ = oauth.create_authorization_url(
            base + "/oauth/authorize",
            code_verifier=verifier,
            authorization_details=json.dumps(details),
        )
        page = browser.get(url, timeout=10)
        assert "Bookshop asks to see this, not to change it, for 30 days." in page.text
        consented = browser.post(
            url,
            data={
                "csrf_token": _CSRF.search(page.text).group(1),
                "decision": "allow",
                "field": ["interests", "contacts"],
                "expiry-contacts": "30d",
            },
            allow_redirects=False,
            timeout=10,
        )
        assert consented.status_code == 302, consented.text

        token = oauth.fetch_token(
            base + "/oauth/token",
            authorization_response=consented.headers["Location"],
            code_verifier=verifier,
        )
        assert set(token["scope"].split()) == {"interests:read", "contacts:write"}
        granted = token["authorization_details"]
        assert [(d["field"], d["access"]) for d in granted] == [
            ("interests", "read"),
            ("contacts", "write"),
        ]
        assert all(_about(d["expires_at"], 30) for d in granted)
        assert "view" in granted[0] and "view" not in granted[1]

        refreshed = oauth.refresh_token(base + "/oauth/token")
        assert refreshed["authorization_details"] == granted
        seen = oauth.introspect_token(base + "/oauth/introspect", token=refreshed["access_token"])
        assert seen.json()["authorization_details"] == granted


@pytest.mark.parametrize(
    ("types", "status"),
    [(["sayso_field"], 201), (["sayso_field", "payment_initiation"], 400), ("sayso_field", 400)],
)
def test_registration_takes_the_authorization_details_types_sayso_supports(
    runner, client, brand, types, status
):
    issued = runner.invoke(args=["brands", "initial-token", brand["brand_id"]])
    body = {
        "client_name": "Bookshop app",
        "redirect_uris": ["https://shop.bookshop.example/callback"],
        "scope": "interests:read",
        "sayso_purposes": {"interests:read": ALL_SCOPES["interests:read"]},
        "authorization_details_types": types,
    }
    answer = client.post("/oauth/register", json=body, headers=bearer(issued.output.strip()))
    assert answer.status_code == status, answer.get_json()
    if status == 201:
        assert answer.get_json()["authorization_details_types"] == ["sayso_field"]
    else:
        assert answer.get_json()["error"] == "invalid_client_metadata"


def test_details_may_be_pushed_with_the_rest_of_the_request(app, consumer, brand):
    # RFC 9126: the browser carries only request_uri; the details come from the push.
    verifier, challenge = pkce()
    pushed = app.test_client().post(
        "/oauth/par",
        data=rar_params(brand, [detail("interests", duration="30d")], challenge),
        headers=basic(brand),
    )
    assert pushed.status_code == 201, pushed.get_json()
    url = "/oauth/authorize?" + urlencode(
        {"client_id": brand["client_id"], "request_uri": pushed.get_json()["request_uri"]}
    )
    assert "for 30 days" in consumer.get(url).get_data(as_text=True)
    code = allow(consumer, url, ["interests"])["code"]
    body = exchange(app.test_client(), brand, code, verifier).get_json()
    assert [d["field"] for d in body["authorization_details"]] == ["interests"]
    assert _about(body["authorization_details"][0]["expires_at"], 30)

    refused = app.test_client().post(
        "/oauth/par",
        data={
            "response_type": "code",
            "client_id": brand["client_id"],
            "redirect_uri": brand["redirect_uri"],
            "code_challenge": challenge,
            "code_challenge_method": "S256",
            "authorization_details": json.dumps([detail("interests", type="other")]),
        },
        headers=basic(brand),
    )
    assert refused.status_code == 400
    assert refused.get_json()["error"] == "invalid_authorization_details"
