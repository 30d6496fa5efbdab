"""A refreshed token covers what the consumer grants now, and a field the consumer revoked
stays ended for every token issued before the revoke, even once it is granted again (the
extension's toggle): only a new consent reaches it."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import update

from sayso.extensions import db
from sayso.models import Grant
from sayso.shared.clock import utcnow
from tests.helpers import api_headers, disclosing_consumer
from tests.oauth_helpers import basic, bearer, connect, make_brand, refresh

BOTH = ["interests", "channels"]


@pytest.fixture
def brand(runner):
    return make_brand(runner)


@pytest.fixture
def consumer(client):
    return disclosing_consumer(client)


def _revoke(consumer, brand, field):
    path = f"/api/v1/me/grants/{brand['brand_id']}/{field}"
    response = consumer.delete(path, headers=api_headers(consumer))
    assert response.status_code == 200, response.get_json()


def _grant_again(consumer, brand, field):
    path = f"/api/v1/me/grants/{brand['brand_id']}/{field}"
    response = consumer.post(path, headers=api_headers(consumer))
    assert response.status_code in (200, 201), response.get_json()


def _read(app, access_token) -> dict:
    response = app.test_client().get("/api/v1/profile", headers=bearer(access_token))
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def _scope(app, brand, token) -> str:
    answer = app.test_client().post(
        "/oauth/introspect", data={"token": token}, headers=basic(brand)
    )
    return answer.get_json()["scope"]


def test_refresh_after_a_revoke_covers_only_what_is_granted_now(app, consumer, brand):
    token = connect(consumer, brand, BOTH)
    assert sorted(token["scope"].split()) == ["channels:read", "interests:read"]
    _revoke(consumer, brand, "interests")

    refreshed = refresh(app.test_client(), brand, token["refresh_token"])
    assert refreshed.status_code == 200, refreshed.get_json()
    assert refreshed.get_json()["scope"] == "channels:read"
    profile = _read(app, refreshed.get_json()["access_token"])
    assert "channels" in profile and "interests" not in profile
    # Asking for the revoked scope back is asking for more than the token covers.
    wider = app.test_client().post(
        "/oauth/token",
        data={
            "grant_type": "refresh_token",
            "refresh_token": refreshed.get_json()["refresh_token"],
            "scope": "channels:read interests:read",
        },
        headers=basic(brand),
    )
    assert wider.status_code == 400
    assert wider.get_json()["error"] == "invalid_scope"


def test_a_field_granted_again_stays_ended_for_tokens_issued_before_the_revoke(
    app, consumer, brand
):
    before = connect(consumer, brand, BOTH)
    _revoke(consumer, brand, "interests")
    # The consumer turns the field back on from the extension's popup.
    _grant_again(consumer, brand, "interests")

    # The access token issued before the revoke: channels only, by read and introspection.
    profile = _read(app, before["access_token"])
    assert "channels" in profile and "interests" not in profile
    assert _scope(app, brand, before["access_token"]) == "channels:read"
    # Its refresh token too, and every token the family is refreshed into after.
    refreshed = refresh(app.test_client(), brand, before["refresh_token"]).get_json()
    assert refreshed["scope"] == "channels:read"
    assert "interests" not in _read(app, refreshed["access_token"])
    again = refresh(app.test_client(), brand, refreshed["refresh_token"]).get_json()
    assert again["scope"] == "channels:read"

    # A new consent reaches the field granted again.
    after = connect(consumer, brand, BOTH, prompt="consent")
    assert sorted(after["scope"].split()) == ["channels:read", "interests:read"]
    assert "interests" in _read(app, after["access_token"])


def test_refresh_leaves_out_a_field_whose_grant_expired(app, consumer, brand):
    token = connect(consumer, brand, BOTH, expiry="30d")
    with app.app_context():
        db.session.execute(
            update(Grant)
            .where(Grant.field == "interests")
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )
        db.session.commit()
    refreshed = refresh(app.test_client(), brand, token["refresh_token"])
    assert refreshed.status_code == 200, refreshed.get_json()
    assert refreshed.get_json()["scope"] == "channels:read"


def test_refresh_with_nothing_granted_any_more_is_refused(app, consumer, brand):
    token = connect(consumer, brand, ["interests"], expiry="30d")
    with app.app_context():
        db.session.execute(update(Grant).values(expires_at=utcnow() - timedelta(seconds=1)))
        db.session.commit()
    refused = refresh(app.test_client(), brand, token["refresh_token"])
    assert refused.status_code == 400
    assert refused.get_json()["error"] == "invalid_grant"
