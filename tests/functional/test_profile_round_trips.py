"""A profile read costs three SQL statements, and the ledger keeps reads and revokes in order.

Statement counts are deterministic, unlike timings: this pins the hot path's round trips
(docs/benchmarks.md says what each saved) so a change that adds one fails here.
"""

from sqlalchemy import select

from sayso.extensions import db
from sayso.models import AuditEvent
from sayso.services.ledger import EventType
from tests.helpers import api_headers, counting, sign_up
from tests.oauth_helpers import bearer, connect, make_brand


def _connected(app, client, runner, fields):
    brand = make_brand(runner)
    sign_up(client, "ada@example.org")
    client.put(
        "/api/v1/me/disclosures",
        json={"interests": [{"text": "crime fiction"}], "channels": []},
        headers=api_headers(client),
    )
    return brand, connect(client, brand, fields)["access_token"]


def test_a_profile_read_is_three_statements(app, client, runner):
    _, token = _connected(app, client, runner, ["interests"])
    with counting(app) as statements:
        response = client.get("/api/v1/profile", headers=bearer(token))
    assert response.status_code == 200
    assert response.get_json()["interests"] == [{"text": "crime fiction"}]
    # SQLite: BEGIN IMMEDIATE, the one read query, the ledger insert.
    # PostgreSQL: the ledger head lock, the one read query, the ledger insert.
    assert len(statements) == 3, statements
    assert "audit_events" in statements[1]  # the head comes back with the read
    assert statements[2].lstrip().upper().startswith("INSERT INTO AUDIT_EVENTS")


def test_an_unknown_token_costs_one_query_and_writes_nothing(app, client):
    with counting(app) as statements:
        response = client.get("/api/v1/profile", headers=bearer("not-a-token"))
    assert response.status_code == 401
    assert not [s for s in statements if "INSERT" in s.upper()]
    assert len(statements) <= 2  # the lock or BEGIN, and the lookup


def test_reads_chain_on_the_head_they_read(app, client, runner):
    _, token = _connected(app, client, runner, ["interests"])
    for _ in range(3):
        assert client.get("/api/v1/profile", headers=bearer(token)).status_code == 200
    with app.app_context():
        from sayso import services

        assert services.ledger().verify().ok
        reads = db.session.scalars(
            select(AuditEvent.seq).where(AuditEvent.type == str(EventType.PROFILE_READ))
        ).all()
    assert len(reads) == 3
    assert reads == sorted(reads)


def test_a_read_after_a_revoke_is_refused_and_the_ledger_orders_them(app, client, runner):
    brand, token = _connected(app, client, runner, ["interests"])
    assert client.get("/api/v1/profile", headers=bearer(token)).status_code == 200
    revoked = client.delete(f"/api/v1/me/grants/{brand['brand_id']}", headers=api_headers(client))
    assert revoked.status_code == 200
    assert client.get("/api/v1/profile", headers=bearer(token)).status_code == 401
    with app.app_context():
        kinds = db.session.scalars(
            select(AuditEvent.type)
            .where(AuditEvent.type.in_([EventType.PROFILE_READ, EventType.CONSENT_REVOKED]))
            .order_by(AuditEvent.seq)
        ).all()
    assert kinds == [str(EventType.PROFILE_READ), str(EventType.CONSENT_REVOKED)]
