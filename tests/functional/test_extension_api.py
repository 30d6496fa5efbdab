"""The browser extension's side of the server, through HTTP: `sayso init` registers it, the
consumer authorizes it on a page with Allow and Deny (no checkbox), and its token manages
grants and disclosures."""

import pytest

from tests.helpers import api_headers, sign_up
from tests.oauth_helpers import ALL_SCOPES, bearer, connect, make_brand, pkce, redirect_query

EXTENSION_REDIRECT = "https://kcbeacjgbdmffpfeohjhngmloglamnbe.chromiumapp.org/"
EXTENSION = {"client_id": "sayso-extension", "redirect_uri": EXTENSION_REDIRECT}


@pytest.fixture
def extension(runner):
    result = runner.invoke(args=["init"])
    assert result.exit_code == 0, result.output
    return EXTENSION


@pytest.fixture
def brand(runner):
    return make_brand(runner)


@pytest.fixture
def consumer(client):
    sign_up(client, "ada@example.org")
    return client


def _authorize_url(challenge, scope="consent:manage"):
    from urllib.parse import urlencode

    params = {
        "response_type": "code",
        "client_id": EXTENSION["client_id"],
        "redirect_uri": EXTENSION_REDIRECT,
        "scope": scope,
        "state": "s1",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }
    return "/oauth/authorize?" + urlencode(params)


def _extension_token(client) -> str:
    """The extension's sign-in: consent page, code, token exchange with "none" auth."""
    from tests.helpers import csrf_token

    verifier, challenge = pkce()
    url = _authorize_url(challenge)
    page = client.get(url)
    assert page.status_code == 200
    assert "Let the Sayso extension manage your consent" in page.get_data(as_text=True)
    response = client.post(url, data={"csrf_token": csrf_token(client, url), "decision": "allow"})
    assert response.status_code == 302
    assert response.headers["Location"].startswith(EXTENSION_REDIRECT)
    query = redirect_query(response)
    token = client.post(
        "/oauth/token",
        data={
            "grant_type": "authorization_code",
            "code": query["code"],
            "redirect_uri": EXTENSION_REDIRECT,
            "client_id": EXTENSION["client_id"],
            "code_verifier": verifier,
        },
    )
    assert token.status_code == 200, token.get_data(as_text=True)
    body = token.get_json()
    assert body["scope"] == "consent:manage"
    return body["access_token"]


def test_init_is_idempotent_and_redirects_are_configurable(runner):
    first = runner.invoke(args=["init"])
    assert first.exit_code == 0 and "registered" in first.output
    assert EXTENSION_REDIRECT in first.output
    again = runner.invoke(args=["init"])
    assert again.exit_code == 0 and "unchanged" in again.output
    firefox = "https://0123abcd.extensions.allizom.org/"
    changed = runner.invoke(
        args=["init", "--redirect-uri", EXTENSION_REDIRECT, "--redirect-uri", firefox]
    )
    assert changed.exit_code == 0 and "registered" in changed.output
    assert firefox in changed.output
    bad = runner.invoke(args=["init", "--redirect-uri", "http://evil.example/"])
    assert bad.exit_code != 0


def test_consent_page_has_no_checkbox_and_no_fields(consumer, extension):
    _, challenge = pkce()
    html = consumer.get(_authorize_url(challenge)).get_data(as_text=True)
    assert 'type="checkbox"' not in html
    assert "interests" not in html.lower()
    assert 'value="allow"' in html and 'value="deny"' in html


def test_allow_is_the_consent_and_no_answer_is_asked_again_with_200(consumer, extension):
    """Allow alone signs the extension in (it used to need a ticked box too, and answered
    422 without it, which closed Chromium's sign-in window). A post that is no decision
    shows the page again, 200, saying what to do; Deny denies."""
    from tests.helpers import csrf_token

    _, challenge = pkce()
    url = _authorize_url(challenge)
    again = consumer.post(url, data={"csrf_token": csrf_token(consumer, url)})
    assert again.status_code == 200
    assert "Choose Allow to sign the extension in" in again.get_data(as_text=True)
    # A page from before (with the old box, unticked) is an Allow all the same.
    allowed = consumer.post(
        url, data={"csrf_token": csrf_token(consumer, url), "decision": "allow"}
    )
    assert allowed.status_code == 302
    assert "code" in redirect_query(allowed)
    _, challenge = pkce()
    url = _authorize_url(challenge)
    denied = consumer.post(url, data={"csrf_token": csrf_token(consumer, url), "decision": "deny"})
    assert redirect_query(denied)["error"] == "access_denied"


def test_extension_cannot_ask_for_field_scopes(consumer, extension):
    _, challenge = pkce()
    response = consumer.get(_authorize_url(challenge, scope="consent:manage interests:read"))
    assert response.status_code == 302
    assert redirect_query(response)["error"] == "invalid_scope"


