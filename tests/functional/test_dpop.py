"""DPoP (RFC 9449) through HTTP: a brand binds its tokens to a key, and a bound token works
only with a fresh proof by that key, naming the request and the token. Proofs are made on
the client side with joserfc (tests/dpop_helpers.py), as a brand would."""

from __future__ import annotations

import base64
import json
import time
from urllib.parse import urlencode

import pytest
from sqlalchemy import select, update

from sayso import services
from sayso.config import ConfigError
from sayso.extensions import db
from sayso.models import DPoPProof, OAuthClient, Token
from sayso.shared.tokens import token_hash
from tests.dpop_helpers import PROFILE_URL, TOKEN_URL, ProofKey, dpop_get
from tests.helpers import csrf_token, disclosing_consumer, log_in
from tests.oauth_helpers import basic, bearer, consent, make_brand, pkce, redirect_query
from tests.portal_helpers import client_form, member_of

CONTACT_POLICY_URL = "http://localhost/api/v1/contact-policy"


@pytest.fixture
def brand(runner):
    return make_brand(runner)


@pytest.fixture
def consumer(client):
    return disclosing_consumer(client)


@pytest.fixture
def key():
    return ProofKey()


def _code(consumer, brand, fields=("interests",)) -> tuple[str, str]:
    verifier, challenge = pkce()
    return consent(consumer, brand, list(fields), challenge=challenge)["code"], verifier


def _exchange(client, brand, code, verifier, headers):
    return client.post(
        "/oauth/token",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": brand["redirect_uri"],
            "code_verifier": verifier,
        },
        headers={**basic(brand), **headers},
    )


def dpop_connect(client, brand, key, fields=("interests", "channels")) -> dict:
    """Consent, then the code exchanged with a proof: a DPoP-bound pair."""
    code, verifier = _code(client, brand, fields)
    response = _exchange(client, brand, code, verifier, {"DPoP": key.proof("POST", TOKEN_URL)})
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()


def _refresh(client, brand, refresh_token, headers=None):
    return client.post(
        "/oauth/token",
        data={"grant_type": "refresh_token", "refresh_token": refresh_token},
        headers={**basic(brand), **(headers or {})},
    )


def _row(app, access_token) -> Token:
    with app.app_context():
        row = db.session.get(Token, token_hash(access_token))
        db.session.expunge(row)
        return row


def _error(response) -> str:
    return response.get_json()["error"]


def _challenge(response) -> str:
    return response.headers.get("WWW-Authenticate", "")


def test_a_valid_proof_binds_the_tokens_and_the_profile_reads_with_a_proof(
    app, consumer, brand, key
):
    token = dpop_connect(consumer, brand, key)
    assert token["token_type"] == "DPoP"
    assert _row(app, token["access_token"]).jkt == key.jkt

    api = app.test_client()
    # The API requires a server nonce by default: the first request is told which.
    first = api.get(
        "/api/v1/profile", headers=key.headers("GET", PROFILE_URL, token["access_token"])
    )
    assert first.status_code == 401 and _error(first) == "use_dpop_nonce"
    assert _challenge(first).startswith('DPoP error="use_dpop_nonce"')
    assert 'algs="ES256' in _challenge(first)
    key.remember_nonce(first)
    read = api.get(
        "/api/v1/profile", headers=key.headers("GET", PROFILE_URL, token["access_token"])
    )
    assert read.status_code == 200, read.get_data(as_text=True)
    assert set(read.get_json()) == {"sub", "interests", "channels"}
    # A fresh nonce comes with each answer, so the client need not be told again.
    assert read.headers["DPoP-Nonce"]


def test_a_bound_token_presented_as_a_bearer_token_is_refused(app, consumer, brand, key):
    token = dpop_connect(consumer, brand, key)
    for path in ("/api/v1/profile", "/api/v1/contact-policy?channel=email"):
        response = app.test_client().get(path, headers=bearer(token["access_token"]))
        assert response.status_code == 401
        assert _error(response) == "invalid_token"
        assert _challenge(response).startswith('DPoP error="invalid_token"')
        # Even with a proof beside it: the scheme says what the token is.
        with_proof = app.test_client().get(
            path,
            headers={
                **bearer(token["access_token"]),
                "DPoP": key.proof("GET", "http://localhost" + path.split("?")[0]),
            },
        )
        assert with_proof.status_code == 401 and _error(with_proof) == "invalid_token"


