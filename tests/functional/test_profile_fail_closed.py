"""A profile read that cannot be written to the ledger discloses nothing."""

from sqlalchemy import select, text

from sayso.extensions import db
from sayso.models import AuditEvent
from tests.helpers import api_headers, sign_up
from tests.oauth_helpers import bearer, connect, make_brand

# A real failure of the ledger table, made by the database itself: every insert aborts.
BREAK_LEDGER = {
    "sqlite": [
        "CREATE TRIGGER ledger_down BEFORE INSERT ON audit_events "
        "BEGIN SELECT RAISE(ABORT, 'ledger unavailable'); END"
    ],
    "postgresql": [
        "CREATE FUNCTION ledger_down() RETURNS trigger AS $$ "
        "BEGIN RAISE EXCEPTION 'ledger unavailable'; END $$ LANGUAGE plpgsql",
        "CREATE TRIGGER ledger_down BEFORE INSERT ON audit_events "
        "FOR EACH ROW EXECUTE FUNCTION ledger_down()",
    ],
}
MEND_LEDGER = {
    "sqlite": ["DROP TRIGGER ledger_down"],
    "postgresql": [
        "DROP TRIGGER ledger_down ON audit_events",
        "DROP FUNCTION ledger_down()",
    ],
}


def _run(app, statements):
    with app.app_context():
        for statement in statements:
            db.session.execute(text(statement))
        db.session.commit()


def test_read_fails_closed_when_the_ledger_cannot_be_written(app, client, runner):
    brand = make_brand(runner)
    sign_up(client, "ada@example.org")
    client.put(
        "/api/v1/me/disclosures",
        json={"interests": [{"text": "secret reading list"}]},
        headers=api_headers(client),
    )
    token = connect(client, brand, ["interests"])["access_token"]
    with app.app_context():
        dialect = db.engine.dialect.name
        reads_before = db.session.scalar(
            select(db.func.count())
            .select_from(AuditEvent)
            .where(AuditEvent.type == "api:profile:read")
        )
    _run(app, BREAK_LEDGER[dialect])
    try:
        response = client.get("/api/v1/profile", headers=bearer(token))
        assert response.status_code == 503
        assert response.get_json()["error"] == "unavailable"
        assert "secret reading list" not in response.get_data(as_text=True)
    finally:
        _run(app, MEND_LEDGER[dialect])
    # Once the ledger is back, the read works and is recorded.
    response = client.get("/api/v1/profile", headers=bearer(token))
    assert response.status_code == 200
    assert response.get_json()["interests"] == [{"text": "secret reading list"}]
    with app.app_context():
        reads_after = db.session.scalar(
            select(db.func.count())
            .select_from(AuditEvent)
            .where(AuditEvent.type == "api:profile:read")
        )
    assert reads_after == reads_before + 1
