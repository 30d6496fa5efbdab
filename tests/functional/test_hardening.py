"""Security headers, the error shape, health, and inputs that must never cause a 500."""

import re

import pytest
from sqlalchemy import func, select

from sayso.extensions import db
from sayso.models import Account
from tests.helpers import PASSWORD, api_headers, sign_up
from tests.oauth_helpers import authorize_url, make_brand, pkce


@pytest.mark.parametrize("path", ["/", "/login", "/api/v1/fields", "/healthz", "/nope"])
def test_security_headers_on_every_response(client, path):
    headers = client.get(path).headers
    csp = headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "'unsafe-inline'" not in csp
    assert "frame-ancestors 'none'" in csp
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["Referrer-Policy"] == "no-referrer"
    assert headers["X-Content-Type-Options"] == "nosniff"


def test_pages_have_no_inline_script_or_style(client):
    sign_up(client, "ada@example.org")
    for path in ("/", "/disclosures", "/disclosures/channels", "/account/password"):
        html = client.get(path).get_data(as_text=True)
        # Scripts from static files (script-src 'self') are fine; inline ones are not.
        inline_scripts = [tag for tag in re.findall(r"<script\b[^>]*>", html) if "src=" not in tag]
        assert not inline_scripts and "<style" not in html and "style=" not in html


def test_healthz_reports_the_database(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok", "database": "ok"}


def test_healthz_is_503_when_the_database_is_unreachable(app_factory, tmp_path):
    # A real, unreachable database: nothing listens on port 1.
    app = app_factory(SQLALCHEMY_DATABASE_URI="postgresql://postgres@127.0.0.1:1/none")
    response = app.test_client().get("/healthz")
    assert response.status_code == 503
    assert response.get_json() == {"status": "unavailable", "database": "unreachable"}


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/api/v1/nothing-here", 404),
        ("DELETE", "/api/v1/fields", 405),
        ("POST", "/healthz", 405),
    ],
)
def test_api_errors_share_one_shape(client, method, path, status):
    response = client.open(path, method=method)
    assert response.status_code == status
    body = response.get_json()
    assert set(body) == {"error", "message", "fields"}


def test_people_get_a_readable_error_page(client):
    response = client.get("/no-such-page", headers={"Accept": "text/html"})
    assert response.status_code == 404
    assert response.mimetype == "text/html"
    assert "Back to the start" in response.get_data(as_text=True)


def test_oversized_bodies_are_refused(client):
    sign_up(client, "ada@example.org")
    response = client.put(
        "/api/v1/me/disclosures",
        data="x" * (300 * 1024),
        content_type="application/json",
    )
    assert response.status_code == 413
    assert response.get_json()["error"] == "payload_too_large"


@pytest.mark.parametrize(
    ("path", "headers"),
    [
        ("/login?next=%00%ff%fe", {}),
        ("/login?next=" + "a" * 5000, {}),
        ("/", {"Accept": "*/*;q=garbage"}),
        ("/api/v1/me", {"Cookie": "sayso_session=garbage.garbage.garbage"}),
        ("/api/v1/me", {"Cookie": "sayso_session=" + "\u00e9" * 10}),
        ("/", {"Accept-Language": "\x00\x01"}),
        ("/disclosures/%ff%fe", {}),
        ("/%2e%2e/%2e%2e/etc/passwd", {}),
    ],
)
def test_garbage_headers_and_queries_never_cause_a_500(client, path, headers):
    assert client.get(path, headers=headers).status_code < 500


@pytest.mark.parametrize(
    "form",
    [
        {"email": "\x00", "password": "\x00"},
        {"email": "a" * 10000, "password": "b"},
        {"email": ["a", "b"], "password": ["c", "d"]},
        {},
    ],
)
def test_garbage_forms_never_cause_a_500(app_factory, form):
    client = app_factory(WTF_CSRF_ENABLED=False).test_client()
    for path in ("/login", "/signup"):
        assert client.post(path, data=form).status_code < 500


def test_oauth_endpoints_answer_every_error_in_the_oauth_shape(client):
    response = client.get("/oauth/token")  # 405, which Authlib never sees
    assert response.status_code == 405
    body = response.get_json()
    assert set(body) == {"error", "error_description"}
    assert body["error"] == "method_not_allowed"


def test_profile_without_credentials_gets_a_bare_bearer_challenge(client):
    response = client.get("/api/v1/profile")
    assert response.status_code == 401
    challenge = response.headers["WWW-Authenticate"]
    # No error code: no credentials were sent (RFC 6750 section 3.1). Either scheme will
    # do, so both are offered (RFC 9449 section 7.1).
    assert challenge.startswith('Bearer realm="sayso"') and "error=" not in challenge
    assert ', DPoP algs="ES256 ' in challenge
    assert response.get_json()["error"] == "unauthorized"


@pytest.mark.parametrize(
    ("method", "path", "kwargs"),
    [
        ("GET", "/oauth/authorize?client_id=a%00b", {}),
        ("POST", "/oauth/token", {"data": {"grant_type": "refresh_token", "client_id": "a\x00b"}}),
        ("POST", "/oauth/introspect", {"data": {"token": "x\x00"}}),
        ("POST", "/oauth/revoke", {"data": {"token": "x", "client_id": "\x00"}}),
        ("PUT", "/api/v1/me/disclosures", {"json": {"interests": [{"text": "a\x00b"}]}}),
        ("DELETE", "/api/v1/me/grants/br_%00", {}),
    ],
)
def test_nul_characters_get_a_clear_400_everywhere(client, method, path, kwargs):
    response = client.open(path, method=method, **kwargs)
    assert response.status_code == 400


# HEAD is GET without the content (RFC 9110 §9.3.2). The form views branch on "GET" to
# show their page and treat anything else as the form's POST; HEAD must show the page too,
# never run the POST branch, where neither CSRF nor the sign-in rate limits (which name
# POST) would stand in the way.


def test_head_on_the_sign_in_page_signs_nobody_in(client, app):
    sign_up(client, "ada@example.org")
    stranger = app.test_client()
    answer = stranger.head("/login", data={"email": "ada@example.org", "password": PASSWORD})
    assert answer.status_code == 200
    assert answer.data == b""  # the page, without its content
    assert stranger.get("/api/v1/me").status_code == 401


def test_head_on_the_sign_up_page_creates_no_account(client, app):
    answer = client.head("/signup", data={"email": "bob@example.org", "password": PASSWORD})
    assert answer.status_code == 200
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Account)) == 0


def test_head_on_a_disclosure_form_deletes_nothing(client):
    sign_up(client, "ada@example.org")
    kept = {"interests": [{"text": "crime fiction"}]}
    headers = api_headers(client)
    assert client.put("/api/v1/me/disclosures", json=kept, headers=headers).status_code == 200
    assert client.head("/disclosures/interests").status_code == 200  # an empty form deletes
    assert client.get("/api/v1/me/disclosures").get_json()["interests"] == kept["interests"]


def test_head_on_the_consent_page_grants_nothing(client, runner):
    sign_up(client, "ada@example.org")
    brand = make_brand(runner)
    _, challenge = pkce()
    url = authorize_url(brand, challenge=challenge)
    answer = client.head(url, data={"decision": "allow", "field": ["interests"]})
    assert answer.status_code == 200
    assert client.get("/api/v1/me/grants").get_json() == []