def test_the_dpop_scheme_needs_a_proof_and_a_bound_token(app, consumer, brand, key):
    token = dpop_connect(consumer, brand, key)
    missing = app.test_client().get(
        "/api/v1/profile", headers={"Authorization": f"DPoP {token['access_token']}"}
    )
    assert missing.status_code == 401 and _error(missing) == "invalid_dpop_proof"
    assert _challenge(missing).startswith('DPoP error="invalid_dpop_proof"')

    # A bearer token (no proof at the token endpoint) is not bound: not with DPoP.
    code, verifier = _code(consumer, brand)
    plain = _exchange(consumer, brand, code, verifier, {}).get_json()
    assert plain["token_type"] == "Bearer" and _row(app, plain["access_token"]).jkt is None
    refused = dpop_get(app.test_client(), key, PROFILE_URL, plain["access_token"])
    assert refused.status_code == 401 and _error(refused) == "invalid_token"
    assert (
        app.test_client().get("/api/v1/profile", headers=bearer(plain["access_token"])).status_code
        == 200
    )


#: Proofs that must not pass at the API, each with the error it gets. An ``iat`` is given
#: in seconds from the moment the proof is made (collection may be minutes before the run).
BAD_API_PROOFS = {
    "wrong-url": ({"htu": "http://localhost/api/v1/contacts"}, "invalid_dpop_proof"),
    "wrong-host": ({"htu": "https://evil.example/api/v1/profile"}, "invalid_dpop_proof"),
    "wrong-method": ({"htm": "POST"}, "invalid_dpop_proof"),
    "wrong-ath": ({"ath": "A" * 43}, "invalid_dpop_proof"),
    "no-ath": ({"ath": None}, "invalid_dpop_proof"),
    "expired": ({"iat": -120}, "invalid_dpop_proof"),
    "future": ({"iat": +120}, "invalid_dpop_proof"),
    "no-iat": ({"iat": None}, "invalid_dpop_proof"),
    "stale-nonce": ({"nonce": "AAAAAAAAAAEAAAAAAAAAAAAAAAAAAAAA"}, "use_dpop_nonce"),
}


@pytest.mark.parametrize(("claims", "error"), BAD_API_PROOFS.values(), ids=BAD_API_PROOFS.keys())
def test_a_proof_that_does_not_fit_the_request_is_refused(app, consumer, brand, key, claims, error):
    token = dpop_connect(consumer, brand, key)
    api = app.test_client()
    assert dpop_get(api, key, PROFILE_URL, token["access_token"]).status_code == 200
    if claims.get("iat"):
        claims = {**claims, "iat": int(time.time()) + claims["iat"]}
    headers = key.headers("GET", PROFILE_URL, token["access_token"], **claims)
    response = api.get("/api/v1/profile", headers=headers)
    assert response.status_code == 401, response.get_data(as_text=True)
    assert _error(response) == error
    assert f'error="{error}"' in _challenge(response)


def test_a_proof_by_another_key_is_refused(app, consumer, brand, key):
    token = dpop_connect(consumer, brand, key)
    thief = ProofKey()
    response = dpop_get(app.test_client(), thief, PROFILE_URL, token["access_token"])
    assert response.status_code == 401 and _error(response) == "invalid_token"
    assert "another key" in response.get_json()["message"]


def test_a_replayed_proof_is_refused_by_this_app_and_by_another_on_the_same_database(
    app, app_factory, consumer, brand, key
):
    token = dpop_connect(consumer, brand, key)
    # Another worker or host: the same database and keys, nothing else shared.
    other = app_factory(
        MASTER_KEY=app.config["MASTER_KEY"],
        SECRET_KEY=app.config["SECRET_KEY"],
        SIGNING_KEY=app.config["SIGNING_KEY"],
    )
    assert dpop_get(app.test_client(), key, PROFILE_URL, token["access_token"]).status_code == 200
    headers = key.headers("GET", PROFILE_URL, token["access_token"])
    assert app.test_client().get("/api/v1/profile", headers=headers).status_code == 200
    for replayed_on in (app, other):
        replay = replayed_on.test_client().get("/api/v1/profile", headers=headers)
        assert replay.status_code == 401 and _error(replay) == "invalid_dpop_proof"
        assert "used before" in replay.get_json()["message"]
    # The nonce is stateless: the other instance accepts what this one handed out.
    assert (
        other.test_client()
        .get("/api/v1/profile", headers=key.headers("GET", PROFILE_URL, token["access_token"]))
        .status_code
        == 200
    )


