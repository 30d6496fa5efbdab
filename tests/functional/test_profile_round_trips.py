"""A profile read costs three SQL statements, and the ledger keeps reads and revokes in order.

Statement counts are deterministic, unlike timings: this pins the hot path's round trips
(docs/benchmarks.md says what each saved) so a change that adds one fails here. On
PostgreSQL the read is pipelined: the protocol trace pins which statements travel together,
and every failure must hand the connection back to the pool as it found it.
"""

import threading
from contextlib import contextmanager

import pytest
from psycopg.pq import PipelineStatus, Trace, TransactionStatus
from sqlalchemy import create_engine, event, select, text

from sayso import services
from sayso.extensions import db
from sayso.models import AuditEvent
from sayso.services.brands import token_hash
from sayso.services.ledger import _HEAD_LOCK_KEY, EventType
from sayso.services.profile import _READ
from tests.helpers import api_headers, counting, sign_up
from tests.ledger_helpers import insert_chain
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


@pytest.mark.parametrize("authorization", [None, "Basic YTpi", "Bearer", "Token abc"], ids=str)
def test_a_request_without_a_usable_bearer_token_opens_no_transaction(app, client, authorization):
    # Authlib parses the header before the read joins the transaction shared with other
    # reads: a request that presents nothing usable never takes the ledger lock.
    headers = {"Authorization": authorization} if authorization else {}
    with counting(app) as statements:
        response = client.get("/api/v1/profile", headers=headers)
    assert response.status_code in {400, 401}
    assert response.get_json()["error"]
    assert statements == []


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