def test_brand_client_cannot_get_consent_manage(consumer, brand):
    from tests.oauth_helpers import authorize_url

    _, challenge = pkce()
    response = consumer.get(authorize_url(brand, scope="consent:manage", challenge=challenge))
    assert response.status_code == 302
    assert redirect_query(response)["error"] == "invalid_scope"


def test_bearer_token_manages_grants_without_csrf(app, consumer, extension, brand):
    brand_token = connect(consumer, brand, ["interests", "channels"])["access_token"]
    token = _extension_token(consumer)
    other = app.test_client()  # no session cookie: the bearer token alone
    listed = other.get("/api/v1/me/grants", headers=bearer(token))
    assert listed.status_code == 200
    assert listed.get_json()[0]["brand_id"] == brand["brand_id"]

    revoked = other.delete(f"/api/v1/me/grants/{brand['brand_id']}/channels", headers=bearer(token))
    assert revoked.status_code == 200, revoked.get_data(as_text=True)
    assert revoked.get_json() == {"revoked": {brand["brand_id"]: ["channels"]}}
    profile = other.get("/api/v1/profile", headers=bearer(brand_token)).get_json()
    assert "channels" not in profile and "interests" in profile

    granted = other.post(f"/api/v1/me/grants/{brand['brand_id']}/channels", headers=bearer(token))
    assert granted.status_code == 200
    assert granted.get_json() == {"granted": {brand["brand_id"]: ["channels"]}}
    # The field is granted again, but not to the token issued before the revoke: a revoke
    # ends the field for it for good. The brand's next consent reaches it.
    profile = other.get("/api/v1/profile", headers=bearer(brand_token)).get_json()
    assert "channels" not in profile and "interests" in profile
    fresh = connect(consumer, brand, ["interests", "channels"], prompt="consent")["access_token"]
    assert "channels" in other.get("/api/v1/profile", headers=bearer(fresh)).get_json()


def test_grant_for_a_field_the_brand_never_asked_for_is_404(app, consumer, extension, runner):
    narrow = make_brand(
        runner,
        name="Narrow",
        domain="narrow.example",
        scopes={"interests:read": ALL_SCOPES["interests:read"]},
    )
    token = _extension_token(consumer)
    other = app.test_client()
    response = other.post(f"/api/v1/me/grants/{narrow['brand_id']}/channels", headers=bearer(token))
    assert response.status_code == 404
    response = other.post(
        f"/api/v1/me/grants/{narrow['brand_id']}/interests", headers=bearer(token)
    )
    assert response.status_code == 200


def test_session_grant_needs_csrf(consumer, brand):
    url = f"/api/v1/me/grants/{brand['brand_id']}/interests"
    assert consumer.post(url).status_code == 400
    response = consumer.post(url, headers=api_headers(consumer))
    assert response.status_code == 200


