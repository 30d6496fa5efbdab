"""The OAuth flow end to end through HTTP: consent, code, token, profile, revoke."""

import json
import re

import pytest
from sqlalchemy import select

from sayso.extensions import db
from sayso.models import AuditEvent, Grant, Token
from sayso.services.token_seals import CodeSeal
from tests.helpers import api_headers, csrf_token, sign_up
from tests.oauth_helpers import (
    ALL_SCOPES,
    REDIRECT,
    authorize_url,
    basic,
    bearer,
    connect,
    consent,
    make_brand,
    pkce,
    redirect_query,
    refresh,
)

DISCLOSURES = {
    "interests": [{"topic_id": 100}, {"text": "crime fiction"}],
    "browsing_categories": [{"topic_id": 332, "weight": 0.5}],
    "channels": [{"channel": "email", "max_per_week": 1}],
}


@pytest.fixture
def brand(runner):
    return make_brand(runner)


@pytest.fixture
def consumer(client):
    sign_up(client, "ada@example.org")
    client.put("/api/v1/me/disclosures", json=DISCLOSURES, headers=api_headers(client))
    return client


def test_metadata_describes_the_server(client):
    meta = client.get("/.well-known/oauth-authorization-server").get_json()
    assert meta["issuer"] == "http://localhost"
    assert meta["code_challenge_methods_supported"] == ["S256"]
    assert meta["authorization_response_iss_parameter_supported"] is True
    about_you = {"age_band", "location", "languages", "life_stage", "household_size", "hear_about"}
    assert set(meta["scopes_supported"]) == set(ALL_SCOPES) | {
        f"{field}:read" for field in about_you
    } | {"contacts:write", "answers:read"}
    assert meta["token_endpoint"] == "http://localhost/oauth/token"


ENDPOINTS = ("authorization", "token", "revocation", "introspection", "registration")


def test_with_an_issuer_set_no_host_header_moves_the_endpoints(app_factory):
    # A cache keeping the metadata for an hour must not keep a token endpoint that one
    # request's Host (or X-Forwarded-Host, behind a trusted proxy) put elsewhere.
    app = app_factory(ISSUER="https://sayso.example", TRUSTED_PROXIES=1)
    client = app.test_client()
    for headers in ({"Host": "attacker.example"}, {"X-Forwarded-Host": "attacker.example"}):
        response = client.get("/.well-known/oauth-authorization-server", headers=headers)
        meta = response.get_json()
        assert meta["issuer"] == "https://sayso.example"
        for name in ENDPOINTS:
            assert meta[f"{name}_endpoint"].startswith("https://sayso.example/oauth/"), name
        assert response.headers["Cache-Control"] == "public, max-age=3600"
        document = client.get("/api/v1/openapi.json", headers=headers).get_json()
        assert document["servers"] == [{"url": "https://sayso.example"}]
        flow = document["components"]["securitySchemes"]["oauth2"]["flows"]
        assert flow["authorizationCode"]["tokenUrl"] == "https://sayso.example/oauth/token"


def test_without_an_issuer_the_metadata_is_not_kept_by_shared_caches(client):
    response = client.get("/.well-known/oauth-authorization-server")
    assert response.headers["Cache-Control"] == "no-cache"


def test_consent_page_lists_fields_with_purposes_nothing_ticked(consumer, brand):
    _, challenge = pkce()
    response = consumer.get(authorize_url(brand, challenge=challenge))
    html = response.get_data(as_text=True)
    assert "Bookshop" in html and "bookshop.example" in html
    for purpose in ALL_SCOPES.values():
        assert purpose in html
    assert "checked" not in html.split("<fieldset")[1].split("</fieldset>")[0]
    csp = response.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in csp
    assert "form-action 'self' https://bookshop.example" in csp
    assert response.headers["X-Frame-Options"] == "DENY"


def test_consumer_grants_two_of_three_and_the_brand_reads_exactly_those(app, consumer, brand):
    token = connect(consumer, brand, ["interests", "channels"])
    assert token["token_type"].lower() == "bearer"
    assert set(token["scope"].split()) == {"interests:read", "channels:read"}
    assert token["expires_in"] == 600
    assert "refresh_token" in token
    profile = consumer.get("/api/v1/profile", headers=bearer(token["access_token"]))
    assert profile.status_code == 200
    body = profile.get_json()
    assert set(body) == {"sub", "interests", "channels"}
    assert body["interests"] == DISCLOSURES["interests"]
    with app.app_context():
        read = db.session.scalars(
            select(AuditEvent).where(AuditEvent.type == "api:profile:read")
        ).one()
        assert json.loads(read.fields) == ["channels", "interests"]
        assert "crime fiction" not in read.canonical.decode()
        assert db.session.scalars(select(Token)).one().access_token_hash != token["access_token"]


