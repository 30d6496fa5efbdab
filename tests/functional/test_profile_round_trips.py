"""A profile read costs three SQL statements, and the ledger keeps reads and revokes in order.

On PostgreSQL: the consumer's lock for the brand, the one read query, the event's insert
(which queues it for the tree in the same statement). On SQLite the lock is the database's
write lock (BEGIN IMMEDIATE), and a trigger queues the event.

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

from sayso.extensions import db
from sayso.ledger import EventType
from sayso.ledger.verify import LogVerifier
from sayso.models import AuditEvent, Token
from sayso.shared.tokens import token_hash
from tests.helpers import api_headers, counting, sign_up
from tests.ledger_helpers import integrate
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
    with app.app_context():
        sqlite = db.engine.dialect.name == "sqlite"
    if sqlite:  # BEGIN IMMEDIATE, the read, the event (its trigger queues it)
        assert len(statements) == 3, statements
        assert statements[2].lstrip().upper().startswith("INSERT INTO AUDIT_EVENTS")
    else:  # the consumer's lock, the read, the event queued in the same statement
        assert len(statements) == 3, statements
        assert "pg_advisory_xact_lock_shared" in statements[0]
        assert "INSERT INTO audit_events" in statements[2]
        assert "INSERT INTO ledger_pending" in statements[2]


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


def _verified(app) -> bool:
    integrate(app)
    with app.app_context():
        return LogVerifier(db.session, app.extensions["sayso_ledger_key"]).verify().ok


def test_reads_are_recorded_in_the_order_they_were_made(app, client, runner):
    _, token = _connected(app, client, runner, ["interests"])
    for _ in range(3):
        assert client.get("/api/v1/profile", headers=bearer(token)).status_code == 200
    assert _verified(app)
    with app.app_context():
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


def test_concurrent_reads_are_each_recorded(app, client, runner):
    # Every one answers and has its own ledger event, and the log verifies. On SQLite reads
    # arriving together in one process share a transaction and its commit
    # (db.GroupCommit): fewer transactions than reads were opened. On PostgreSQL each
    # has its own, with the consumer's lock shared.
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
    assert _verified(app)
    inserts = sum("INSERT INTO audit_events" in s for s in statements)
    assert inserts == threads * per_thread
    begins = sum(s == "BEGIN IMMEDIATE" for s in statements)
    shared = sum("pg_advisory_xact_lock_shared" in s for s in statements)
    assert 0 < begins <= inserts or shared == inserts


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
    (a Sync, or a Flush that sends statements, after which it reads their results, or a
    simple-protocol Query). A Flush with nothing new before it (psycopg's, on leaving
    pipeline mode while the Sync's answer is still on its way) is no wait of its own."""
    waits, statements = [], 0
    for line in trace.splitlines():
        direction, _length, message = line.split("\t")[:3]
        if direction != "F":
            continue
        if message == "Execute":
            statements += 1
        elif message == "Flush" and not statements:
            continue
        elif message in ("Sync", "Flush", "Query"):
            waits.append(statements + (message == "Query"))
            statements = 0
    return waits


def test_on_postgresql_the_consumers_lock_is_held_for_two_waits(app, client, runner, tmp_path):
    _, token = _connected(app, client, runner, ["interests"])
    _postgresql(app)
    for _ in range(6):  # psycopg prepares a statement on its fifth run: steady state
        assert client.get("/api/v1/profile", headers=bearer(token)).status_code == 200
    with _traced(app, tmp_path / "trace"):
        assert client.get("/api/v1/profile", headers=bearer(token)).status_code == 200
    # psycopg's BEGIN; the lock and the read; the ledger insert and COMMIT; the Sync that
    # leaves pipeline mode. The lock is held from the second wait to the end of the third.
    assert _waits((tmp_path / "trace").read_text()) == [1, 2, 2, 0]


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


def test_a_read_that_cannot_take_the_consumers_lock_fails_whole(app_factory):
    app = app_factory(
        SQLALCHEMY_ENGINE_OPTIONS={"connect_args": {"options": "-c lock_timeout=200ms"}}
    )
    holder = create_engine(_postgresql(app).url)
    client = app.test_client()
    _, token = _connected(app, client, app.test_cli_runner(), ["interests"])
    reads = _reads(app)
    with app.app_context():
        row = db.session.get(Token, token_hash(token))
        ids = {"a": row.account_id, "b": row.brand_id}
    try:
        with holder.connect() as conn, _checkins(app) as states:
            # As a revoke of this consumer's grants to this brand holds it.
            conn.execute(text("SELECT pg_advisory_lock(:a, :b)"), ids)
            # The lock travels with the read, and its failure comes back with the read's
            # result: the read cannot be recorded, so it fails having disclosed nothing.
            response = client.get("/api/v1/profile", headers=bearer(token))
            conn.execute(text("SELECT pg_advisory_unlock(:a, :b)"), ids)
    finally:
        holder.dispose()
    assert response.status_code == 503
    assert "crime fiction" not in response.get_data(as_text=True)
    assert states and set(states) == {CLEAN}
    assert _reads(app) == reads
    assert client.get("/api/v1/profile", headers=bearer(token)).status_code == 200
