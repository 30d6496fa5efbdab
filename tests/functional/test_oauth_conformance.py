"""What the token, revocation, introspection and metadata endpoints answer to requests a
client gets wrong: the RFCs' error, never a 500 (RFC 6749 section 5.2, RFC 7009, RFC 7662,
RFC 8414)."""

from __future__ import annotations

import base64

import pytest

from sayso import create_app
from sayso.config import ConfigError, new_key
from tests.helpers import api_headers, sign_up
from tests.oauth_helpers import basic, bearer, connect, make_brand

ENDPOINTS = ("/oauth/token", "/oauth/revoke", "/oauth/introspect")


@pytest.fixture
def brand(runner):
    return make_brand(runner)


@pytest.fixture
def consumer(client):
    sign_up(client, "ada@example.org")
    response = client.put(
        "/api/v1/me/disclosures",
        json={"interests": [{"text": "crime fiction"}]},
        headers=api_headers(client),
    )
    assert response.status_code == 200
    return client


def _basic(raw: bytes) -> dict:
    return {"Authorization": "Basic " + base64.b64encode(raw).decode()}


def _profile(client, access_token):
    return client.get("/api/v1/profile", headers=bearer(access_token))


# -- Basic credentials that are not UTF-8 ---------------------------------------------


@pytest.mark.parametrize("endpoint", ENDPOINTS)
@pytest.mark.parametrize(
    "header",
    [
        {"Authorization": "Basic /w=="},  # one byte, 0xff
        _basic(b"sayso_\xe9:secret"),  # a Latin-1 byte in the client id
        _basic(b"client:secr\xe8t"),  # and in the secret
        {"Authorization": "Basic \u00e9\u00e9=="},  # not even base64's alphabet
    ],
)
def test_basic_credentials_that_are_not_utf8_are_invalid_client(client, brand, endpoint, header):
    body = {"grant_type": "refresh_token", "refresh_token": "x", "token": "x"}
    response = client.post(endpoint, data=body, headers=header)
    assert response.status_code == 401
    assert response.get_json()["error"] == "invalid_client"
    assert response.headers["WWW-Authenticate"].startswith("Basic ")


def test_a_client_id_with_a_non_utf8_byte_in_the_body_is_invalid_client(client, brand):
    body = b"client_id=sayso_%E9&client_secret=x&token=x&grant_type=refresh_token&refresh_token=x"
    for endpoint in ENDPOINTS:
        response = client.post(
            endpoint, data=body, content_type="application/x-www-form-urlencoded"
        )
        assert response.status_code in (400, 401), endpoint
        assert response.get_json()["error"] == "invalid_client", endpoint


# -- RFC 7009: revocation -----------------------------------------------------------


def test_an_unsupported_token_type_hint_is_400_unsupported_token_type(consumer, brand):
    token = connect(consumer, brand, ["interests"])
    response = consumer.post(
        "/oauth/revoke",
        data={"token": token["access_token"], "token_type_hint": "id_token"},
        headers=basic(brand),
    )
    assert response.status_code == 400
    assert response.get_json()["error"] == "unsupported_token_type"
    assert "WWW-Authenticate" not in response.headers
    # Refused means nothing was done.
    assert _profile(consumer, token["access_token"]).status_code == 200


def test_an_unsupported_hint_from_an_unauthenticated_client_is_invalid_client(consumer, brand):
    # The client's credentials are checked first (RFC 7009 section 2.1).
    response = consumer.post(
        "/oauth/revoke",
        data={"token": "x", "token_type_hint": "id_token"},
        headers=_basic(f"{brand['client_id']}:wrong".encode()),
    )
    assert response.status_code == 401
    assert response.get_json()["error"] == "invalid_client"


@pytest.mark.parametrize("hint", ["access_token", "refresh_token", None])
@pytest.mark.parametrize("which", ["access_token", "refresh_token"])
def test_revocation_answers_200_and_ends_the_grant_whatever_the_supported_hint(
    consumer, brand, hint, which
):
    # A wrong hint only widens the search (RFC 7009 section 2.1); revoking either token
    # ends the other as well (section 2.1: the refresh token's access tokens SHOULD go).
    token = connect(consumer, brand, ["interests"])
    body = {"token": token[which], **({"token_type_hint": hint} if hint else {})}
    response = consumer.post("/oauth/revoke", data=body, headers=basic(brand))
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    assert _profile(consumer, token["access_token"]).status_code == 401
    again = consumer.post("/oauth/revoke", data=body, headers=basic(brand))
    assert again.status_code == 200  # a revoked token is an invalid one: still 200


@pytest.mark.parametrize("token", ["", "not-a-token", "x" * 400])
def test_revoking_an_unknown_token_is_200(client, brand, token):
    # "invalid tokens do not cause an error response" (RFC 7009 section 2.2).
    response = client.post("/oauth/revoke", data={"token": token}, headers=basic(brand))
    assert response.status_code == 200


def test_revocation_without_a_token_is_400_invalid_request(client, brand):
    response = client.post("/oauth/revoke", data={}, headers=basic(brand))
    assert response.status_code == 400
    assert response.get_json()["error"] == "invalid_request"