def test_authorization_response_carries_state_and_iss(consumer, brand):
    _, challenge = pkce()
    query = consent(consumer, brand, ["interests"], challenge=challenge, state="s-123")
    assert query["state"] == "s-123"
    assert query["iss"] == "http://localhost"


def test_deny_returns_access_denied(consumer, brand):
    _, challenge = pkce()
    url = authorize_url(brand, challenge=challenge)
    response = consumer.post(
        url,
        data={"csrf_token": csrf_token(consumer, url), "decision": "deny", "field": ["interests"]},
    )
    query = redirect_query(response)
    assert query["error"] == "access_denied" and query["state"] == "xyz"
    assert response.headers["Location"].startswith(REDIRECT)


def test_allow_with_nothing_ticked_asks_again_and_grants_nothing(app, consumer, brand):
    # Nothing ticked is a slip, not a deny: the page comes back with the expiry chosen,
    # and posts to the same URL (the request's parameters) once a field is ticked.
    _, challenge = pkce()
    url = authorize_url(brand, challenge=challenge, state="s-9")
    form = {"csrf_token": csrf_token(consumer, url), "decision": "allow", "expiry": "30d"}
    response = consumer.post(url, data=form)
    assert response.status_code == 422 and "Location" not in response.headers
    html = response.get_data(as_text=True)
    assert "Tick at least one field, or choose Deny." in html and 'role="alert"' in html
    assert 'name="expiry" value="30d" checked>' in html  # the duration as chosen
    # Each checkbox points at the error, then at what the brand would get of it.
    assert html.count('aria-invalid="true" aria-describedby="error-1 what-') == 3
    assert '<form method="post" class="consent">' in html  # no action: back to this URL
    with app.app_context():
        assert db.session.scalars(select(Grant)).all() == []

    query = redirect_query(consumer.post(url, data={**form, "field": ["interests"]}))
    assert "code" in query and query["state"] == "s-9"
    with app.app_context():
        (grant,) = db.session.scalars(select(Grant)).all()
    assert grant.field == "interests"
    assert 29 <= (grant.expires_at - grant.granted_at).days <= 30


def test_grants_are_committed_only_together_with_the_code(app, consumer, brand, monkeypatch):
    # The consent page's grants and their ledger event commit only as the code is issued:
    # if it cannot be, the consumer sees an error and no grant is left behind.
    def broken(*_args, **_kwargs):
        raise RuntimeError("the code could not be sealed")

    monkeypatch.setattr(CodeSeal, "seal", broken)
    _, challenge = pkce()
    url = authorize_url(brand, challenge=challenge)
    form = {"csrf_token": csrf_token(consumer, url), "decision": "allow", "field": ["interests"]}
    assert consumer.post(url, data=form).status_code == 500
    with app.app_context():
        assert db.session.scalars(select(Grant)).all() == []
        types = db.session.scalars(select(AuditEvent.type)).all()
        assert "consent:grant:created" not in types


def test_consumer_is_not_asked_again_unless_prompt_consent(consumer, brand):
    connect(consumer, brand, ["interests", "channels"])
    _, challenge = pkce()
    again = consumer.get(
        authorize_url(brand, scope="interests:read channels:read", challenge=challenge)
    )
    assert again.status_code == 302
    assert "code" in redirect_query(again)
    forced = consumer.get(
        authorize_url(brand, scope="interests:read", challenge=challenge, prompt="consent")
    )
    assert forced.status_code == 200
    # A field not yet granted means asking again.
    more = consumer.get(authorize_url(brand, challenge=challenge))
    assert more.status_code == 200


def test_revoking_a_field_takes_effect_on_the_next_request(consumer, brand):
    token = connect(consumer, brand, ["interests", "channels"])["access_token"]
    response = consumer.delete(
        f"/api/v1/me/grants/{brand['brand_id']}/channels", headers=api_headers(consumer)
    )
    assert response.status_code == 200
    assert response.get_json() == {"revoked": {brand["brand_id"]: ["channels"]}}
    body = consumer.get("/api/v1/profile", headers=bearer(token)).get_json()
    assert set(body) == {"sub", "interests"}


