"""Dynamic client registration (RFC 7591) at /oauth/register, behind initial access tokens."""

from __future__ import annotations

import hashlib
import json

import pytest
from sqlalchemy import func, select, update

from sayso import services
from sayso.extensions import db
from sayso.models import AuditEvent, Grant, OAuthClient
from tests.helpers import disclosing_consumer, sign_up
from tests.oauth_helpers import ALL_SCOPES, authorize_url, bearer, connect, make_brand, pkce

SHOP = "https://shop.bookshop.example/callback"
GOOD = {
    "client_name": "Bookshop app",
    "redirect_uris": [SHOP],
    "scope": "interests:read channels:read",
    "sayso_purposes": {
        "interests:read": ALL_SCOPES["interests:read"],
        "channels:read": ALL_SCOPES["channels:read"],
    },
}


@pytest.fixture
def brand(runner):
    return make_brand(runner)


@pytest.fixture
def initial_token(runner, brand):
    result = runner.invoke(args=["brands", "initial-token", brand["brand_id"]])
    assert result.exit_code == 0, result.output
    return result.output.strip()


@pytest.fixture
def consumer(app):
    return disclosing_consumer(app.test_client())


def register(client, body, token=None, **kwargs):
    headers = bearer(token) if token else {}
    return client.post("/oauth/register", json=body, headers=headers, **kwargs)


def client_count(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(OAuthClient))


def test_metadata_advertises_the_registration_endpoint(client):
    meta = client.get("/.well-known/oauth-authorization-server").get_json()
    assert meta["registration_endpoint"] == "http://localhost/oauth/register"


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer "},
        {"Authorization": "Bearer sayso_iat_not-a-real-token"},
        {"Authorization": "Basic c2F5c286c2F5c28="},
    ],
)
def test_without_a_valid_initial_access_token_it_is_401(app, client, brand, headers):
    response = client.post("/oauth/register", json=GOOD, headers=headers)
    assert response.status_code == 401
    assert response.get_json()["error"] == "invalid_token"
    assert response.headers["WWW-Authenticate"].startswith("Bearer ")
    assert client_count(app) == 1


def test_a_revoked_initial_access_token_is_401(app, client, brand, initial_token):
    with app.app_context():
        brands = services.brands()
        brands.revoke_initial_access_tokens(brands.by_public_id(brand["brand_id"]))
    assert register(client, GOOD, initial_token).status_code == 401


def test_a_good_token_registers_a_client_that_runs_the_oauth_flow(
    app, client, brand, initial_token, consumer
):
    response = register(client, GOOD, initial_token)
    assert response.status_code == 201, response.get_data(as_text=True)
    assert response.headers["Cache-Control"] == "no-store"
    body = response.get_json()
    assert body["client_id"].startswith("sayso_")
    assert body["client_secret"].startswith("sayso_cs_")
    assert body["client_secret_expires_at"] == 0 and body["client_id_issued_at"] > 0
    assert body["client_name"] == "Bookshop app"
    assert body["redirect_uris"] == [SHOP]
    assert set(body["scope"].split()) == {"interests:read", "channels:read"}
    assert body["sayso_purposes"] == GOOD["sayso_purposes"]
    assert body["grant_types"] == ["authorization_code", "refresh_token"]
    assert body["response_types"] == ["code"]
    assert body["token_endpoint_auth_method"] == "client_secret_basic"
    assert "sayso_webhook_secret" not in body

    with app.app_context():
        row = services.brands().client(body["client_id"])
        assert row.brand.public_id == brand["brand_id"]
        assert row.client_secret_hash == hashlib.sha256(body["client_secret"].encode()).hexdigest()
        event = db.session.scalars(
            select(AuditEvent).where(AuditEvent.type == "brand:client:created")
        ).all()[-1]
        assert json.loads(event.details)["client_id"] == body["client_id"]
        assert event.actor.startswith("registration:")

    new = {"client_id": body["client_id"], "client_secret": body["client_secret"]}
    new["redirect_uri"] = SHOP
    _, challenge = pkce()
    page = consumer.get(authorize_url(new, scope=body["scope"], challenge=challenge))
    assert ALL_SCOPES["channels:read"] in page.get_data(as_text=True)
    token = connect(consumer, new, ["interests"], scope=body["scope"])
    profile = consumer.get("/api/v1/profile", headers=bearer(token["access_token"]))
    assert profile.status_code == 200
    assert profile.get_json()["interests"] == [{"text": "crime fiction"}]