def test_revocation_and_introspection_take_only_post(client, brand):
    for endpoint in ("/oauth/revoke", "/oauth/introspect"):
        response = client.get(endpoint, query_string={"token": "x"}, headers=basic(brand))
        assert response.status_code == 405


# -- RFC 7662: introspection ----------------------------------------------------------


def test_introspection_with_an_unsupported_hint_is_400_not_401(consumer, brand):
    # 401 is for bad credentials only (RFC 7662 section 2.3); these were good.
    token = connect(consumer, brand, ["interests"])
    response = consumer.post(
        "/oauth/introspect",
        data={"token": token["access_token"], "token_type_hint": "id_token"},
        headers=basic(brand),
    )
    assert response.status_code == 400
    assert response.get_json()["error"] == "unsupported_token_type"


@pytest.mark.parametrize("hint", ["access_token", "refresh_token", None])
def test_introspection_looks_past_a_wrong_hint(consumer, brand, hint):
    token = connect(consumer, brand, ["interests"])
    for which in ("access_token", "refresh_token"):
        body = {"token": token[which], **({"token_type_hint": hint} if hint else {})}
        response = consumer.post("/oauth/introspect", data=body, headers=basic(brand))
        assert response.status_code == 200
        assert response.headers["Cache-Control"] == "no-store"
        assert response.get_json()["active"] is True, (which, hint)


def test_introspection_without_a_token_is_400_invalid_request(client, brand):
    response = client.post("/oauth/introspect", data={}, headers=basic(brand))
    assert response.status_code == 400
    assert response.get_json()["error"] == "invalid_request"


# -- RFC 8414: metadata and the issuer ------------------------------------------------


@pytest.mark.parametrize("host", ["sayso.example", "10.0.0.5:5000", "sayso.example:80"])
def test_metadata_on_a_plain_http_origin_is_a_clean_json_refusal(client, host):
    # No SAYSO_ISSUER and plain http on a host other than loopback: the issuer would break
    # RFC 8414 (https only). Said in JSON, and never cached.
    response = client.get("/.well-known/oauth-authorization-server", headers={"Host": host})
    assert response.status_code == 400
    body = response.get_json()
    assert body["error"] == "invalid_request"
    assert "SAYSO_ISSUER" in body["message"]
    assert response.headers["Cache-Control"] == "no-cache"


@pytest.mark.parametrize(
    ("host", "scheme"),
    [("localhost:5000", "http"), ("127.0.0.1:5000", "http"), ("[::1]:5000", "http")],
)
def test_metadata_on_loopback_or_https_is_served(client, host, scheme):
    response = client.get("/.well-known/oauth-authorization-server", headers={"Host": host})
    assert response.status_code == 200
    assert response.get_json()["issuer"] == f"{scheme}://{host}"
    secure = client.get(
        "/.well-known/oauth-authorization-server",
        headers={"Host": "sayso.example"},
        base_url="https://sayso.example",
    )
    assert secure.status_code == 200
    assert secure.get_json()["issuer"] == "https://sayso.example"


def test_registration_still_works_on_a_plain_http_origin(client, runner, brand):
    token = runner.invoke(args=["brands", "initial-token", brand["brand_id"]]).output.strip()
    response = client.post(
        "/oauth/register",
        json={
            "redirect_uris": ["https://shop.example/cb"],
            "sayso_purposes": {"interests:read": "recommend books"},
        },
        headers={**bearer(token), "Host": "10.0.0.5:5000"},
    )
    assert response.status_code == 201, response.get_data(as_text=True)


def _production(tmp_path, **overrides) -> dict:
    return {
        "ENV": "production",
        "INSTANCE_PATH": str(tmp_path),
        "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/prod.sqlite3",
        "SECRET_KEY": new_key(),
        "MASTER_KEY": new_key(),
        "SIGNING_KEY": new_key(),
        "MAIL_URL": "smtp://mail.example:587",
        **overrides,
    }


def test_production_refuses_to_start_without_an_issuer(tmp_path, monkeypatch):
    monkeypatch.delenv("SAYSO_ISSUER", raising=False)
    with pytest.raises(ConfigError, match="SAYSO_ISSUER"):
        create_app(_production(tmp_path))
    with pytest.raises(ConfigError, match="SAYSO_ISSUER"):
        create_app(_production(tmp_path, ISSUER=""))


@pytest.mark.parametrize(
    "issuer",
    [
        "http://sayso.example",
        "http://127.0.0.1:5000",  # loopback http: development only
        "https://sayso.example/?tenant=1",
        "https://sayso.example/#x",
        "https://user:pw@sayso.example",
        "sayso.example",
        "https://",
    ],
)
def test_production_refuses_an_issuer_rfc_8414_forbids(tmp_path, issuer):
    with pytest.raises(ConfigError, match="SAYSO_ISSUER"):
        create_app(_production(tmp_path, ISSUER=issuer))


def test_production_with_an_issuer_advertises_only_it(tmp_path):
    app = create_app(_production(tmp_path, ISSUER="https://sayso.example/"))
    assert app.config["ISSUER"] == "https://sayso.example"  # no doubled slash in URLs