def test_concurrent_reads_share_transactions_and_each_is_recorded(app, client, runner):
    # Reads arriving together in one process share a transaction and its commit
    # (database.GroupCommit): every one still answers, each has its own ledger event, the
    # chain is whole, and fewer transactions than reads were opened.
    _, token = _connected(app, client, runner, ["interests"])
    before = _reads(app)
    threads, per_thread = 6, 8
    start = threading.Barrier(threads)
    answers: list = []

    def reader():
        own = app.test_client()
        start.wait()
        for _ in range(per_thread):
            response = own.get("/api/v1/profile", headers=bearer(token))
            answers.append((response.status_code, response.get_json().get("interests")))

    with counting(app) as statements:
        workers = [threading.Thread(target=reader) for _ in range(threads)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join(timeout=60)
    assert answers == [(200, [{"text": "crime fiction"}])] * (threads * per_thread)
    assert _reads(app) == before + threads * per_thread
    with app.app_context():
        assert services.ledger().verify().ok
    inserts = sum(s.startswith("INSERT INTO audit_events") for s in statements)
    locks = sum(s in ("BEGIN IMMEDIATE", "SELECT pg_advisory_xact_lock(%(k)s)") for s in statements)
    assert inserts == threads * per_thread and 0 < locks <= inserts


def _postgresql(app, what="psycopg's pipeline mode"):
    with app.app_context():
        if db.engine.dialect.name != "postgresql":
            pytest.skip(what)
        return db.engine


@contextmanager
def _traced(app, path):
    """libpq's trace of every message the app's connections send and receive."""
    engine = _postgresql(app)
    out = open(path, "w")  # noqa: SIM115  (closed below, after untracing)

    def start(dbapi_connection, _record, _proxy):
        dbapi_connection.pgconn.trace(out.fileno())
        dbapi_connection.pgconn.set_trace_flags(Trace.SUPPRESS_TIMESTAMPS | Trace.REGRESS_MODE)

    def stop(dbapi_connection, _record):
        if dbapi_connection is not None:
            dbapi_connection.pgconn.untrace()

    event.listen(engine, "checkout", start)
    event.listen(engine, "checkin", stop)
    try:
        yield
    finally:
        event.remove(engine, "checkout", start)
        event.remove(engine, "checkin", stop)
        out.close()


def _waits(trace: str) -> list[int]:
    """The statements (Execute messages) the client sent before each wait for the server
    (a Sync, or a simple-protocol Query)."""
    waits, statements = [], 0
    for line in trace.splitlines():
        direction, _length, message = line.split("\t")[:3]
        if direction != "F":
            continue
        if message == "Execute":
            statements += 1
        elif message in ("Sync", "Query"):
            waits.append(statements + (message == "Query"))
            statements = 0
    return waits


def test_on_postgresql_the_ledger_lock_is_held_for_two_waits(app, client, runner, tmp_path):
    _, token = _connected(app, client, runner, ["interests"])
    _postgresql(app)
    for _ in range(6):  # psycopg prepares a statement on its fifth run: steady state
        assert client.get("/api/v1/profile", headers=bearer(token)).status_code == 200
    with _traced(app, tmp_path / "trace"):
        assert client.get("/api/v1/profile", headers=bearer(token)).status_code == 200
    # psycopg's BEGIN; the lock and the read; the ledger insert and COMMIT; the Sync that
    # leaves pipeline mode. The lock is held from the second wait to the end of the third.
    assert _waits((tmp_path / "trace").read_text()) == [1, 2, 2, 0]


def test_on_postgresql_the_read_keeps_one_plan_on_a_large_ledger(app, client, runner):
    # A read that embedded the head as ``ORDER BY seq DESC LIMIT $n`` was costed, in
    # PostgreSQL's generic plan, for an unknown limit: on a ledger of a few thousand events
    # that plan looked dearer than a custom one, so every read was planned afresh.
    _, token = _connected(app, client, runner, ["interests"])
    engine = _postgresql(app, "PostgreSQL's plan cache")
    with app.app_context():
        head = db.session.execute(
            select(AuditEvent.seq, AuditEvent.hash).order_by(AuditEvent.seq.desc()).limit(1)
        ).one()
        insert_chain(db.session, 20_000, head.seq + 1, head.hash)
        db.session.commit()
    with engine.connect() as connection:
        connection.exec_driver_sql("ANALYZE audit_events")
        for _ in range(12):  # psycopg prepares on the fifth run, PostgreSQL picks after five
            connection.execute(_READ, {"token_hash": token_hash(token)}).all()
        plans = connection.execute(
            text(
                "SELECT generic_plans, custom_plans FROM pg_prepared_statements"
                " WHERE statement LIKE '%ledger_head_seq%'"
            )
        ).one()
        connection.rollback()
    assert plans.generic_plans > 0, plans
    assert client.get("/api/v1/profile", headers=bearer(token)).status_code == 200


CLEAN = (PipelineStatus.OFF, TransactionStatus.IDLE, False)


@contextmanager
def _checkins(app):
    """How each connection the app uses comes back to the pool: (pipeline mode,
    transaction status, closed)."""
    engine = _postgresql(app)
    states = []

    def record(dbapi_connection, _record):
        info = dbapi_connection.info
        states.append((info.pipeline_status, info.transaction_status, dbapi_connection.closed))

    event.listen(engine, "checkin", record)
    try:
        yield states
    finally:
        event.remove(engine, "checkin", record)


def _reads(app) -> int:
    with app.app_context():
        return db.session.scalar(
            select(db.func.count())
            .select_from(AuditEvent)
            .where(AuditEvent.type == str(EventType.PROFILE_READ))
        )


@contextmanager
def _ledger_down(app):
    """Every insert into the ledger fails, raised by PostgreSQL itself, inside the block."""

    def run(*statements):
        with app.app_context():
            for statement in statements:
                db.session.execute(text(statement))
            db.session.commit()

    run(
        "CREATE FUNCTION pipelined_ledger_down() RETURNS trigger AS $$ "
        "BEGIN RAISE EXCEPTION 'ledger unavailable'; END $$ LANGUAGE plpgsql",
        "CREATE TRIGGER pipelined_ledger_down BEFORE INSERT ON audit_events "
        "FOR EACH ROW EXECUTE FUNCTION pipelined_ledger_down()",
    )
    try:
        yield
    finally:
        run(
            "DROP TRIGGER pipelined_ledger_down ON audit_events",
            "DROP FUNCTION pipelined_ledger_down()",
        )


@pytest.mark.parametrize("failure", ["ledger down", "unknown token", "revoked"])
def test_a_failed_read_hands_back_a_clean_connection(app, client, runner, failure):
    _postgresql(app)
    brand, token = _connected(app, client, runner, ["interests"])
    assert client.get("/api/v1/profile", headers=bearer(token)).status_code == 200
    reads = _reads(app)
    expected = 401
    if failure == "unknown token":
        token = "not-a-token"
    elif failure == "revoked":
        headers = api_headers(client)
        assert client.delete(f"/api/v1/me/grants/{brand['brand_id']}", headers=headers)
    with _checkins(app) as states:
        if failure == "ledger down":
            # The insert fails, and PostgreSQL says so with the COMMIT it then skips.
            with _ledger_down(app):
                response = client.get("/api/v1/profile", headers=bearer(token))
            expected = 503
        else:
            response = client.get("/api/v1/profile", headers=bearer(token))
    assert response.status_code == expected
    assert "crime fiction" not in response.get_data(as_text=True)
    assert states and set(states) == {CLEAN}
    assert _reads(app) == reads
    if failure == "ledger down":
        assert client.get("/api/v1/profile", headers=bearer(token)).status_code == 200
        assert _reads(app) == reads + 1


def test_a_read_that_cannot_take_the_ledger_lock_fails_whole(app_factory):
    app = app_factory(
        SQLALCHEMY_ENGINE_OPTIONS={"connect_args": {"options": "-c lock_timeout=200ms"}}
    )
    holder = create_engine(_postgresql(app).url)
    client = app.test_client()
    _, token = _connected(app, client, app.test_cli_runner(), ["interests"])
    reads = _reads(app)
    try:
        with holder.connect() as conn, _checkins(app) as states:
            conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": _HEAD_LOCK_KEY})
            # The lock travels with the read, and its failure comes back with the read's
            # result: the read cannot be recorded, so it fails having disclosed nothing.
            response = client.get("/api/v1/profile", headers=bearer(token))
            conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": _HEAD_LOCK_KEY})
    finally:
        holder.dispose()
    assert response.status_code == 503
    assert "crime fiction" not in response.get_data(as_text=True)
    assert states and set(states) == {CLEAN}
    assert _reads(app) == reads
    assert client.get("/api/v1/profile", headers=bearer(token)).status_code == 200
