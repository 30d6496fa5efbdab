"""RFC 9126 Pushed Authorization Requests: POST /oauth/par, then /oauth/authorize with only
``client_id`` and ``request_uri``; clients that require it; every way a request_uri is
refused."""

from __future__ import annotations

import importlib
import json
from datetime import timedelta
from urllib.parse import quote, urlencode

import pytest
from sqlalchemy import select, update
from werkzeug.datastructures import MultiDict

from sayso.extensions import db
from sayso.logs import redact
from sayso.models import OAuthClient, PushedAuthorizationRequest
from sayso.shared.clock import utcnow
from sayso.shared.tokens import token_hash
from tests.helpers import PASSWORD, csrf_token, disclosing_consumer, log_in
from tests.oauth_helpers import (
    ALL_SCOPES,
    REDIRECT,
    authorize_url,
    basic,
    bearer,
    exchange,
    make_brand,
    pkce,
    redirect_query,
)
from tests.portal_helpers import client_form, member_of, shown

PREFIX = "urn:ietf:params:oauth:request_uri:"
SPENT = "expired or was already used"


@pytest.fixture
def brand(runner):
    return make_brand(runner)


@pytest.fixture
def consumer(app):
    return disclosing_consumer(app.test_client())


def _request(challenge, **extra) -> dict:
    return {
        "response_type": "code",
        "redirect_uri": REDIRECT,
        "scope": "interests:read channels:read",
        "state": "pushed-state",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        **extra,
    }


def push(client, brand, challenge, headers=None, **extra):
    """POST the authorization request to /oauth/par (client_secret_basic unless told)."""
    return client.post(
        "/oauth/par",
        data=_request(challenge, **extra),
        headers=basic(brand) if headers is None else headers,
    )


def by_reference(brand, request_uri) -> str:
    return "/oauth/authorize?" + urlencode(
        {"client_id": brand["client_id"], "request_uri": request_uri}
    )


def _pushed(client, brand):
    verifier, challenge = pkce()
    response = push(client, brand, challenge)
    assert response.status_code == 201, response.get_data(as_text=True)
    return verifier, by_reference(brand, response.get_json()["request_uri"])


def _allow(consumer, url, fields=("interests",)):
    token = csrf_token(consumer, url)
    return consumer.post(
        url, data={"csrf_token": token, "decision": "allow", "field": list(fields), "expiry": "1y"}
    )


def _later(monkeypatch, seconds: int) -> None:
    moment = utcnow() + timedelta(seconds=seconds)
    module = importlib.import_module("sayso.services.pushed_requests")
    monkeypatch.setattr(module, "utcnow", lambda: moment)


def test_metadata_advertises_the_endpoint_and_that_it_is_optional(client):
    meta = client.get("/.well-known/oauth-authorization-server").get_json()
    assert meta["pushed_authorization_request_endpoint"] == "http://localhost/oauth/par"
    assert meta["require_pushed_authorization_requests"] is False


def test_push_answers_201_with_a_request_uri_stored_only_hashed(app, client, brand):
    _, challenge = pkce()
    response = push(client, brand, challenge)
    assert response.status_code == 201
    body = response.get_json()
    assert set(body) == {"request_uri", "expires_in"}
    assert body["expires_in"] == 60
    assert body["request_uri"].startswith(PREFIX)
    assert len(body["request_uri"]) - len(PREFIX) >= 43  # 256 random bits
    assert response.headers["Cache-Control"] == "no-store"
    with app.app_context():
        row = db.session.scalars(select(PushedAuthorizationRequest)).one()
        assert row.request_uri_hash == token_hash(body["request_uri"])
        assert row.client_id == brand["client_id"]
        # The parameters are sealed: nothing the client sent is readable in the row.
        assert challenge.encode() not in row.parameters_sealed
        assert b"pushed-state" not in row.parameters_sealed