def test_the_scope_defaults_to_the_declared_purposes_and_a_webhook_gets_a_secret(
    app, client, initial_token
):
    body = {k: v for k, v in GOOD.items() if k not in ("scope", "client_name")}
    body["sayso_webhook_url"] = "https://shop.bookshop.example/hooks"
    body["token_endpoint_auth_method"] = "client_secret_post"
    response = register(client, body, initial_token)
    assert response.status_code == 201, response.get_data(as_text=True)
    answer = response.get_json()
    assert set(answer["scope"].split()) == set(GOOD["sayso_purposes"])
    assert answer["client_name"] == "Bookshop"  # the brand's name
    assert answer["token_endpoint_auth_method"] == "client_secret_post"
    assert answer["sayso_webhook_url"] == body["sayso_webhook_url"]
    with app.app_context():
        row = services.brands().client(answer["client_id"])
        assert services.brands().webhook_secret(row) == answer["sayso_webhook_secret"]


def _without(key):
    return {k: v for k, v in GOOD.items() if k != key}


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ({**GOOD, "redirect_uris": ["https://shop.bookshop.example/cb#x"]}, "invalid_redirect_uri"),
        ({**GOOD, "redirect_uris": ["http://shop.bookshop.example/cb"]}, "invalid_redirect_uri"),
        (
            {**GOOD, "redirect_uris": ["https://u:p@shop.bookshop.example/cb"]},
            "invalid_redirect_uri",
        ),
        ({**GOOD, "redirect_uris": ["/callback"]}, "invalid_redirect_uri"),
        ({**GOOD, "redirect_uris": []}, "invalid_redirect_uri"),
        (_without("redirect_uris"), "invalid_redirect_uri"),
        ({**GOOD, "redirect_uris": SHOP}, "invalid_redirect_uri"),
        (_without("sayso_purposes"), "invalid_client_metadata"),
        ({**GOOD, "sayso_purposes": "because"}, "invalid_client_metadata"),
        (
            {**GOOD, "sayso_purposes": {"interests:read": ALL_SCOPES["interests:read"]}},
            "invalid_client_metadata",
        ),
        ({**GOOD, "scope": "interests:read"}, "invalid_client_metadata"),
        ({**GOOD, "scope": "interests:read email:read"}, "invalid_client_metadata"),
        (
            {**GOOD, "sayso_purposes": {**GOOD["sayso_purposes"], "channels:read": "no"}},
            "invalid_client_metadata",
        ),
        (
            {**GOOD, "sayso_purposes": {**GOOD["sayso_purposes"], "channels:read": 7}},
            "invalid_client_metadata",
        ),
        # A public client ("none") may register, but takes no webhook (docs/brands.md).
        (
            {
                **GOOD,
                "token_endpoint_auth_method": "none",
                "sayso_webhook_url": "https://shop.example/hooks",
            },
            "invalid_client_metadata",
        ),
        ({**GOOD, "token_endpoint_auth_method": "private_key_jwt"}, "invalid_client_metadata"),
        ({**GOOD, "require_pushed_authorization_requests": "yes"}, "invalid_client_metadata"),
        ({**GOOD, "grant_types": ["client_credentials"]}, "invalid_client_metadata"),
        ({**GOOD, "response_types": ["token"]}, "invalid_client_metadata"),
        ({**GOOD, "sayso_webhook_url": "http://shop.example/hooks"}, "invalid_client_metadata"),
        ({**GOOD, "client_name": "x" * 200}, "invalid_client_metadata"),
        # Wrong JSON types are a 400 too, never a crash in the metadata checks.
        ({**GOOD, "redirect_uris": [["https://shop.example/cb"]]}, "invalid_redirect_uri"),
        ({**GOOD, "scope": 7}, "invalid_client_metadata"),
        ({**GOOD, "scope": ["interests:read", "channels:read"]}, "invalid_client_metadata"),
        ({**GOOD, "response_types": [1]}, "invalid_client_metadata"),
        ({**GOOD, "grant_types": [["authorization_code"]]}, "invalid_client_metadata"),
        ({**GOOD, "jwks": 1}, "invalid_client_metadata"),
        ({**GOOD, "client_name": 5}, "invalid_client_metadata"),
        ({**GOOD, "sayso_purposes": {"interests:read": None}}, "invalid_client_metadata"),
        # Text consumers read (consent page, extension): plain, and storable as UTF-8.
        ({**GOOD, "client_name": "Book\ud800"}, "invalid_client_metadata"),
        ({**GOOD, "client_name": "Book\x1bshop\x07"}, "invalid_client_metadata"),
        (
            {**GOOD, "sayso_purposes": {**GOOD["sayso_purposes"], "interests:read": "a \ud800 b"}},
            "invalid_client_metadata",
        ),
        (
            {**GOOD, "sayso_purposes": {**GOOD["sayso_purposes"], "channels:read": "a\x1b[8m b"}},
            "invalid_client_metadata",
        ),
    ],
)
def test_bad_metadata_is_refused_with_the_rfc_7591_error(app, client, initial_token, body, error):
    response = register(client, body, initial_token)
    assert response.status_code == 400
    answer = response.get_json()
    assert answer["error"] == error
    assert answer["error_description"]
    assert client_count(app) == 1


