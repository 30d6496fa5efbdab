"""Helpers for OAuth tests: a brand from the CLI, the consent dance, the token exchange."""

from __future__ import annotations

import base64
import json
import secrets
from urllib.parse import parse_qs, urlencode, urlsplit

from authlib.oauth2.rfc7636 import create_s256_code_challenge

from tests.helpers import csrf_token

ALL_SCOPES = {
    "interests:read": "recommend books by authors you like",
    "browsing_categories:read": "choose what to show you first",
    "channels:read": "email you no more often than you allow",
}
REDIRECT = "https://bookshop.example/callback"


def make_brand(
    runner,
    name="Bookshop",
    domain="bookshop.example",
    redirect=REDIRECT,
    scopes=None,
    webhook=None,
    third_party=(),
):
    """Create a brand and its client through the CLI, as an operator would."""
    args = ["brands", "create", name, "--domain", domain, "--redirect-uri", redirect, "--json"]
    for scope, purpose in (scopes or ALL_SCOPES).items():
        args += ["--scope", f"{scope}={purpose}"]
    for scope in third_party:
        args += ["--third-party", scope]
    if webhook:
        args += ["--webhook-url", webhook]
    result = runner.invoke(args=args)
    assert result.exit_code == 0, result.output
    brand = json.loads(result.output)
    brand["redirect_uri"] = redirect
    return brand


def pkce() -> tuple[str, str]:
    """A fresh (verifier, S256 challenge) pair."""
    verifier = secrets.token_urlsafe(48)
    return verifier, create_s256_code_challenge(verifier)


def authorize_url(brand, scope=None, challenge=None, state="xyz", **extra) -> str:
    """The URL a brand sends the consumer to."""
    params = {
        "response_type": "code",
        "client_id": brand["client_id"],
        "redirect_uri": brand["redirect_uri"],
        "scope": scope or " ".join(ALL_SCOPES),
        "state": state,
    }
    if challenge:
        params.update(code_challenge=challenge, code_challenge_method="S256")
    params.update(extra)
    return "/oauth/authorize?" + urlencode(params)


def consent(client, brand, fields, scope=None, expiry="1y", challenge=None, **extra):
    """Open the consent page, tick ``fields`` and allow; returns the redirect's query."""
    url = authorize_url(brand, scope=scope, challenge=challenge, **extra)
    page = client.get(url)
    assert page.status_code == 200, page.get_data(as_text=True)
    token = csrf_token(client, url)
    response = client.post(
        url, data={"csrf_token": token, "decision": "allow", "field": fields, "expiry": expiry}
    )
    assert response.status_code == 302, response.get_data(as_text=True)
    return redirect_query(response)


def redirect_query(response) -> dict:
    """The query parameters of a redirect, one value each."""
    location = response.headers["Location"]
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


def basic(brand) -> dict:
    """client_secret_basic credentials."""
    raw = f"{brand['client_id']}:{brand['client_secret']}".encode()
    return {"Authorization": "Basic " + base64.b64encode(raw).decode()}


def exchange(client, brand, code, verifier, redirect_uri=None, auth=None):
    """Redeem a code at the token endpoint."""
    return client.post(
        "/oauth/token",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": redirect_uri or brand["redirect_uri"],
            "code_verifier": verifier,
        },
        headers=auth if auth is not None else basic(brand),
    )


def refresh(client, brand, refresh_token):
    """Rotate a refresh token at the token endpoint."""
    return client.post(
        "/oauth/token",
        data={"grant_type": "refresh_token", "refresh_token": refresh_token},
        headers=basic(brand),
    )


def connect(client, brand, fields, **kwargs) -> dict:
    """The whole flow: consent to ``fields``, exchange the code; returns the token response."""
    verifier, challenge = pkce()
    query = consent(client, brand, fields, challenge=challenge, **kwargs)
    response = exchange(client, brand, query["code"], verifier)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()


def bearer(token: str) -> dict:
    """An Authorization header for a bearer token."""
    return {"Authorization": f"Bearer {token}"}