def test_pushed_request_goes_through_consent_to_a_token(consumer, brand):
    verifier, url = _pushed(consumer, brand)
    page = consumer.get(url)
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert ALL_SCOPES["interests:read"] in html and ALL_SCOPES["channels:read"] in html
    # Only what was pushed is asked for: browsing categories were not.
    assert ALL_SCOPES["browsing_categories:read"] not in html

    answer = _allow(consumer, url)
    assert answer.status_code == 302
    assert answer.headers["Location"].startswith(REDIRECT + "?")
    query = redirect_query(answer)
    assert query["state"] == "pushed-state" and query["iss"] == "http://localhost"

    tokens = exchange(consumer, brand, query["code"], verifier)
    assert tokens.status_code == 200, tokens.get_data(as_text=True)
    assert tokens.get_json()["scope"] == "interests:read"
    profile = consumer.get("/api/v1/profile", headers=bearer(tokens.get_json()["access_token"]))
    assert profile.status_code == 200
    assert profile.get_json()["interests"]


def test_pushed_parameters_win_over_any_in_the_url(consumer, brand):
    _, url = _pushed(consumer, brand)
    # A parameter added to the browser's URL is ignored (RFC 9126 section 4).
    page = consumer.get(url + "&scope=browsing_categories:read&redirect_uri=https://evil.example/")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert ALL_SCOPES["browsing_categories:read"] not in html
    answer = _allow(consumer, url)
    assert answer.headers["Location"].startswith(REDIRECT + "?")


def test_sign_in_in_between_keeps_the_request_for_that_browser(app, brand):
    disclosing_consumer(app.test_client())  # the account, signed up elsewhere
    browser = app.test_client()
    verifier, url = _pushed(browser, brand)
    first = browser.get(url)
    assert first.status_code == 302 and "/login" in first.headers["Location"]
    signed_in = log_in(browser, "ada@example.org", PASSWORD, next=url)
    assert signed_in.status_code == 302
    assert browser.get(url).status_code == 200
    answer = _allow(browser, url)
    assert answer.status_code == 302
    assert exchange(browser, brand, redirect_query(answer)["code"], verifier).status_code == 200


def test_a_request_uri_gives_one_authorization_response(consumer, brand):
    _, url = _pushed(consumer, brand)
    assert _allow(consumer, url).status_code == 302
    again = consumer.get(url)
    assert again.status_code == 400
    assert SPENT in again.get_data(as_text=True)
    assert _allow_without_page(consumer, url).status_code == 400


def _allow_without_page(consumer, url):
    token = csrf_token(consumer, "/brands")
    return consumer.post(
        url, data={"csrf_token": token, "decision": "allow", "field": ["interests"]}
    )


def test_a_denial_spends_it_too(consumer, brand):
    _, url = _pushed(consumer, brand)
    token = csrf_token(consumer, url)
    denied = consumer.post(url, data={"csrf_token": token, "decision": "deny"})
    assert redirect_query(denied)["error"] == "access_denied"
    assert consumer.get(url).status_code == 400


def test_another_browser_cannot_use_it_once_it_was_brought(app, consumer, brand):
    _, url = _pushed(consumer, brand)
    assert consumer.get(url).status_code == 200
    other = disclosing_consumer(app.test_client(), "grace@example.org")
    refused = other.get(url)
    assert refused.status_code == 400
    assert SPENT in refused.get_data(as_text=True)
    # ... while the first browser goes on.
    assert _allow(consumer, url).status_code == 302


def test_a_request_uri_not_brought_within_60_seconds_is_refused(consumer, brand, monkeypatch):
    _, url = _pushed(consumer, brand)
    _later(monkeypatch, 61)
    refused = consumer.get(url)
    assert refused.status_code == 400
    assert SPENT in refused.get_data(as_text=True)
    assert "Bookshop" in refused.get_data(as_text=True)


def test_the_consent_page_window_ends_too(consumer, brand, monkeypatch):
    _, url = _pushed(consumer, brand)
    assert consumer.get(url).status_code == 200
    _later(monkeypatch, 59)
    assert consumer.get(url).status_code == 200  # within the consent window
    _later(monkeypatch, 11 * 60)
    assert consumer.get(url).status_code == 400


