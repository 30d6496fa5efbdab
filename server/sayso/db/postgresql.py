"""PostgreSQL (psycopg 3): pings for idle connections, and pipelined transactions."""

from __future__ import annotations

import time
from contextlib import ExitStack, suppress

import psycopg
from psycopg.pq import TransactionStatus
from sqlalchemy import event, exc


def configure(engine) -> None:
    """Ping connections that sat idle, and let ``begin_pipelined`` transactions run."""
    ping_idle_connections(engine)
    pipeline_transactions(engine)


PING_AFTER_IDLE_SECONDS = 10


def ping_idle_connections(engine, idle_seconds: float = PING_AFTER_IDLE_SECONDS) -> None:
    """Check a pooled connection before use only if it sat idle for ``idle_seconds``.

    A connection that served a request a moment ago is almost surely alive; one that sat
    in the pool may have been cut by a database restart or an idle timeout, and is pinged
    first (a dead one is replaced before the request sees it, as ``pool_pre_ping`` would).
    A connection that dies while busy fails that request (a read answers 503 and discloses
    nothing), and SQLAlchemy then invalidates the rest of the pool. This is SQLAlchemy's
    documented "pessimistic" check in a checkout hook, limited to idle connections.
    """
    dialect = engine.dialect

    @event.listens_for(engine, "checkin")
    def _checkin(_dbapi_connection, record):
        record.info["sayso_idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _checkout(dbapi_connection, record, _proxy):
        idle_since = record.info.get("sayso_idle_since")
        if idle_since is None or time.monotonic() - idle_since < idle_seconds:
            return
        try:
            dialect.do_ping(dbapi_connection)
        except dialect.loaded_dbapi.Error as error:
            if dialect.is_disconnect(error, dbapi_connection, None):
                raise exc.DisconnectionError() from error  # the pool retries with a new one
            raise


_PIPELINE = "sayso_pipeline"  # Connection.info key: this transaction's open pipeline


class _Pipelined:
    """A transaction's psycopg pipeline, held open from ``begin_pipelined`` to its end."""

    def __init__(self, driver):
        self._exits = ExitStack()
        self.pipeline = self._exits.enter_context(driver.pipeline())

    def close(self) -> None:
        """Leave pipeline mode: a Sync, and the first error of what was queued raised."""
        self._exits.close()


def begin_pipelined(connection) -> bool:
    """Run ``connection``'s transaction on PostgreSQL in psycopg's pipeline mode, where a
    statement waits for the server only when its result is needed: a statement run on the
    driver's cursor (``db/driver.py``) and not fetched travels with the next one fetched,
    or with the ``COMMIT``; its error, if any, is raised there, and the server skips what
    follows it. A statement run through SQLAlchemy waits for its result (SQLAlchemy reads
    the cursor right after ``execute``).

    Nothing else changes: psycopg still sends its ``BEGIN`` (with a round trip of its own)
    and its ``COMMIT`` (as durable as any other), and the server runs the statements in
    order, each one after the one before has finished. Commit and rollback, the pool's
    reset-on-return included, leave pipeline mode (``pipeline_transactions``), at the cost
    of one more round trip.

    False, and nothing done, where it does not apply: SQLite, a transaction that has
    already begun at the server, a libpq without pipeline mode.
    """
    if connection.dialect.name != "postgresql" or _PIPELINE in connection.info:
        return False
    driver = connection.connection.driver_connection
    idle = driver.info.transaction_status == TransactionStatus.IDLE
    if not idle or not psycopg.Pipeline.is_supported():
        return False
    connection.info[_PIPELINE] = _Pipelined(driver)
    return True


def _held(dbapi_connection) -> _Pipelined | None:
    """The pipelined transaction open on this pooled connection, if any."""
    # Pipeline mode first: SQLAlchemy's first connect uses an ad hoc connection, no info.
    if not dbapi_connection.driver_connection.pgconn.pipeline_status:
        return None
    return dbapi_connection.info.get(_PIPELINE)


def pipeline_transactions(engine) -> None:
    """Let ``begin_pipelined`` transactions run on ``engine`` (psycopg): the result of a
    statement run through SQLAlchemy is waited for (it reads the cursor right after
    ``execute``), and commit and rollback leave pipeline mode, so the connection goes
    back to the pool as ``begin_pipelined`` found it.

    The dialect's execute, commit and rollback are wrapped (as for SQLite's writer queue,
    below) because every statement, and every end of a transaction, passes through them,
    and an error raised there reaches the caller as SQLAlchemy's own.
    """
    dialect = engine.dialect
    if dialect.driver != "psycopg":
        return
    execute = dialect.do_execute
    execute_no_params = dialect.do_execute_no_params
    executemany = dialect.do_executemany
    commit, rollback = dialect.do_commit, dialect.do_rollback

    def settle(cursor, context) -> None:
        if context is None or not cursor.connection.pgconn.pipeline_status:
            return
        held = context.root_connection.info.get(_PIPELINE)
        if held is not None:
            held.pipeline.sync()  # SQLAlchemy reads the cursor next: its result, now

    def do_execute(cursor, statement, parameters, context=None):
        execute(cursor, statement, parameters, context)
        settle(cursor, context)

    def do_execute_no_params(cursor, statement, context=None):
        execute_no_params(cursor, statement, context)
        settle(cursor, context)

    def do_executemany(cursor, statement, parameters, context=None):
        executemany(cursor, statement, parameters, context)
        settle(cursor, context)

    def leave(dbapi_connection, held: _Pipelined) -> None:
        dbapi_connection.info.pop(_PIPELINE, None)
        held.close()

    def do_commit(dbapi_connection):
        held = _held(dbapi_connection)
        if held is None:
            return commit(dbapi_connection)
        try:
            commit(dbapi_connection)  # COMMIT, with the statements queued before it
        except BaseException:
            # A statement before it failed and the server skipped the COMMIT: end the
            # failed transaction, as a failed COMMIT would have (its error is the one
            # to report).
            with suppress(Exception):
                leave(dbapi_connection, held)
            with suppress(Exception):
                rollback(dbapi_connection)
            raise
        # Committed: whatever leaving pipeline mode says now (the connection cut right
        # after the COMMIT's answer) is no failure of the transaction, and must not be
        # reported as one (a read answered 503 while its event stood). A connection left
        # in pipeline mode is closed at checkin rather than handed out again.
        with suppress(psycopg.Error):
            leave(dbapi_connection, held)

    def do_rollback(dbapi_connection):
        held = _held(dbapi_connection)
        if held is not None:
            with suppress(psycopg.Error):  # errors of what is being rolled back: moot
                leave(dbapi_connection, held)
        rollback(dbapi_connection)

    dialect.do_execute = do_execute
    dialect.do_execute_no_params = do_execute_no_params
    dialect.do_executemany = do_executemany
    dialect.do_commit = do_commit
    dialect.do_rollback = do_rollback

    @event.listens_for(engine, "checkin")
    def _checkin(dbapi_connection, record):
        # Commit and rollback leave pipeline mode; a connection that did not (the
        # database went away in between) is closed rather than handed out again.
        closed = dbapi_connection is not None and dbapi_connection.closed
        stuck = not closed and dbapi_connection is not None
        stuck = stuck and dbapi_connection.pgconn.pipeline_status
        if closed or stuck or _PIPELINE in record.info:
            record.invalidate()