def test_revoking_the_brand_makes_the_token_401_and_inactive(consumer, brand):
    token = connect(consumer, brand, ["interests"])
    consumer.delete(f"/api/v1/me/grants/{brand['brand_id']}", headers=api_headers(consumer))
    response = consumer.get("/api/v1/profile", headers=bearer(token["access_token"]))
    assert response.status_code == 401
    assert "invalid_token" in response.headers["WWW-Authenticate"]
    assert response.get_json()["error"] == "invalid_token"
    introspection = consumer.post(
        "/oauth/introspect", data={"token": token["access_token"]}, headers=basic(brand)
    )
    assert introspection.get_json() == {"active": False}


def test_introspection_reports_live_scope(consumer, brand):
    token = connect(consumer, brand, ["interests", "channels"])
    body = consumer.post(
        "/oauth/introspect", data={"token": token["access_token"]}, headers=basic(brand)
    ).get_json()
    assert body["active"] is True
    assert set(body["scope"].split()) == {"interests:read", "channels:read"}
    consumer.delete(
        f"/api/v1/me/grants/{brand['brand_id']}/channels", headers=api_headers(consumer)
    )
    body = consumer.post(
        "/oauth/introspect", data={"token": token["access_token"]}, headers=basic(brand)
    ).get_json()
    assert body["scope"] == "interests:read"


def test_revoke_everything_on_the_brands_page(consumer, brand):
    token = connect(consumer, brand, ["interests"])["access_token"]
    page = consumer.get("/brands").get_data(as_text=True)
    assert "Bookshop" in page and "recommend books by authors you like" in page
    # Sent from its confirmation page (tests/functional/test_consent_pages.py asks first).
    response = consumer.post(
        "/brands/revoke-everything",
        data={"csrf_token": csrf_token(consumer, "/brands"), "confirm": "yes"},
    )
    assert response.status_code == 302
    assert consumer.get("/api/v1/profile", headers=bearer(token)).status_code == 401
    assert "revoked" in consumer.get("/brands").get_data(as_text=True)


def test_each_revoke_button_on_the_brands_page_has_its_own_name(consumer, brand):
    connect(consumer, brand, ["interests", "channels"])
    page = consumer.get("/brands").get_data(as_text=True)
    buttons = re.findall(r'<button type="submit" class="link">(.*?)</button>', page)
    # What a screen reader reads: the text, the visually hidden part included.
    names = [re.sub(r"<[^>]+>", "", b) for b in buttons if b.startswith("Revoke")]
    assert sorted(names) == ["Revoke Channels for Bookshop", "Revoke Interests for Bookshop"]
    # A list, not a table, so the buttons stay inside their card at phone width.
    assert "<table" not in page and page.count('<li class="grant">') == 2


def test_grants_api_lists_brands_with_last_read(consumer, brand):
    token = connect(consumer, brand, ["interests"], expiry="30d")["access_token"]
    consumer.get("/api/v1/profile", headers=bearer(token))
    (entry,) = consumer.get("/api/v1/me/grants").get_json()
    assert entry["brand_id"] == brand["brand_id"] and entry["brand_name"] == "Bookshop"
    assert entry["last_read_at"] is not None
    (grant,) = entry["grants"]
    assert grant["field"] == "interests" and grant["active"] is True
    assert grant["purpose"] == ALL_SCOPES["interests:read"]
    assert grant["expires_at"] is not None


def test_refresh_rotates_and_the_new_token_reads(consumer, brand):
    token = connect(consumer, brand, ["interests"])
    response = refresh(consumer, brand, token["refresh_token"])
    assert response.status_code == 200
    fresh = response.get_json()
    assert fresh["refresh_token"] != token["refresh_token"]
    assert consumer.get("/api/v1/profile", headers=bearer(fresh["access_token"])).status_code == 200


def test_client_secret_post_works_too(consumer, brand):
    verifier, challenge = pkce()
    query = consent(consumer, brand, ["interests"], challenge=challenge)
    response = consumer.post(
        "/oauth/token",
        data={
            "grant_type": "authorization_code",
            "code": query["code"],
            "redirect_uri": brand["redirect_uri"],
            "code_verifier": verifier,
            "client_id": brand["client_id"],
            "client_secret": brand["client_secret"],
        },
    )
    assert response.status_code == 200, response.get_data(as_text=True)


def test_client_revokes_its_token(consumer, brand):
    token = connect(consumer, brand, ["interests"])
    response = consumer.post(
        "/oauth/revoke", data={"token": token["refresh_token"]}, headers=basic(brand)
    )
    assert response.status_code == 200
    assert consumer.get("/api/v1/profile", headers=bearer(token["access_token"])).status_code == 401
