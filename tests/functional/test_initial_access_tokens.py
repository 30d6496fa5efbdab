"""A brand's initial access tokens (dynamic client registration, RFC 7591): revoked when
sent in a URL, and limited in time and in number of registrations."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from sayso import create_app
from sayso.config import ConfigError
from sayso.extensions import db
from sayso.models import AuditEvent, InitialAccessToken, OAuthClient
from sayso.shared.clock import utcnow
from sayso.shared.tokens import token_hash
from tests.conftest import _config
from tests.helpers import csrf_token, run_together
from tests.oauth_helpers import bearer, make_brand
from tests.portal_helpers import member_of

BODY = {
    "redirect_uris": ["https://shop.bookshop.example/callback"],
    "sayso_purposes": {"interests:read": "recommend books by authors you like"},
}


@pytest.fixture
def brand(runner):
    return make_brand(runner)


def issue(runner, brand) -> str:
    result = runner.invoke(args=["brands", "initial-token", brand["brand_id"]])
    assert result.exit_code == 0, result.output
    return result.output.strip()


def register(client, token):
    return client.post("/oauth/register", json=BODY, headers=bearer(token))


def clients(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(OAuthClient))


def exposures(app) -> list:
    with app.app_context():
        return db.session.execute(
            select(AuditEvent.actor, AuditEvent.brand, AuditEvent.details).where(
                AuditEvent.type == "oauth:token:exposed"
            )
        ).all()


# -- In a URL ---------------------------------------------------------------------------


def test_an_initial_access_token_in_the_url_is_refused_and_revoked(app, client, runner, brand):
    token = issue(runner, brand)
    response = client.post("/oauth/register", query_string={"access_token": token}, json=BODY)
    assert response.status_code == 400
    assert response.get_json()["error"] == "invalid_request"
    assert "was revoked" in response.get_json()["error_description"]
    assert clients(app) == 1  # the brand's own, from the CLI
    # Revoked: the header does not help any more, and the exposure is on the record.
    assert register(client, token).status_code == 401
    ((actor, brand_id, details),) = exposures(app)
    assert brand_id == brand["brand_id"]
    assert json.loads(details) == {"initial_access_token": token_hash(token)[:16]}
    assert actor == f"registration:{token_hash(token)[:16]}"


@pytest.mark.parametrize("name", ["initial_access_token", "token", "x"])
def test_an_initial_access_token_under_any_parameter_name_is_revoked(
    app, client, runner, brand, name
):
    token = issue(runner, brand)
    response = client.post("/oauth/register", query_string={name: token}, json=BODY)
    assert response.status_code == 400
    assert register(client, token).status_code == 401
    assert len(exposures(app)) == 1


def test_an_initial_access_token_in_any_api_url_is_revoked_too(app, client, runner, brand):
    token = issue(runner, brand)
    response = client.get("/api/v1/profile", query_string={"access_token": token})
    assert response.status_code == 400
    assert register(client, token).status_code == 401
    assert len(exposures(app)) == 1


def test_an_unknown_or_dead_token_in_the_url_is_refused_and_nothing_recorded(
    app, client, runner, brand
):
    token = issue(runner, brand)
    runner.invoke(args=["brands", "initial-token", brand["brand_id"]])
    for exposed in ("sayso_iat_not-a-token", ""):
        response = client.post("/oauth/register", query_string={"access_token": exposed}, json=BODY)
        assert response.status_code == 400
        assert "revoked" not in response.get_json()["error_description"]
    assert exposures(app) == []
    assert register(client, token).status_code == 201


# -- Expiry and number of uses ----------------------------------------------------------


def test_a_token_registers_at_most_its_number_of_clients(app_factory):
    app = app_factory(INITIAL_ACCESS_TOKEN_USES=2)
    client, runner = app.test_client(), app.test_cli_runner()
    token = issue(runner, make_brand(runner))
    assert register(client, token).status_code == 201
    assert register(client, token).status_code == 201
    third = register(client, token)
    assert third.status_code == 401
    assert third.get_json()["error"] == "invalid_token"
    assert "used up" in third.get_json()["error_description"]
    assert clients(app) == 3


def test_a_refused_registration_uses_nothing_up(app_factory):
    app = app_factory(INITIAL_ACCESS_TOKEN_USES=1)
    client, runner = app.test_client(), app.test_cli_runner()
    token = issue(runner, make_brand(runner))
    bad = client.post("/oauth/register", json={"redirect_uris": []}, headers=bearer(token))
    assert bad.status_code == 400
    assert register(client, token).status_code == 201


def test_an_expired_token_registers_nothing(app_factory):
    app = app_factory(INITIAL_ACCESS_TOKEN_SECONDS=3600)
    client, runner = app.test_client(), app.test_cli_runner()
    token = issue(runner, make_brand(runner))
    with app.app_context():
        row = db.session.get(InitialAccessToken, token_hash(token))
        lifetime = row.expires_at - row.created_at
        assert timedelta(minutes=59) < lifetime <= timedelta(hours=1)
        # An hour on: the token expired a moment ago.
        db.session.execute(
            update(InitialAccessToken).values(expires_at=utcnow() - timedelta(seconds=1))
        )
        db.session.commit()
    response = register(client, token)
    assert response.status_code == 401
    assert "expired" in response.get_json()["error_description"]
    assert clients(app) == 1


def test_two_registrations_racing_for_the_last_use_get_one_client(app_factory):
    app = app_factory(INITIAL_ACCESS_TOKEN_USES=1)
    runner = app.test_cli_runner()
    token = issue(runner, make_brand(runner))

    def attempt(_i, arrived):
        client = app.test_client()
        arrived.wait(timeout=10)
        return register(client, token).status_code

    statuses = run_together(2, attempt)
    assert sorted(statuses) == [201, 401], statuses
    assert clients(app) == 2
    with app.app_context():
        assert db.session.get(InitialAccessToken, token_hash(token)).uses_left == 0


def test_the_portal_shows_each_tokens_expiry_and_registrations_left(app_factory):
    app = app_factory(INITIAL_ACCESS_TOKEN_SECONDS=12 * 3600, INITIAL_ACCESS_TOKEN_USES=3)
    runner = app.test_cli_runner()
    brand = make_brand(runner)
    member = member_of(app, brand["brand_id"])
    page = "/portal/registration"
    issued = member.post(page + "/tokens", data={"csrf_token": csrf_token(member, page)})
    assert "for at most 3 registrations" in issued.get_data(as_text=True)
    html = member.get(page).get_data(as_text=True)
    assert "works for 12 hours after it is issued, for at most 3 registrations" in html
    with app.app_context():
        (row,) = db.session.scalars(select(InitialAccessToken)).all()
    expires = row.expires_at
    assert f"{expires.day} {expires:%b %Y %H:%M} UTC" in html  # "8 Dec 2026 11:03 UTC"
    assert 'data-label="Registrations left">3</td>' in html


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("INITIAL_ACCESS_TOKEN_USES", 0),
        ("INITIAL_ACCESS_TOKEN_USES", 1001),
        ("INITIAL_ACCESS_TOKEN_SECONDS", 59),
        ("INITIAL_ACCESS_TOKEN_SECONDS", 400 * 24 * 3600),
    ],
)
def test_limits_out_of_range_refuse_to_start(tmp_path, name, value):
    with pytest.raises(ConfigError, match=f"SAYSO_{name}"):
        create_app(_config(tmp_path, f"sqlite:///{tmp_path}/x.sqlite3", **{name: value}))


def test_the_limits_come_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("SAYSO_INITIAL_ACCESS_TOKEN_SECONDS", "600")
    monkeypatch.setenv("SAYSO_INITIAL_ACCESS_TOKEN_USES", "1")
    app = create_app(_config(tmp_path, f"sqlite:///{tmp_path}/x.sqlite3"))
    assert app.config["INITIAL_ACCESS_TOKEN_SECONDS"] == 600
    assert app.config["INITIAL_ACCESS_TOKEN_USES"] == 1
