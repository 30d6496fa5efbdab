"""SQLite: durable WAL, foreign keys, ``BEGIN IMMEDIATE`` for every transaction but a
read-only or one-write one, and a writer queue in front of SQLite's write lock."""

from __future__ import annotations

import fcntl
import os
import sqlite3
import time

from sqlalchemy import event

from sayso.db.modes import Mode, transaction_mode, writes

BUSY_TIMEOUT_SECONDS = 30


class WriterQueue:
    """Hands SQLite's write lock from one transaction to the next within microseconds.

    SQLite answers a writer that finds the database locked by sleeping and retrying
    (1, 2, 5, 10 ms and up): with two workers both appending to the ledger, a read that
    collides waits a whole millisecond for a lock held a fraction of that. Every
    transaction here first takes an exclusive ``flock`` on ``<database>.writers`` (polled
    at 50-500 µs) and keeps it until its commit or rollback, so writers of this app queue
    on the lock file instead of inside SQLite. SQLite's own locking is unchanged and
    still guards against anyone else (the ``sqlite3`` shell, another program); the wait
    is bounded by the same timeout, after which it fails as SQLite would.
    Hand-written because no library wraps SQLite's commit with a cross-process lock.
    """

    def __init__(self, database_path: str, timeout: float = BUSY_TIMEOUT_SECONDS):
        self.path = database_path + ".writers"
        self.timeout = timeout
        self._files: dict[int, int] = {}  # id(sqlite3 connection) -> its lock file descriptor
        self._held: set[int] = set()

    def acquire(self, dbapi_connection) -> None:
        """Wait for the lock, for this connection's transaction."""
        key = id(dbapi_connection)
        if key in self._held:
            return
        fd = self._files.get(key)
        if fd is None:
            fd = self._files[key] = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        deadline = time.monotonic() + self.timeout
        pause = 0.00005
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise sqlite3.OperationalError("database is locked") from None
                time.sleep(pause)
                pause = min(pause * 2, 0.0005)
        self._held.add(key)

    def release(self, dbapi_connection) -> None:
        """Let the next writer in."""
        key = id(dbapi_connection)
        if key in self._held:
            self._held.discard(key)
            fcntl.flock(self._files[key], fcntl.LOCK_UN)

    def forget(self, dbapi_connection) -> None:
        """The connection is closing: drop its lock and its descriptor."""
        self.release(dbapi_connection)
        fd = self._files.pop(id(dbapi_connection), None)
        if fd is not None:
            os.close(fd)


def _dbapi(connection):
    """The sqlite3 connection behind a pool proxy (or itself)."""
    return getattr(connection, "dbapi_connection", None) or connection


def configure(engine) -> None:
    """Durable WAL, foreign keys, and ``BEGIN IMMEDIATE`` for every transaction but a
    read-only or one-write one (``modes.py``, which must be enforced on ``engine`` first:
    its ``begin`` listener records the mode this one reads).

    pysqlite opens transactions lazily and as DEFERRED; a deferred transaction that reads
    and then writes can lose the race to another writer. Starting every writing
    transaction IMMEDIATE takes the write lock up front, which is what orders a read and a
    revoke on SQLite (PostgreSQL uses per-pair advisory locks, see ledger/ordering.py); a
    :class:`WriterQueue` in front of it hands the lock over without SQLite's sleeps.
    """

    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection, _record):
        dbapi_connection.isolation_level = None  # we issue BEGIN ourselves
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    database = engine.url.database
    queue = WriterQueue(database) if database and database != ":memory:" else None

    @event.listens_for(engine, "begin")
    def _begin(connection):
        mode = transaction_mode(connection)
        if mode is Mode.READ_ONLY:
            return  # no BEGIN: each SELECT reads the latest committed state (autocommit)
        if mode is Mode.ONE_WRITE:
            return  # autocommit, the queue taken for the write (below)
        if queue is not None:
            queue.acquire(_dbapi(connection.connection))
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    if queue is None:
        return

    @event.listens_for(engine, "before_cursor_execute")
    def _queue_for_the_one_write(conn, _cursor, statement, _parameters, _context, _many):
        if transaction_mode(conn) is Mode.ONE_WRITE and writes(statement):
            queue.acquire(_dbapi(conn.connection))

    # The dialect's commit and rollback are where a transaction really ends (Connection's
    # "commit" event fires before it); every end, including the pool's reset-on-return,
    # passes through these two, so the lock cannot outlive its transaction.
    dialect = engine.dialect
    commit, rollback = dialect.do_commit, dialect.do_rollback

    def do_commit(dbapi_connection):
        try:
            commit(dbapi_connection)
        finally:
            queue.release(_dbapi(dbapi_connection))

    def do_rollback(dbapi_connection):
        try:
            rollback(dbapi_connection)
        finally:
            queue.release(_dbapi(dbapi_connection))

    dialect.do_commit = do_commit
    dialect.do_rollback = do_rollback

    # A connection returned, closed or invalidated without either (a broken connection)
    # must not keep the lock either.
    @event.listens_for(engine, "checkin")
    def _checkin(dbapi_connection, _record):
        if dbapi_connection is not None:
            queue.release(_dbapi(dbapi_connection))

    @event.listens_for(engine, "close")
    @event.listens_for(engine, "invalidate")
    def _closed(dbapi_connection, *_):
        if dbapi_connection is not None:
            queue.forget(_dbapi(dbapi_connection))
