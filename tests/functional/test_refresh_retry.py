"""A refresh whose answer was lost can be retried: within ``SAYSO_REFRESH_GRACE_SECONDS``,
and while the new pair is unused, the same request gets the same new pair back. Outside the
window, or once the new pair was used, presenting the old refresh token again is reuse and
revokes the family, as before. The pair kept for the window is sealed, and dropped."""

from __future__ import annotations

import importlib
from datetime import timedelta

import pytest
from sqlalchemy import select

from sayso import create_app
from sayso.config import ConfigError
from sayso.extensions import db
from sayso.models import AuditEvent, Token
from sayso.services.token_seals import RetrySeal
from sayso.shared.clock import utcnow
from sayso.shared.tokens import token_hash
from tests.helpers import disclosing_consumer
from tests.oauth_helpers import bearer, connect, make_brand, refresh

GRACE = 10  # the default


@pytest.fixture
def brand(runner):
    return make_brand(runner)


@pytest.fixture
def consumer(client):
    return disclosing_consumer(client)


def _later(monkeypatch, seconds: int) -> None:
    """As if ``seconds`` had passed, for the token service."""
    moment = utcnow() + timedelta(seconds=seconds)
    module = importlib.import_module("sayso.services.tokens")
    monkeypatch.setattr(module, "utcnow", lambda: moment)


def _reads(app, access_token) -> int:
    return app.test_client().get("/api/v1/profile", headers=bearer(access_token)).status_code


def _reuses(app) -> int:
    with app.app_context():
        return db.session.scalars(select(AuditEvent.type)).all().count("oauth:refresh:reused")


def _row(app, access_token) -> Token:
    with app.app_context():
        row = db.session.get(Token, token_hash(access_token))
        db.session.expunge(row)
        return row


def _assert_family_revoked(app, *access_tokens) -> None:
    for access_token in access_tokens:
        assert _row(app, access_token).revoked_at is not None
        assert _reads(app, access_token) == 401
    assert _reuses(app) == 1


def test_a_retry_of_a_refresh_whose_answer_was_lost_gets_the_same_pair(app, consumer, brand):
    original = connect(consumer, brand, ["interests"])
    lost = refresh(app.test_client(), brand, original["refresh_token"])
    assert lost.status_code == 200
    lost = lost.get_json()

    # The answer never reached the brand, which sends the same request again (twice).
    for _ in range(2):
        retried = refresh(app.test_client(), brand, original["refresh_token"])
        assert retried.status_code == 200, retried.get_json()
        body = retried.get_json()
        assert body["access_token"] == lost["access_token"]
        assert body["refresh_token"] == lost["refresh_token"]
        assert body["scope"] == lost["scope"] == "interests:read"
        assert body["token_type"] == "Bearer"
        assert 0 < body["expires_in"] <= lost["expires_in"]
    assert "no-store" in retried.headers["Cache-Control"]

    # The pair works, nothing was revoked or recorded as reuse, and no pair was added.
    assert _reads(app, lost["access_token"]) == 200
    assert refresh(app.test_client(), brand, lost["refresh_token"]).status_code == 200
    assert _reuses(app) == 0
    with app.app_context():
        assert db.session.scalar(select(db.func.count()).select_from(Token)) == 3


def test_a_retry_once_the_new_refresh_token_was_used_revokes_the_family(app, consumer, brand):
    original = connect(consumer, brand, ["interests"])
    new = refresh(app.test_client(), brand, original["refresh_token"]).get_json()
    newer = refresh(app.test_client(), brand, new["refresh_token"]).get_json()

    replay = refresh(app.test_client(), brand, original["refresh_token"])
    assert replay.status_code == 400
    assert replay.get_json()["error"] == "invalid_grant"
    _assert_family_revoked(app, new["access_token"], newer["access_token"])


