"""Off-the-shelf OAuth clients against Sayso under gunicorn, over real HTTP, as
docs/brands.md ("Use an off-the-shelf client") tells brands to use them: Authlib's
``OAuth2Session`` and openid-client (with oauth4webapi), each with a pushed authorization
request (RFC 9126), and requests-oauthlib; each through discovery (RFC 8414), a partial
consent and a refresh that leaves ``scope`` out."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import parse_qsl, urlencode, urlsplit

import pytest
import requests
from authlib.integrations.requests_client import OAuth2Session as AuthlibSession
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from requests_oauthlib import OAuth2Session as OAuthlibSession

from sayso.config import new_key
from tests.helpers import PASSWORD, disclosing_consumer
from tests.oauth_helpers import REDIRECT, make_brand
from tests.servers import gunicorn

_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
# The JavaScript clients' script and their lock file (`make test` runs npm ci there).
CLIENTS = Path(__file__).resolve().parents[1] / "clients"
ASKED = ["interests:read", "channels:read"]


@pytest.fixture
def sayso(database_url, app_factory, tmp_path):
    """Sayso under gunicorn on this test's database, a brand (made with the CLI of an
    in-process app sharing the master key) and a consumer signed in over HTTP."""
    master_key = new_key()
    app = app_factory(MASTER_KEY=master_key)
    disclosing_consumer(app.test_client())
    brand = make_brand(app.test_cli_runner())
    with gunicorn(database_url, tmp_path, workers=1, threads=2, MASTER_KEY=master_key) as server:
        browser = requests.Session()
        signed_in = browser.post(
            server.url + "/login",
            data={
                "email": "ada@example.org",
                "password": PASSWORD,
                "csrf_token": _csrf(browser, server.url + "/login"),
            },
            allow_redirects=False,
            timeout=10,
        )
        assert signed_in.status_code == 302, signed_in.text
        meta = requests.get(server.url + "/.well-known/oauth-authorization-server", timeout=10)
        yield SimpleNamespace(url=server.url, brand=brand, browser=browser, meta=meta.json())


def _csrf(http: requests.Session, url: str) -> str:
    match = _CSRF.search(http.get(url, timeout=10).text)
    assert match, f"no CSRF token on {url}"
    return match.group(1)


def _consent(sayso, url: str, fields: list[str]) -> str:
    """The consumer's browser opens ``url``, ticks ``fields`` and allows; the redirect."""
    page = sayso.browser.get(url, timeout=10)
    assert page.status_code == 200, page.text
    answer = sayso.browser.post(
        url,
        data={
            "csrf_token": _CSRF.search(page.text).group(1),
            "decision": "allow",
            "field": fields,
            "expiry": "1y",
        },
        allow_redirects=False,
        timeout=10,
    )
    assert answer.status_code == 302, answer.text
    return answer.headers["Location"]


def test_authlib_with_a_pushed_request_and_a_partial_consent(sayso):
    meta, brand = sayso.meta, sayso.brand
    session = AuthlibSession(
        brand["client_id"],
        brand["client_secret"],
        scope=" ".join(ASKED),
        redirect_uri=REDIRECT,
        code_challenge_method="S256",
    )
    verifier = "v" * 64
    # Authlib builds the request; its parameters go to the PAR endpoint, authenticated as
    # at the token endpoint, and the browser gets only client_id and request_uri.
    url, _state = session.create_authorization_url(
        meta["authorization_endpoint"], code_verifier=verifier
    )
    parameters = dict(parse_qsl(urlsplit(url).query))
    assert parameters.pop("client_id") == brand["client_id"]
    assert parameters["code_challenge"] == create_s256_code_challenge(verifier)
    pushed = requests.post(
        meta["pushed_authorization_request_endpoint"],
        data=parameters,
        auth=(brand["client_id"], brand["client_secret"]),
        timeout=10,
    )
    assert pushed.status_code == 201, pushed.text
    by_reference = (
        meta["authorization_endpoint"]
        + "?"
        + urlencode({"client_id": brand["client_id"], "request_uri": pushed.json()["request_uri"]})
    )
    callback = _consent(sayso, by_reference, ["interests"])

    token = session.fetch_token(
        meta["token_endpoint"], authorization_response=callback, code_verifier=verifier
    )
    assert token["scope"] == "interests:read"  # what the consumer ticked, not what was asked
    profile = session.get(sayso.url + "/api/v1/profile", timeout=10)
    assert profile.status_code == 200 and profile.json()["interests"]

    # Refresh with scope left out (Authlib would send the configured scope otherwise).
    refreshed = session.refresh_token(meta["token_endpoint"], scope="")
    assert refreshed["scope"] == "interests:read"
    assert refreshed["refresh_token"] != token["refresh_token"]


def test_requests_oauthlib_with_a_partial_consent(sayso, monkeypatch):
    # Loopback http here (oauthlib insists on https); and the token's scope may be less than
    # asked (the consumer ticks what they grant), which oauthlib raises on unless relaxed.
    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")
    monkeypatch.setenv("OAUTHLIB_RELAX_TOKEN_SCOPE", "1")
    meta, brand = sayso.meta, sayso.brand
    session = OAuthlibSession(brand["client_id"], redirect_uri=REDIRECT, scope=ASKED, pkce="S256")
    url, _state = session.authorization_url(meta["authorization_endpoint"])
    callback = _consent(sayso, url, ["channels"])

    token = session.fetch_token(
        meta["token_endpoint"],
        authorization_response=callback,
        client_secret=brand["client_secret"],
    )
    assert token["scope"] == ["channels:read"]
    profile = session.get(sayso.url + "/api/v1/profile", timeout=10)
    assert profile.status_code == 200 and "channels" in profile.json()

    # Refresh without scope: requests-oauthlib sends the session's scope unless it is None.
    session.scope = None
    refreshed = session.refresh_token(
        meta["token_endpoint"], auth=(brand["client_id"], brand["client_secret"])
    )
    assert refreshed["scope"] == ["channels:read"]


def _node(step: str, **settings: str) -> dict:
    done = subprocess.run(
        [shutil.which("node") or "node", str(CLIENTS / "flow.mjs"), step],
        env={**os.environ, **settings},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_openid_client_and_oauth4webapi_with_a_pushed_request(sayso):
    # `make test` installs them; without them this fails (a skip would prove nothing).
    if not (CLIENTS / "node_modules" / "openid-client").is_dir():
        pytest.fail("the JavaScript clients are not installed: npm ci --prefix tests/clients")
    brand = sayso.brand
    settings = {
        "SAYSO_URL": sayso.url,
        "CLIENT_ID": brand["client_id"],
        "CLIENT_SECRET": brand["client_secret"],
        "REDIRECT_URI": REDIRECT,
    }
    started = _node("start", **settings)
    assert started["par_endpoint"] == sayso.url + "/oauth/par"
    # openid-client pushed the request: the browser's URL carries only a reference to it.
    assert "request_uri=urn%3Aietf%3Aparams%3Aoauth%3Arequest_uri%3A" in started["url"]
    assert "scope=" not in started["url"] and "code_challenge" not in started["url"]
    callback = _consent(sayso, started["url"], ["interests"])
    finished = _node(
        "finish",
        **settings,
        CALLBACK_URL=callback,
        VERIFIER=started["verifier"],
        STATE=started["state"],
    )
    assert finished == {
        "scope": "interests:read",
        "refreshed_scope": "interests:read",
        "rotated": True,
    }