def test_bearer_token_updates_disclosures(app, consumer, extension):
    token = _extension_token(consumer)
    other = app.test_client()
    value = [{"topic_id": 100, "weight": 0.5}]
    response = other.put(
        "/api/v1/me/disclosures/browsing_categories", json={"value": value}, headers=bearer(token)
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    read = other.get("/api/v1/me/disclosures", headers=bearer(token)).get_json()
    assert read["browsing_categories"] == value


def test_brand_token_cannot_manage_consent(app, consumer, brand):
    brand_token = connect(consumer, brand, ["interests"])["access_token"]
    response = app.test_client().get("/api/v1/me/grants", headers=bearer(brand_token))
    assert response.status_code == 403


def test_extension_token_reads_no_profile(app, consumer, extension):
    token = _extension_token(consumer)
    assert app.test_client().get("/api/v1/profile", headers=bearer(token)).status_code == 401


def test_revoked_extension_token_is_refused(app, consumer, extension):
    token = _extension_token(consumer)
    other = app.test_client()
    revoke = other.post("/oauth/revoke", data={"token": token, "client_id": "sayso-extension"})
    assert revoke.status_code == 200
    assert other.get("/api/v1/me/grants", headers=bearer(token)).status_code == 401


def test_brand_lookup_is_public_and_cacheable(client, runner, brand):
    response = client.get("/api/v1/brands/lookup?domain=bookshop.example")
    assert response.status_code == 200
    assert "public" in response.headers["Cache-Control"]
    body = response.get_json()
    assert body["brand_id"] == brand["brand_id"] and body["verified"] is False
    assert {f["field"] for f in body["fields"]} == {"interests", "browsing_categories", "channels"}
    assert body["fields"][0]["purpose"]
    runner.invoke(args=["brands", "verify-domain", "bookshop.example"])
    assert client.get("/api/v1/brands/lookup?domain=BOOKSHOP.example").get_json()["verified"]


@pytest.mark.parametrize("query", ["", "?domain=", "?domain=" + "a" * 300])
def test_brand_lookup_needs_a_domain(client, query):
    assert client.get("/api/v1/brands/lookup" + query).status_code == 400


def test_brand_lookup_of_an_unknown_domain_is_404(client):
    assert client.get("/api/v1/brands/lookup?domain=nobody.example").status_code == 404


def test_a_session_with_a_bearer_header_still_needs_csrf(consumer, extension, brand):
    token = _extension_token(consumer)
    url = f"/api/v1/me/grants/{brand['brand_id']}/interests"
    # The cookie rides along: the bearer header does not excuse it from the CSRF check.
    assert consumer.post(url, headers=bearer(token)).status_code == 400


def test_brand_directory_lists_every_claimed_domain_public_and_cacheable(client, runner, brand):
    narrow = make_brand(runner, name="Narrow", domain="narrow.example")
    response = client.get("/api/v1/brands/directory")
    assert response.status_code == 200
    assert response.get_json() == {
        "domains": {"bookshop.example": brand["brand_id"], "narrow.example": narrow["brand_id"]}
    }
    assert "public" in response.headers["Cache-Control"]
    assert "max-age=3600" in response.headers["Cache-Control"]
    assert "Set-Cookie" not in response.headers
    etag = response.headers["ETag"]
    assert etag

    unchanged = client.get("/api/v1/brands/directory", headers={"If-None-Match": etag})
    assert unchanged.status_code == 304
    assert unchanged.get_data() == b""
    assert unchanged.headers["ETag"] == etag

    # Verifying a domain changes nothing the directory says; a new brand changes the tag.
    runner.invoke(args=["brands", "verify-domain", "bookshop.example"])
    assert (
        client.get("/api/v1/brands/directory", headers={"If-None-Match": etag}).status_code == 304
    )
    make_brand(runner, name="Third", domain="third.example")
    changed = client.get("/api/v1/brands/directory", headers={"If-None-Match": etag})
    assert changed.status_code == 200
    assert changed.headers["ETag"] != etag
    assert "third.example" in changed.get_json()["domains"]


def test_brand_directory_of_no_brands_is_empty(client):
    response = client.get("/api/v1/brands/directory")
    assert response.status_code == 200
    assert response.get_json() == {"domains": {}}


def test_directory_and_lookup_are_readable_from_any_origin_without_credentials(client, brand):
    """The extension reads the public directory and lookups before it has access to the
    Sayso address or a sign-in: CORS ``*`` (which never carries cookies), the ETag exposed,
    and the preflight a cross-origin ``If-None-Match`` needs answered."""
    origin = {"Origin": "chrome-extension://kcbeacjgbdmffpfeohjhngmloglamnbe"}
    directory = client.get("/api/v1/brands/directory", headers=origin)
    assert directory.headers["Access-Control-Allow-Origin"] == "*"
    assert directory.headers["Access-Control-Expose-Headers"] == "ETag"
    assert "Access-Control-Allow-Credentials" not in directory.headers
    etag = directory.headers["ETag"]
    unchanged = client.get("/api/v1/brands/directory", headers={**origin, "If-None-Match": etag})
    assert unchanged.status_code == 304
    assert unchanged.headers["Access-Control-Allow-Origin"] == "*"
    preflight = client.options(
        "/api/v1/brands/directory",
        headers={
            **origin,
            "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "if-none-match",
        },
    )
    assert preflight.status_code == 204
    assert preflight.headers["Access-Control-Allow-Origin"] == "*"
    assert preflight.headers["Access-Control-Allow-Headers"] == "If-None-Match"
    lookup = client.get("/api/v1/brands/lookup?domain=bookshop.example", headers=origin)
    assert lookup.status_code == 200
    assert lookup.headers["Access-Control-Allow-Origin"] == "*"
    unknown = client.get("/api/v1/brands/lookup?domain=nobody.example", headers=origin)
    assert unknown.status_code == 404
    assert unknown.headers["Access-Control-Allow-Origin"] == "*"
    # What a consumer owns is not readable cross-origin.
    assert "Access-Control-Allow-Origin" not in client.get("/api/v1/me/grants").headers


def test_a_token_in_the_url_is_revoked_on_a_get_too(app, consumer, extension):
    # A GET runs read-only; the revocation writes in a session of its own.
    token = _extension_token(consumer)
    response = app.test_client().get(f"/api/v1/me/disclosures?access_token={token}")
    assert response.status_code == 400 and "revoked" in response.get_json()["message"]
    again = app.test_client().get(
        "/api/v1/me/disclosures", headers={"Authorization": f"Bearer {token}"}
    )
    assert again.status_code == 401