def test_a_replayed_proof_at_the_token_endpoint_is_refused(app, consumer, brand, key):
    proof = key.proof("POST", TOKEN_URL)
    code, verifier = _code(consumer, brand)
    assert _exchange(consumer, brand, code, verifier, {"DPoP": proof}).status_code == 200
    code, verifier = _code(consumer, brand)
    replay = _exchange(consumer, brand, code, verifier, {"DPoP": proof})
    assert replay.status_code == 400 and _error(replay) == "invalid_dpop_proof"
    # The code was not used up by the refused request.
    again = _exchange(consumer, brand, code, verifier, {"DPoP": key.proof("POST", TOKEN_URL)})
    assert again.status_code == 200 and again.get_json()["token_type"] == "DPoP"


def _jws(header: dict, payload: dict, signature: str = "c2ln") -> str:
    def part(value):
        return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")

    return f"{part(header)}.{part(payload)}.{signature}"


def _bad_token_proofs(key: ProofKey) -> dict:
    claims = {"jti": "j1", "htm": "POST", "htu": TOKEN_URL, "iat": int(time.time())}
    private = key.key.as_dict(private=True)
    return {
        "not-a-jwt": "not a jwt",
        "wrong-url": key.proof("POST", "http://localhost/oauth/revoke"),
        "wrong-method": key.proof("GET", TOKEN_URL),
        "query-in-htu-is-ignored-but-path-is-not": key.proof("POST", TOKEN_URL + "/x?y=1"),
        "expired": key.proof("POST", TOKEN_URL, iat=int(time.time()) - 3600),
        "typ": key.proof("POST", TOKEN_URL, header={"typ": "JWT"}),
        "alg-none": _jws({"typ": "dpop+jwt", "alg": "none", "jwk": key.public_jwk}, claims, ""),
        "alg-hs256": _jws({"typ": "dpop+jwt", "alg": "HS256", "jwk": key.public_jwk}, claims),
        "private-jwk": key.proof("POST", TOKEN_URL, header={"jwk": private}),
        "no-jwk": _jws({"typ": "dpop+jwt", "alg": "ES256"}, claims),
        "signed-by-another-key": key.proof(
            "POST", TOKEN_URL, header={"jwk": ProofKey().public_jwk}
        ),
        "no-jti": key.proof("POST", TOKEN_URL, jti=None),
        "alg-eddsa-deprecated": _jws(
            {"typ": "dpop+jwt", "alg": "EdDSA", "jwk": key.public_jwk}, claims
        ),
    }


@pytest.mark.parametrize(
    "name",
    [
        "not-a-jwt",
        "wrong-url",
        "wrong-method",
        "query-in-htu-is-ignored-but-path-is-not",
        "expired",
        "typ",
        "alg-none",
        "alg-hs256",
        "private-jwk",
        "no-jwk",
        "signed-by-another-key",
        "no-jti",
        "alg-eddsa-deprecated",
    ],
)
def test_a_bad_proof_at_the_token_endpoint_is_invalid_dpop_proof(app, consumer, brand, key, name):
    code, verifier = _code(consumer, brand)
    response = _exchange(consumer, brand, code, verifier, {"DPoP": _bad_token_proofs(key)[name]})
    assert response.status_code == 400, response.get_data(as_text=True)
    assert _error(response) == "invalid_dpop_proof"
    assert response.get_json()["error_description"]


def test_htu_is_compared_normalized_without_query_and_fragment(app, consumer, brand, key):
    code, verifier = _code(consumer, brand)
    proof = key.proof("POST", "HTTP://LOCALHOST:80/oauth/./%74oken?x=1#f")
    assert _exchange(consumer, brand, code, verifier, {"DPoP": proof}).status_code == 200


@pytest.mark.parametrize(("kind", "alg"), [("OKP", "Ed25519"), ("RSA", "PS256"), ("RSA", "RS256")])
def test_other_asymmetric_keys_work_too(app, consumer, brand, kind, alg):
    key = ProofKey(kind, alg)
    token = dpop_connect(consumer, brand, key)
    assert _row(app, token["access_token"]).jkt == key.jkt
    assert dpop_get(app.test_client(), key, PROFILE_URL, token["access_token"]).status_code == 200


