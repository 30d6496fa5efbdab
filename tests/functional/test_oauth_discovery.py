"""What Sayso says about itself agrees with what it does: RFC 9728 protected resource
metadata and the resource server's challenges pointing to it, registration of the
``none`` auth method that the metadata advertises, and ``invalid_client`` in words."""

from __future__ import annotations

import pytest

from tests.helpers import api_headers, disclosing_consumer
from tests.oauth_helpers import (
    ALL_SCOPES,
    REDIRECT,
    basic,
    bearer,
    connect,
    consent,
    make_brand,
    pkce,
)

RESOURCE_METADATA = "http://localhost/.well-known/oauth-protected-resource"


@pytest.fixture
def brand(runner):
    return make_brand(runner)


@pytest.fixture
def consumer(app):
    return disclosing_consumer(app.test_client())


# RFC 9728 ---------------------------------------------------------------------------------


def test_protected_resource_metadata_describes_the_profile_api(client):
    response = client.get("/.well-known/oauth-protected-resource")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    document = response.get_json()
    meta = client.get("/.well-known/oauth-authorization-server").get_json()
    # The resource identifier is the origin the well-known path was put after (9728 3.3).
    assert document["resource"] == "http://localhost"
    assert document["authorization_servers"] == [meta["issuer"]]
    assert document["bearer_methods_supported"] == ["header"]
    assert document["scopes_supported"] == meta["scopes_supported"]
    assert "interests:read" in document["scopes_supported"]
    assert document["resource_documentation"].startswith("http://localhost/")
    assert document["resource_name"]
    # And the authorization server names the resource back (9728 section 4).
    assert meta["protected_resources"] == [document["resource"]]


def test_with_an_issuer_set_the_resource_is_the_issuer(app_factory):
    app = app_factory(ISSUER="https://sayso.example")
    response = app.test_client().get(
        "/.well-known/oauth-protected-resource", headers={"Host": "evil.example"}
    )
    document = response.get_json()
    assert document["resource"] == "https://sayso.example"
    assert document["authorization_servers"] == ["https://sayso.example"]
    assert response.headers["Cache-Control"] == "public, max-age=3600"


def test_plain_http_on_a_public_host_is_refused(client):
    response = client.get("/.well-known/oauth-protected-resource", base_url="http://sayso.example")
    assert response.status_code == 400
    assert "https" in response.get_json()["message"]


@pytest.mark.parametrize(
    "headers",
    [{}, bearer("not-a-token"), {"Authorization": "Basic eDp5"}],
    ids=["no-token", "unknown-token", "wrong-scheme"],
)
def test_every_challenge_of_the_profile_api_points_to_the_metadata(client, headers):
    response = client.get("/api/v1/profile", headers=headers)
    assert response.status_code in (400, 401)
    challenge = response.headers["WWW-Authenticate"]
    assert challenge.lower().startswith("bearer ")
    assert f'resource_metadata="{RESOURCE_METADATA}"' in challenge


def test_a_token_whose_grants_are_gone_is_challenged_with_the_metadata_too(consumer, brand):
    token = connect(consumer, brand, ["interests"])["access_token"]
    consumer.delete(f"/api/v1/me/grants/{brand['brand_id']}", headers=api_headers(consumer))
    refused = consumer.get("/api/v1/profile", headers=bearer(token))
    assert refused.status_code == 401
    challenge = refused.headers["WWW-Authenticate"]
    assert 'error="invalid_token"' in challenge
    assert f'resource_metadata="{RESOURCE_METADATA}"' in challenge


# Registration of public clients ("none") ---------------------------------------------------


def _initial_token(runner, brand) -> str:
    result = runner.invoke(args=["brands", "initial-token", brand["brand_id"]])
    assert result.exit_code == 0, result.output
    return result.output.strip()


def test_the_metadata_advertises_none_and_registration_accepts_it(
    app, client, runner, brand, consumer
):
    meta = client.get("/.well-known/oauth-authorization-server").get_json()
    assert "none" in meta["token_endpoint_auth_methods_supported"]
    registered = client.post(
        "/oauth/register",
        json={
            "client_name": "Bookshop for phones",
            "redirect_uris": [REDIRECT],
            "token_endpoint_auth_method": "none",
            "sayso_purposes": {"interests:read": ALL_SCOPES["interests:read"]},
        },
        headers=bearer(_initial_token(runner, brand)),
    )
    assert registered.status_code == 201, registered.get_data(as_text=True)
    body = registered.get_json()
    assert body["token_endpoint_auth_method"] == "none"
    assert "client_secret" not in body and "client_secret_expires_at" not in body
    assert body["require_pushed_authorization_requests"] is False
    public = {**body, "redirect_uri": REDIRECT}

    # PKCE alone proves it at the token endpoint; the code flow is the brand's as ever.
    verifier, challenge = pkce()
    query = consent(consumer, public, ["interests"], scope="interests:read", challenge=challenge)
    answer = consumer.post(
        "/oauth/token",
        data={
            "grant_type": "authorization_code",
            "code": query["code"],
            "redirect_uri": REDIRECT,
            "code_verifier": verifier,
            "client_id": public["client_id"],
        },
    )
    assert answer.status_code == 200, answer.get_data(as_text=True)
    tokens = answer.get_json()
    assert (
        consumer.get("/api/v1/profile", headers=bearer(tokens["access_token"])).status_code == 200
    )

    # It cannot introspect (no secret to prove itself with), as the extension's client.
    introspected = consumer.post(
        "/oauth/introspect", data={"token": tokens["access_token"], "client_id": body["client_id"]}
    )
    assert introspected.status_code == 401
    # A secret it never had does not make it confidential.
    wrong = consumer.post(
        "/oauth/token",
        data={
            "grant_type": "refresh_token",
            "refresh_token": tokens["refresh_token"],
            "client_id": public["client_id"],
            "client_secret": "guessed",
        },
    )
    assert wrong.status_code in (400, 401)
    assert wrong.get_json()["error"] == "invalid_client"


# invalid_client, in words -----------------------------------------------------------------


@pytest.mark.parametrize("endpoint", ["/oauth/token", "/oauth/revoke", "/oauth/introspect"])
@pytest.mark.parametrize(
    "how", ["basic-wrong-secret", "post-wrong-secret", "none-confidential", "nothing"]
)
def test_invalid_client_is_described_for_people(client, brand, endpoint, how):
    wrong = {**brand, "client_secret": "not-the-secret"}
    headers, data = {
        "basic-wrong-secret": (basic(wrong), {}),
        "post-wrong-secret": ({}, {"client_id": brand["client_id"], "client_secret": "nope"}),
        "none-confidential": ({}, {"client_id": brand["client_id"]}),
        "nothing": ({}, {}),
    }[how]
    body = {"grant_type": "refresh_token", "refresh_token": "x", "token": "x", **data}
    response = client.post(endpoint, data=body, headers=headers)
    assert response.status_code == 401
    answer = response.get_json()
    assert answer["error"] == "invalid_client"
    description = answer["error_description"]
    assert description.startswith("The client could not be authenticated.")
    assert "client_secret_basic'" not in description and "(" not in description
    assert description in response.headers["WWW-Authenticate"]