def test_a_retry_once_the_new_access_token_was_used_revokes_the_family(app, consumer, brand):
    original = connect(consumer, brand, ["interests"])
    new = refresh(app.test_client(), brand, original["refresh_token"]).get_json()
    # Whoever got the new pair has read with it: the answer was not lost.
    assert _reads(app, new["access_token"]) == 200

    replay = refresh(app.test_client(), brand, original["refresh_token"])
    assert replay.status_code == 400
    _assert_family_revoked(app, new["access_token"])


def test_a_retry_after_the_window_revokes_the_family(app, consumer, brand, monkeypatch):
    original = connect(consumer, brand, ["interests"])
    new = refresh(app.test_client(), brand, original["refresh_token"]).get_json()

    _later(monkeypatch, GRACE + 1)
    replay = refresh(app.test_client(), brand, original["refresh_token"])
    assert replay.status_code == 400
    monkeypatch.undo()
    _assert_family_revoked(app, new["access_token"])


def test_an_older_refresh_token_than_the_last_is_reuse_even_within_the_window(app, consumer, brand):
    # Only the pair issued for this very refresh token comes back: the token before it
    # finds none (the pair sealed now opens for the newer token only).
    first = connect(consumer, brand, ["interests"])
    second = refresh(app.test_client(), brand, first["refresh_token"]).get_json()
    third = refresh(app.test_client(), brand, second["refresh_token"]).get_json()
    replay = refresh(app.test_client(), brand, first["refresh_token"])
    assert replay.status_code == 400
    _assert_family_revoked(app, second["access_token"], third["access_token"])


@pytest.mark.parametrize("app", [{"REFRESH_GRACE_SECONDS": 0}], indirect=True)
def test_with_no_window_every_second_presentation_is_reuse(app, consumer, brand):
    original = connect(consumer, brand, ["interests"])
    new = refresh(app.test_client(), brand, original["refresh_token"]).get_json()
    assert _row(app, new["access_token"]).retry_sealed is None

    replay = refresh(app.test_client(), brand, original["refresh_token"])
    assert replay.status_code == 400
    _assert_family_revoked(app, new["access_token"])


def test_the_pair_kept_for_a_retry_is_sealed_and_dropped(app, consumer, brand, monkeypatch):
    original = connect(consumer, brand, ["interests"])
    other = connect(consumer, brand, ["interests"], prompt="consent")
    new = refresh(app.test_client(), brand, original["refresh_token"]).get_json()

    row = _row(app, new["access_token"])
    sealed = row.retry_sealed
    assert sealed is not None
    for secret in (new["access_token"], new["refresh_token"]):
        assert secret.encode() not in sealed
    # Opening it takes the refresh token it replaced, which Sayso never stores: the master
    # key alone, with anything else, opens nothing.
    seal = RetrySeal(app.config["MASTER_KEY_BYTES"])
    assert seal.open(sealed, original["refresh_token"], brand["client_id"]) == (
        new["access_token"],
        new["refresh_token"],
    )
    assert seal.open(sealed, new["refresh_token"], brand["client_id"]) is None
    assert seal.open(sealed, original["refresh_token"], "another-client") is None

    # Dropped once the window has ended (by the next refresh, whoever's it is)...
    _later(monkeypatch, GRACE + 1)
    assert refresh(app.test_client(), brand, other["refresh_token"]).status_code == 200
    monkeypatch.undo()
    assert _row(app, new["access_token"]).retry_sealed is None
    assert _row(app, new["access_token"]).retry_until is None

    # ... or as soon as the new pair's refresh token is used.
    newer = refresh(app.test_client(), brand, new["refresh_token"]).get_json()
    assert _row(app, newer["access_token"]).retry_sealed is not None
    refresh(app.test_client(), brand, newer["refresh_token"])
    assert _row(app, newer["access_token"]).retry_sealed is None


@pytest.mark.parametrize("value", ["61", "-1", "soon"])
def test_the_window_must_be_0_to_60_seconds(tmp_path, monkeypatch, value):
    monkeypatch.setenv("SAYSO_REFRESH_GRACE_SECONDS", value)
    with pytest.raises(ConfigError, match="SAYSO_REFRESH_GRACE_SECONDS"):
        create_app({"INSTANCE_PATH": str(tmp_path)})