@pytest.mark.parametrize("app", [{"DPOP_NONCE": "all"}], indirect=True)
def test_a_server_nonce_may_be_required_at_the_token_endpoint_too(app, consumer, brand, key):
    code, verifier = _code(consumer, brand)
    first = _exchange(consumer, brand, code, verifier, {"DPoP": key.proof("POST", TOKEN_URL)})
    assert first.status_code == 400 and _error(first) == "use_dpop_nonce"
    key.remember_nonce(first)
    assert key.nonce
    second = _exchange(consumer, brand, code, verifier, {"DPoP": key.proof("POST", TOKEN_URL)})
    assert second.status_code == 200 and second.get_json()["token_type"] == "DPoP"


@pytest.mark.parametrize("app", [{"DPOP_NONCE": "off"}], indirect=True)
def test_without_nonces_the_first_proof_is_enough(app, consumer, brand, key):
    token = dpop_connect(consumer, brand, key)
    response = app.test_client().get(
        "/api/v1/profile", headers=key.headers("GET", PROFILE_URL, token["access_token"])
    )
    assert response.status_code == 200 and "DPoP-Nonce" not in response.headers


def test_a_confidential_client_refreshes_with_a_proof_by_any_key(app, consumer, brand, key):
    token = dpop_connect(consumer, brand, key)
    # The family is bound: no refresh without a proof (and the refresh token stays usable).
    refused = _refresh(app.test_client(), brand, token["refresh_token"])
    assert refused.status_code == 400 and _error(refused) == "invalid_dpop_proof"
    # The client authenticates, so it may move to a new key (RFC 9449 section 5).
    new_key = ProofKey()
    refreshed = _refresh(
        app.test_client(),
        brand,
        token["refresh_token"],
        {"DPoP": new_key.proof("POST", TOKEN_URL)},
    )
    assert refreshed.status_code == 200, refreshed.get_data(as_text=True)
    pair = refreshed.get_json()
    assert pair["token_type"] == "DPoP" and _row(app, pair["access_token"]).jkt == new_key.jkt
    # A retry of that refresh (its answer lost) gets the same pair, so it must be made
    # with the key that pair is bound to.
    old_key_retry = _refresh(
        app.test_client(), brand, token["refresh_token"], {"DPoP": key.proof("POST", TOKEN_URL)}
    )
    assert old_key_retry.status_code == 400 and _error(old_key_retry) == "invalid_dpop_proof"
    retry = _refresh(
        app.test_client(),
        brand,
        token["refresh_token"],
        {"DPoP": new_key.proof("POST", TOKEN_URL)},
    )
    assert retry.status_code == 200
    again = retry.get_json()
    assert (again["access_token"], again["refresh_token"]) == (
        pair["access_token"],
        pair["refresh_token"],
    )
    assert again["token_type"] == "DPoP"
    read = dpop_get(app.test_client(), new_key, PROFILE_URL, pair["access_token"])
    assert read.status_code == 200


EXTENSION_REDIRECT = "https://kcbeacjgbdmffpfeohjhngmloglamnbe.chromiumapp.org/"


