"""A used authorization code presented again revokes what it issued only when the request
proves it holds the code: the PKCE verifier that answers the code's challenge (and, for a
confidential client, its secret, which every request of one needs anyway). Before the code's
60 seconds are up or after, the same rule: anyone else who found a used code (in a log, a
history) is refused and burns nothing."""

from __future__ import annotations

import importlib
from datetime import timedelta

import pytest
from sqlalchemy import select

from sayso.extensions import db
from sayso.models import AuditEvent, Token
from sayso.shared.clock import utcnow
from tests.helpers import csrf_token, sign_up
from tests.oauth_helpers import basic, bearer, consent, exchange, make_brand, pkce, redirect_query

EXTENSION_CLIENT = "sayso-extension"
EXTENSION_REDIRECT = "https://kcbeacjgbdmffpfeohjhngmloglamnbe.chromiumapp.org/"


@pytest.fixture
def consumer(client):
    sign_up(client, "ada@example.org")
    return client


def _later(monkeypatch, seconds: int) -> None:
    """As if ``seconds`` had passed, for the token service, which judges a code's expiry."""
    moment = utcnow() + timedelta(seconds=seconds)
    module = importlib.import_module("sayso.services.tokens")
    monkeypatch.setattr(module, "utcnow", lambda: moment)


def _replays(app) -> int:
    with app.app_context():
        return db.session.scalars(select(AuditEvent.type)).all().count("oauth:code:replayed")


def _revoked(app) -> list[bool]:
    with app.app_context():
        return [row.revoked_at is not None for row in db.session.scalars(select(Token))]


def _extension_code(consumer) -> tuple[str, str]:
    """The extension's sign-in up to its code: (code, verifier)."""
    from urllib.parse import urlencode

    verifier, challenge = pkce()
    url = "/oauth/authorize?" + urlencode(
        {
            "response_type": "code",
            "client_id": EXTENSION_CLIENT,
            "redirect_uri": EXTENSION_REDIRECT,
            "scope": "consent:manage",
            "state": "s1",
            "code_challenge": challenge,
            "code_challenge_method": "S256",
        }
    )
    assert consumer.get(url).status_code == 200
    response = consumer.post(
        url, data={"csrf_token": csrf_token(consumer, url), "decision": "allow", "manage": "yes"}
    )
    assert response.status_code == 302, response.get_data(as_text=True)
    return redirect_query(response)["code"], verifier


def _extension_exchange(client, code, verifier):
    """The public client's token request: no secret, its client_id in the form."""
    return client.post(
        "/oauth/token",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": EXTENSION_REDIRECT,
            "client_id": EXTENSION_CLIENT,
            "code_verifier": verifier,
        },
    )


def _manages(app, access_token) -> int:
    """What the extension's token gets from its own API (no session cookie sent)."""
    return app.test_client().get("/api/v1/me/grants", headers=bearer(access_token)).status_code


@pytest.mark.parametrize("replayed_after", [0, 61], ids=["at-once", "after-expiry"])
@pytest.mark.parametrize("verifier_known", [True, False], ids=["verifier", "no-verifier"])
def test_public_client_replay_revokes_only_with_the_verifier(
    app, runner, consumer, monkeypatch, replayed_after, verifier_known
):
    assert runner.invoke(args=["init"]).exit_code == 0
    code, verifier = _extension_code(consumer)
    first = _extension_exchange(app.test_client(), code, verifier)
    assert first.status_code == 200, first.get_json()
    token = first.get_json()
    assert _manages(app, token["access_token"]) == 200

    _later(monkeypatch, replayed_after)
    # Someone who found the used code (the extension's redirect URL is in the browser's
    # history) posts it, with the verifier only if they are the extension itself.
    presented = verifier if verifier_known else pkce()[0]
    replay = _extension_exchange(app.test_client(), code, presented)
    assert replay.status_code == 400
    assert replay.get_json()["error"] == "invalid_grant"
    if verifier_known:
        assert _revoked(app) == [True]
        assert _manages(app, token["access_token"]) == 401
        assert _replays(app) == 1
    else:
        # Without the proof, the consumer's sign-in is untouched and nothing is recorded.
        assert _revoked(app) == [False]
        assert _manages(app, token["access_token"]) == 200
        assert _replays(app) == 0


@pytest.mark.parametrize("replayed_after", [0, 61], ids=["at-once", "after-expiry"])
@pytest.mark.parametrize(
    ("secret_known", "verifier_known", "revokes"),
    [(True, True, True), (True, False, False), (False, True, False)],
    ids=["secret-and-verifier", "secret-only", "verifier-only"],
)
def test_confidential_client_replay_revokes_only_with_secret_and_verifier(
    app, runner, consumer, monkeypatch, replayed_after, secret_known, verifier_known, revokes
):
    brand = make_brand(runner)
    verifier, challenge = pkce()
    code = consent(consumer, brand, ["interests"], scope="interests:read", challenge=challenge)[
        "code"
    ]
    first = exchange(app.test_client(), brand, code, verifier)
    assert first.status_code == 200, first.get_json()

    _later(monkeypatch, replayed_after)
    auth = basic(brand) if secret_known else basic({**brand, "client_secret": "not-the-secret"})
    presented = verifier if verifier_known else pkce()[0]
    replay = exchange(app.test_client(), brand, code, presented, auth=auth)
    assert replay.status_code == (400 if secret_known else 401)
    assert _revoked(app) == [revokes]
    assert _replays(app) == int(revokes)


def test_expired_unused_code_with_its_verifier_is_refused_and_revokes_nothing(
    app, runner, consumer, monkeypatch
):
    brand = make_brand(runner)
    verifier, challenge = pkce()
    code = consent(consumer, brand, ["interests"], scope="interests:read", challenge=challenge)[
        "code"
    ]
    _later(monkeypatch, 61)
    response = exchange(app.test_client(), brand, code, verifier)
    assert response.status_code == 400
    assert response.get_json()["error"] == "invalid_grant"
    assert _revoked(app) == []
    assert _replays(app) == 0