def test_unknown_and_other_clients_request_uris_are_refused(runner, consumer, brand):
    other = make_brand(
        runner, name="Rival", domain="rival.example", redirect="https://rival.example/cb"
    )
    _, challenge = pkce()
    request_uri = push(consumer, brand, challenge).get_json()["request_uri"]
    for url in (
        by_reference(other, request_uri),  # Rival presents Bookshop's request
        by_reference(brand, PREFIX + "made-up"),
        "/oauth/authorize?" + urlencode({"request_uri": request_uri}),  # no client_id
    ):
        refused = consumer.get(url)
        assert refused.status_code == 400, url
        assert SPENT in refused.get_data(as_text=True)
    # Refusing those did not use it up.
    assert consumer.get(by_reference(brand, request_uri)).status_code == 200


def test_a_client_that_requires_pushed_requests_is_refused_without_one(app, consumer, brand):
    with app.app_context():
        db.session.execute(
            update(OAuthClient)
            .where(OAuthClient.client_id == brand["client_id"])
            .values(require_pushed_authorization_requests=True)
        )
        db.session.commit()
    _, challenge = pkce()
    refused = consumer.get(authorize_url(brand, challenge=challenge))
    assert refused.status_code == 400
    assert "pushed authorization request" in refused.get_data(as_text=True)
    assert "Location" not in refused.headers
    _, url = _pushed(consumer, brand)
    assert consumer.get(url).status_code == 200


# The push itself ------------------------------------------------------------------------


def test_push_authenticates_the_client_as_the_token_endpoint_does(client, brand):
    _, challenge = pkce()
    wrong = {**brand, "client_secret": "not-the-secret"}
    for headers, data in (
        ({}, {}),
        (basic(wrong), {}),
        ({}, {"client_id": brand["client_id"]}),  # a confidential client may not use none
    ):
        response = client.post("/oauth/par", data={**_request(challenge), **data}, headers=headers)
        assert response.status_code == 401, data
        body = response.get_json()
        assert body["error"] == "invalid_client"
        assert body["error_description"].startswith("The client could not be authenticated.")
    posted = client.post(
        "/oauth/par",
        data={
            **_request(challenge),
            "client_id": brand["client_id"],
            "client_secret": brand["client_secret"],
        },
    )
    assert posted.status_code == 201


@pytest.mark.parametrize(
    ("change", "error", "words"),
    [
        ({"redirect_uri": "https://evil.example/cb"}, "invalid_request", "Redirect URI"),
        ({"scope": "interests:read email:read"}, "invalid_scope", "registered"),
        ({"code_challenge": None}, "invalid_request", "PKCE"),
        ({"code_challenge_method": "plain"}, "invalid_request", "S256"),
        ({"response_type": "token"}, "unsupported_response_type", ""),
        ({"request_uri": PREFIX + "x"}, "invalid_request", "request_uri"),
        ({"client_id": "sayso_someone_else"}, "invalid_request", "client_id"),
        ({"state": "x" * 2000}, "invalid_request", "state"),
    ],
)
def test_push_validates_as_the_authorization_endpoint_does(client, brand, change, error, words):
    _, challenge = pkce()
    data = {k: v for k, v in {**_request(challenge), **change}.items() if v is not None}
    response = client.post("/oauth/par", data=data, headers=basic(brand))
    assert response.status_code == 400, response.get_data(as_text=True)
    body = response.get_json()
    assert body["error"] == error
    assert words in body.get("error_description", "")
    assert "state" not in body  # the answer goes to the client, not through a browser


def test_a_parameter_sent_twice_is_refused(client, brand):
    _, challenge = pkce()
    data = MultiDict([*_request(challenge).items(), ("scope", "channels:read")])
    response = client.post("/oauth/par", data=data, headers=basic(brand))
    assert response.status_code == 400
    assert response.get_json()["error"] == "invalid_request"
    assert "scope" in response.get_json()["error_description"]


def test_errors_at_the_push_endpoint_are_oauth_json(client):
    response = client.get("/oauth/par")
    assert response.status_code == 405
    assert set(response.get_json()) == {"error", "error_description"}