def _public_client_pair(runner, consumer, key) -> dict:
    """The first-party public client (the browser extension) signs in, binding its pair."""
    assert runner.invoke(args=["init"]).exit_code == 0
    verifier, challenge = pkce()
    params = {
        "response_type": "code",
        "client_id": "sayso-extension",
        "redirect_uri": EXTENSION_REDIRECT,
        "scope": "consent:manage",
        "state": "s1",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }
    url = "/oauth/authorize?" + urlencode(params)
    allowed = consumer.post(
        url, data={"csrf_token": csrf_token(consumer, url), "decision": "allow"}
    )
    assert allowed.status_code == 302
    response = consumer.post(
        "/oauth/token",
        data={
            "grant_type": "authorization_code",
            "code": redirect_query(allowed)["code"],
            "redirect_uri": EXTENSION_REDIRECT,
            "client_id": "sayso-extension",
            "code_verifier": verifier,
        },
        headers={"DPoP": key.proof("POST", TOKEN_URL)},
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()


def test_a_public_clients_refresh_token_is_bound_to_its_key(app, runner, consumer, key):
    pair = _public_client_pair(runner, consumer, key)
    assert pair["token_type"] == "DPoP"
    api = app.test_client()
    me = dpop_get(api, key, "http://localhost/api/v1/me/disclosures", pair["access_token"])
    assert me.status_code == 200, me.get_data(as_text=True)
    as_bearer = api.get("/api/v1/me/disclosures", headers=bearer(pair["access_token"]))
    assert as_bearer.status_code == 401 and _error(as_bearer) == "invalid_token"

    def refresh(proof_key):
        return app.test_client().post(
            "/oauth/token",
            data={
                "grant_type": "refresh_token",
                "refresh_token": pair["refresh_token"],
                "client_id": "sayso-extension",
            },
            headers={"DPoP": proof_key.proof("POST", TOKEN_URL)},
        )

    stolen = refresh(ProofKey())
    assert stolen.status_code == 400 and _error(stolen) == "invalid_dpop_proof"
    assert "another DPoP key" in stolen.get_json()["error_description"]
    rotated = refresh(key)
    assert rotated.status_code == 200 and rotated.get_json()["token_type"] == "DPoP"
    assert _row(app, rotated.get_json()["access_token"]).jkt == key.jkt


def test_a_write_with_a_bound_token_beside_a_stale_sign_in_cookie_is_prompt(
    app, runner, consumer, key
):
    """The stale cookie is looked up first (on SQLite: in a transaction that holds the write
    lock); the proof is then remembered in that transaction, not waited for."""
    pair = _public_client_pair(runner, consumer, key)
    url = "http://localhost/api/v1/me/disclosures/interests"
    dpop_get(app.test_client(), key, url, pair["access_token"])  # for the nonce
    browser = app.test_client()
    assert log_in(browser, "ada@example.org").status_code == 302
    elsewhere = app.test_client()
    log_in(elsewhere, "ada@example.org")
    elsewhere.post("/logout", data={"csrf_token": csrf_token(elsewhere, "/disclosures")})
    headers = key.headers("PUT", url, pair["access_token"])
    started = time.monotonic()
    body = {"value": [{"text": "poetry"}]}
    written = browser.put("/api/v1/me/disclosures/interests", json=body, headers=headers)
    assert written.status_code == 200, written.get_data(as_text=True)
    assert time.monotonic() - started < 5
    replay = browser.put("/api/v1/me/disclosures/interests", json=body, headers=headers)
    assert replay.status_code == 401 and _error(replay) == "invalid_dpop_proof"


def test_a_client_registered_to_require_dpop_gets_no_token_without_a_proof(
    app, runner, consumer, key
):
    brand = make_brand(runner)
    initial = runner.invoke(args=["brands", "initial-token", brand["brand_id"]]).output.strip()
    registered = app.test_client().post(
        "/oauth/register",
        json={
            "redirect_uris": [brand["redirect_uri"]],
            "scope": "interests:read",
            "sayso_purposes": {"interests:read": "recommend books"},
            "dpop_bound_access_tokens": True,
        },
        headers=bearer(initial),
    )
    assert registered.status_code == 201, registered.get_data(as_text=True)
    body = registered.get_json()
    assert body["dpop_bound_access_tokens"] is True
    client = {**brand, "client_id": body["client_id"], "client_secret": body["client_secret"]}
    verifier, challenge = pkce()
    code = consent(consumer, client, ["interests"], scope="interests:read", challenge=challenge)
    refused = _exchange(consumer, client, code["code"], verifier, {})
    assert refused.status_code == 400 and _error(refused) == "invalid_dpop_proof"
    bound = _exchange(
        consumer, client, code["code"], verifier, {"DPoP": key.proof("POST", TOKEN_URL)}
    )
    assert bound.status_code == 200 and bound.get_json()["token_type"] == "DPoP"


def test_introspection_names_the_key_of_a_bound_access_token(app, consumer, brand, key):
    token = dpop_connect(consumer, brand, key)
    client = app.test_client()
    access = client.post(
        "/oauth/introspect", data={"token": token["access_token"]}, headers=basic(brand)
    ).get_json()
    assert access["active"] is True
    assert access["token_type"] == "DPoP" and access["cnf"] == {"jkt": key.jkt}
    refresh = client.post(
        "/oauth/introspect", data={"token": token["refresh_token"]}, headers=basic(brand)
    ).get_json()
    assert refresh["active"] is True and "cnf" not in refresh


def test_metadata_advertises_asymmetric_dpop_algorithms_only(client):
    algs = client.get("/.well-known/oauth-authorization-server").get_json()[
        "dpop_signing_alg_values_supported"
    ]
    assert "ES256" in algs and "Ed25519" in algs and "PS256" in algs
    assert not {"none", "HS256", "HS384", "HS512"} & set(algs)


def test_contact_policy_and_reports_take_a_bound_token_with_a_proof(app, consumer, brand, key):
    token = dpop_connect(consumer, brand, key, fields=("channels",))
    url = CONTACT_POLICY_URL + "?channel=email"
    response = dpop_get(app.test_client(), key, url, token["access_token"])
    assert response.status_code == 200, response.get_data(as_text=True)
    assert "allowed" in response.get_json()


def test_a_contact_report_takes_a_bound_token_with_a_proof(app, runner, consumer, key):
    scopes = {"channels:read": "email you no more than you allow", "contacts:write": "say so"}
    brand = make_brand(runner, name="Tea shop", domain="tea.example", scopes=scopes)
    verifier, challenge = pkce()
    code = consent(
        consumer,
        brand,
        ["channels", "contacts"],
        scope="channels:read contacts:write",
        challenge=challenge,
    )["code"]
    token = _exchange(consumer, brand, code, verifier, {"DPoP": key.proof("POST", TOKEN_URL)})
    access = token.get_json()["access_token"]
    api = app.test_client()
    dpop_get(api, key, CONTACT_POLICY_URL + "?channel=email", access)  # for the nonce
    report = {"channel": "email", "sent_at": "2026-12-01T10:00:00+00:00"}
    as_bearer = api.post("/api/v1/contacts", json=report, headers=bearer(access))
    assert as_bearer.status_code == 401 and _error(as_bearer) == "invalid_token"
    url = "http://localhost/api/v1/contacts"
    made = api.post("/api/v1/contacts", json=report, headers=key.headers("POST", url, access))
    assert made.status_code == 201, made.get_data(as_text=True)


def test_a_missing_token_is_answered_with_both_challenges(client):
    challenge = _challenge(client.get("/api/v1/profile"))
    assert challenge.startswith("Bearer ") and ", DPoP algs=" in challenge


def test_proofs_seen_are_kept_only_until_they_would_be_too_old(app, consumer, brand, key):
    dpop_connect(consumer, brand, key)
    with app.app_context():
        (until,) = db.session.scalars(select(DPoPProof.expires_at)).all()
        db.session.commit()  # SQLite: end the transaction, and its write lock
        assert 0 < until.timestamp() - time.time() <= 62
        assert services.dpop_proofs().prune() == 0
        db.session.execute(update(DPoPProof).values(expires_at=until.replace(year=2000)))
        db.session.commit()
        assert services.dpop_proofs().prune() == 1


def test_a_client_registered_on_the_portal_may_require_dpop(app, runner, consumer, key):
    brand = make_brand(runner, name="Tea shop", domain="tea.example")
    member = member_of(app, brand["brand_id"])
    page = member.get("/portal/clients/new").get_data(as_text=True)
    assert "Bind every token to a key" in page
    made = member.post("/portal/clients/new", data=client_form(member, require_dpop="yes"))
    assert made.status_code == 201, made.get_data(as_text=True)
    with app.app_context():
        row = db.session.scalar(select(OAuthClient).order_by(OAuthClient.id.desc()).limit(1))
        assert row.dpop_bound_access_tokens is True
    shown = member.get(f"/portal/clients/{row.client_id}").get_data(as_text=True)
    assert "Tokens bound to a key (DPoP)" in shown and "required" in shown


@pytest.mark.parametrize(
    ("overrides", "named"),
    [({"DPOP_NONCE": "sometimes"}, "SAYSO_DPOP_NONCE"), ({"DPOP_PROOF_SECONDS": 1}, "SECONDS")],
)
def test_bad_dpop_settings_stop_the_app_at_start(app_factory, overrides, named):
    with pytest.raises(ConfigError, match=named):
        app_factory(**overrides)