@pytest.mark.parametrize(
    "kwargs",
    [
        {"data": "not json", "content_type": "application/json"},
        {"data": "[1, 2]", "content_type": "application/json"},
        {"data": "redirect_uris=x", "content_type": "application/x-www-form-urlencoded"},
        {"data": '{"a":' * 2000 + "1" + "}" * 2000, "content_type": "application/json"},
    ],
)
def test_a_body_that_is_not_a_json_object_is_invalid_request(app, client, initial_token, kwargs):
    response = client.post("/oauth/register", headers=bearer(initial_token), **kwargs)
    assert response.status_code == 400
    assert response.get_json()["error"] == "invalid_request"
    assert client_count(app) == 1


def test_http_loopback_redirects_need_allow_http_loopback(app_factory):
    app = app_factory(ALLOW_HTTP_LOOPBACK=False)
    runner = app.test_cli_runner()
    brand = make_brand(runner)
    token = runner.invoke(args=["brands", "initial-token", brand["brand_id"]]).output.strip()
    body = {**GOOD, "redirect_uris": ["http://localhost:8000/callback"]}
    response = register(app.test_client(), body, token)
    assert response.status_code == 400
    assert response.get_json()["error"] == "invalid_redirect_uri"
    allowed = app_factory(ALLOW_HTTP_LOOPBACK=True)
    assert register(allowed.test_client(), body, token).status_code == 201


def test_the_registration_endpoint_needs_no_csrf_token_but_a_session_is_no_substitute(app, brand):
    browser = app.test_client()
    sign_up(browser, "ada@example.org")
    response = browser.post("/oauth/register", json=GOOD)
    assert response.status_code == 401


def test_only_the_client_consented_through_is_not_asked_again(app, brand, initial_token, consumer):
    # The consumer consented through the brand's first client. A client registered since
    # (its own purpose, its own redirect URI) is shown the page: the consumer never saw
    # either, so a code without it would hand their data to a purpose they did not accept.
    connect(consumer, brand, ["interests"])
    body = {
        **GOOD,
        "scope": "interests:read",
        "sayso_purposes": {"interests:read": "build an advertising profile of you"},
    }
    registered = register(app.test_client(), body, initial_token)
    assert registered.status_code == 201, registered.get_data(as_text=True)
    other = {**registered.get_json(), "redirect_uri": SHOP}
    _, challenge = pkce()
    page = consumer.get(authorize_url(other, scope="interests:read", challenge=challenge))
    assert page.status_code == 200
    assert "build an advertising profile of you" in page.get_data(as_text=True)

    again = consumer.get(authorize_url(brand, scope="interests:read", challenge=challenge))
    assert again.status_code == 302 and "code=" in again.headers["Location"]

    # A grant that names no client (given before migration 0007) is asked for once more.
    with app.app_context():
        db.session.execute(update(Grant).values(client_id=None))
        db.session.commit()
    asked = consumer.get(authorize_url(brand, scope="interests:read", challenge=challenge))
    assert asked.status_code == 200


@pytest.mark.parametrize(
    "webhook",
    [
        "https://[64:ff9b::a9fe:a9fe]/hook",  # NAT64: 169.254.169.254
        "https://[::ffff:0:a9fe:a9fe]/hook",  # SIIT
        "https://[2002:a9fe:a9fe::]/hook",  # 6to4
        "https://[::a9fe:a9fe]/hook",  # IPv4-compatible
        "https://[::ffff:169.254.169.254]/hook",  # IPv4-mapped
        "https://[2001:0:4136:e378:8000:63bf:5601:5601]/hook",  # Teredo
        "https://224.0.0.1/hook",  # multicast
        "https://[ff0e::1]/hook",
        "https://192.0.2.1/hook",  # documentation
    ],
)
def test_registration_refuses_a_webhook_that_embeds_an_internal_address(
    app, client, initial_token, webhook
):
    response = register(client, {**GOOD, "sayso_webhook_url": webhook}, initial_token)
    assert response.status_code == 400
    answer = response.get_json()
    assert answer["error"] == "invalid_client_metadata"
    assert "sayso_webhook_url" in answer["error_description"]
    assert client_count(app) == 1