def test_a_public_client_pushes_with_its_client_id_alone(app, client, runner, brand):
    token = runner.invoke(args=["brands", "initial-token", brand["brand_id"]]).output.strip()
    registered = client.post(
        "/oauth/register",
        json={
            "client_name": "Bookshop for phones",
            "redirect_uris": [REDIRECT],
            "token_endpoint_auth_method": "none",
            "require_pushed_authorization_requests": True,
            "sayso_purposes": {"interests:read": ALL_SCOPES["interests:read"]},
        },
        headers=bearer(token),
    )
    assert registered.status_code == 201, registered.get_data(as_text=True)
    public = {**registered.get_json(), "redirect_uri": REDIRECT}
    assert public["require_pushed_authorization_requests"] is True
    _, challenge = pkce()
    response = client.post(
        "/oauth/par",
        data={**_request(challenge, scope="interests:read"), "client_id": public["client_id"]},
    )
    assert response.status_code == 201, response.get_data(as_text=True)


def test_the_sign_in_page_lets_its_form_end_at_the_pushed_redirect_uri(client, runner, brand):
    # Signing in may end at the client at once (consent given before), so the sign-in
    # page's form-action allows the origin of the redirect URI that was pushed.
    token = runner.invoke(args=["brands", "initial-token", brand["brand_id"]]).output.strip()
    second = "https://app.bookshop.example/cb"
    registered = client.post(
        "/oauth/register",
        json={
            "redirect_uris": [REDIRECT, second],
            "sayso_purposes": {"interests:read": ALL_SCOPES["interests:read"]},
        },
        headers=bearer(token),
    ).get_json()
    _, challenge = pkce()
    pushed = client.post(
        "/oauth/par",
        data=_request(challenge, scope="interests:read", redirect_uri=second),
        headers=basic(registered),
    )
    url = by_reference(registered, pushed.get_json()["request_uri"])
    page = client.get("/login?next=" + quote(url, safe=""))
    csp = page.headers["Content-Security-Policy"]
    assert "form-action 'self' https://app.bookshop.example;" in csp
    assert "Bookshop" in page.get_data(as_text=True)  # "to continue to Bookshop"
    # Looking did not use it up.
    assert client.get(url).status_code == 302  # to sign in, the request still good


def test_authorization_details_can_be_pushed_and_are_checked_at_the_push(consumer, brand):
    # RFC 9396 details travel in the pushed request like any parameter (the reason to
    # push: they can be long), and are checked there as at the authorization endpoint.
    detail = {
        "type": "sayso_field",
        "field": "interests",
        "access": "read",
        "purpose": ALL_SCOPES["interests:read"],
    }
    _, challenge = pkce()
    bad = push(consumer, brand, challenge, authorization_details='[{"type": "other"}]')
    assert bad.status_code == 400
    assert bad.get_json()["error"] == "invalid_authorization_details"
    good = push(consumer, brand, challenge, scope="", authorization_details=json.dumps([detail]))
    assert good.status_code == 201, good.get_data(as_text=True)
    page = consumer.get(by_reference(brand, good.get_json()["request_uri"]))
    assert page.status_code == 200
    assert ALL_SCOPES["interests:read"] in page.get_data(as_text=True)


def test_no_log_keeps_a_request_uri(client, brand):
    _, url = _pushed(client, brand)
    line = f'"GET {url} HTTP/1.1" 302'
    assert PREFIX not in redact(line) and quote(PREFIX, safe="") not in redact(line)
    assert brand["client_id"] in redact(line)  # the rest of the line stays readable


def test_the_portal_registers_a_client_that_requires_pushed_requests(app, consumer, brand):
    member = member_of(app, brand["brand_id"])
    page = member.get("/portal/clients/new").get_data(as_text=True)
    assert "Require pushed authorization requests" in page
    form = client_form(member, redirect_uris=REDIRECT + "\n", require_par="yes")
    answer = member.post("/portal/clients/new", data=form)
    assert answer.status_code == 201, answer.get_data(as_text=True)
    client_id = shown(answer.get_data(as_text=True), "Client ID")
    shown_page = member.get(f"/portal/clients/{client_id}").get_data(as_text=True)
    assert "<th>Pushed authorization requests</th><td>required</td>" in shown_page
    portal_client = {**brand, "client_id": client_id}
    _, challenge = pkce()
    refused = consumer.get(authorize_url(portal_client, challenge=challenge))
    assert refused.status_code == 400
    assert "pushed authorization request" in refused.get_data(as_text=True)
