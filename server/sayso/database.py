"""Database engine setup that differs per backend."""

from __future__ import annotations

import fcntl
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager, suppress
from contextvars import ContextVar

import psycopg
from psycopg.pq import TransactionStatus
from sqlalchemy import event, exc

SQLITE_BUSY_TIMEOUT_SECONDS = 30


def normalize_url(url: str) -> str:
    """Use psycopg 3 for PostgreSQL URLs given without a driver."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def engine_options(url: str) -> dict:
    """Per-backend engine options. Statement parameters (token hashes, ciphertexts, email
    keys) never appear in SQLAlchemy's logs or in its exceptions' text."""
    if url.startswith("sqlite"):
        return {"connect_args": {"timeout": SQLITE_BUSY_TIMEOUT_SECONDS}, "hide_parameters": True}
    # No ``pool_pre_ping``: it costs a round trip on every checkout, i.e. every request.
    # ``ping_idle_connections`` pings only a connection that has sat idle (see there).
    return {"pool_recycle": 1800, "hide_parameters": True}


_READ_ONLY: ContextVar[bool] = ContextVar("sayso_read_only", default=False)
_NO_BEGIN = "sayso_no_begin"  # Connection.info key: this SQLite transaction sent no BEGIN
_ONE_WRITE: ContextVar[bool] = ContextVar("sayso_one_write", default=False)
_WRITES = "sayso_writes"  # Connection.info key: the writes so far of a one_write transaction


class WriteRefused(RuntimeError):
    """A statement that is not a SELECT in a ``read_only`` transaction, or a second one in a
    ``one_write`` transaction."""


@contextmanager
def read_only() -> Iterator[None]:
    """Run what is inside as a reader that writes nothing.

    Any statement other than a ``SELECT`` raises :class:`WriteRefused` (on both databases,
    so a write that creeps into such code fails its tests). On SQLite a transaction begun
    inside sends no ``BEGIN IMMEDIATE``: it neither takes nor waits for the write lock,
    and each ``SELECT`` reads the latest committed state on its own (SQLite's autocommit
    mode; WAL readers never wait for the writer). Every GET, HEAD and OPTIONS request runs
    in it (``security.SafeMethodsFlask``), so a page that only shows things does not queue
    behind every ledger append.
    Such a transaction stays read-only until it ends, even if it outlives the block.
    """
    token = _READ_ONLY.set(True)
    try:
        yield
    finally:
        _READ_ONLY.reset(token)


@contextmanager
def writing_anyway() -> Iterator[None]:
    """Leave :func:`read_only` for what is inside: for the rare write a safe request must
    make (revoking a token it found exposed in the URL), in a session of its own. Each use
    says why; anything else a GET writes is still refused."""
    token = _READ_ONLY.set(False)
    try:
        yield
    finally:
        _READ_ONLY.reset(token)


@contextmanager
def one_write() -> Iterator[None]:
    """Begin a transaction whose one write is a single statement, atomic by itself.

    On SQLite such a transaction sends no ``BEGIN IMMEDIATE``: its reads take no lock (as
    in ``read_only``), and its write waits in the :class:`WriterQueue`, then commits on
    its own (SQLite's autocommit mode), so the write lock is held for that statement
    instead of the whole request. A second write would commit separately from the first,
    so on both databases it raises :class:`WriteRefused`; PostgreSQL's transaction is
    otherwise an ordinary one. Decided when the transaction begins (inside the block), it
    lasts until the transaction ends.
    """
    token = _ONE_WRITE.set(True)
    try:
        yield
    finally:
        _ONE_WRITE.reset(token)


def _writes(statement: str) -> bool:
    return statement.lstrip()[:6].upper() != "SELECT"


def enforce_transaction_modes(engine) -> None:
    """Enforce ``read_only`` and ``one_write`` on ``engine``: a check of each statement's
    first word."""

    @event.listens_for(engine, "begin")
    def _count_writes(connection):
        if _ONE_WRITE.get() and not _READ_ONLY.get():
            connection.info[_WRITES] = 0
        else:
            connection.info.pop(_WRITES, None)

    @event.listens_for(engine, "before_cursor_execute")
    def _refuse(conn, _cursor, statement, _parameters, _context, _executemany):
        # The statement's first word is looked at only in a transaction of either mode:
        # an ordinary one (every brand's read) pays two lookups per statement, no more.
        if _READ_ONLY.get() or conn.info.get(_NO_BEGIN):
            if _writes(statement):
                raise WriteRefused(f"a read-only transaction cannot run {statement[:40]!r}")
        elif _WRITES in conn.info and _writes(statement):
            if conn.info[_WRITES]:
                raise WriteRefused(f"a one_write transaction cannot also run {statement[:40]!r}")
            conn.info[_WRITES] = 1


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

    def __init__(self, database_path: str, timeout: float = SQLITE_BUSY_TIMEOUT_SECONDS):
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


class GroupCommit:
    """Transactions shared by the threads of one process, committed once for all of them.

    A profile read is a durable ledger append. Alone, each read takes the ledger's head
    lock and holds it through its own commit (an fsync on SQLite, a WAL flush and more
    round trips on PostgreSQL), so reads queue behind each other's commits. Here the reads
    that arrive while a group is open join it: each runs its statements in turn on the
    group's connection, in its one transaction, after the one head lock the group took;
    the group commits once, when the last of them is done, and no member goes on (none
    returns anything) before that commit. Every read stays in a committed transaction, as
    durable as before; the commit and the lock are shared.

    Reads that arrive while a group commits open the next one, whose leader waits for the
    head lock meanwhile, so the busier the process the bigger the groups, and a lone read
    is exactly what it was (one member, the same statements). A database error in any
    member rolls the whole group back and fails every member: nothing half-recorded, and
    nothing disclosed. Needs threads (gunicorn ``--threads``) to group anything.
    Hand-written because neither SQLAlchemy nor the drivers group commits across threads.
    """

    def __init__(self, engine):
        self._engine = engine
        self._mutex = threading.Lock()
        self._open: _Group | None = None

    @contextmanager
    def transaction(self, begin: Callable) -> Iterator[tuple]:
        """Join the open group, or open one. Yields ``(connection, state)`` while this
        member has the connection to itself; ``begin(connection)`` is what the group's
        leader ran once after ``BEGIN`` (taking the ledger lock) and ``state`` what it
        returned. On leaving, waits for the group's commit, and raises its error if the
        group failed (a member that raised has already left with its own exception)."""
        with self._mutex:
            group = self._open
            leader = group is None
            if leader:
                group = self._open = _Group()
            group.members += 1
        if leader:
            group.open(self._engine, begin)
        else:
            group.ready.wait()
        succeeded = False
        try:
            if group.failure is not None:
                raise GroupFailed() from group.failure
            with group.turn:
                try:
                    yield group.connection, group.state
                except exc.SQLAlchemyError as error:
                    group.failure = group.failure or error  # the transaction is suspect
                    raise
            succeeded = True
        finally:
            self._leave(group, leader)
        if succeeded and group.failure is not None:
            raise GroupFailed() from group.failure

    def _leave(self, group: _Group, leader: bool) -> None:
        with self._mutex:
            group.left += 1
            if leader and self._open is group:
                self._open = None  # later arrivals open the next group
            last = self._open is not group and group.left == group.members
        if last:
            group.end()
        group.ended.wait()


class GroupFailed(exc.SQLAlchemyError):
    """The shared transaction this member was in failed (see ``__cause__``): rolled back,
    so nothing this member wrote was kept."""

    def __init__(self):
        super().__init__("the group's transaction failed and was rolled back")


class _Group:
    """One shared transaction: its connection, its members, and how it ended."""

    def __init__(self):
        self.members = self.left = 0
        self.connection = self.transaction = self.state = None
        self.failure: BaseException | None = None
        self.ready = threading.Event()  # connected and begun (or failed to)
        self.ended = threading.Event()  # committed or rolled back
        self.turn = threading.Lock()  # one member's statements at a time

    def open(self, engine, begin: Callable) -> None:
        try:
            self.connection = engine.connect()
            self.transaction = self.connection.begin()
            self.state = begin(self.connection)
        except BaseException as error:
            self.failure = error
        finally:
            self.ready.set()

    def end(self) -> None:
        try:
            if self.transaction is not None and self.failure is None:
                try:
                    self.transaction.commit()
                except exc.SQLAlchemyError as error:
                    self.failure = error
            elif self.transaction is not None:
                with suppress(exc.SQLAlchemyError):
                    self.transaction.rollback()
        finally:
            if self.connection is not None:
                with suppress(exc.SQLAlchemyError):
                    self.connection.close()
            self.ended.set()


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


#: Execution options for a statement whose result no one reads (only its error, if any):
#: in a pipelined transaction the next statement is sent without waiting for it, and its
#: result (its error raised, if any) comes back with the next one waited for, or with the
#: COMMIT, which the server skips after an error. Ignored everywhere else.
DEFERRED = {"sayso_deferred": True}
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
    statement waits for the server only when its result is needed: ``DEFERRED`` ones
    travel with the next statement, or with the ``COMMIT``.

    Nothing else changes: psycopg still sends its ``BEGIN`` (with a round trip of its own)
    and its ``COMMIT`` (as durable as any other), every statement still passes through
    SQLAlchemy, and the server runs them in order, each one after the one before has
    finished. Commit and rollback, the pool's reset-on-return included, leave pipeline
    mode (``pipeline_transactions``), at the cost of one more round trip.

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
    """Let ``begin_pipelined`` transactions run on ``engine`` (psycopg): a statement's
    result is waited for unless it is ``DEFERRED`` (SQLAlchemy reads the cursor right
    after ``execute``), and commit and rollback leave pipeline mode, so the connection goes
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
        if held is not None and not context.execution_options.get("sayso_deferred"):
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


def _dbapi(connection):
    """The sqlite3 connection behind a pool proxy (or itself)."""
    return getattr(connection, "dbapi_connection", None) or connection


def configure_engine(engine) -> None:
    """SQLite: durable WAL, foreign keys, and ``BEGIN IMMEDIATE`` for every transaction
    but a ``read_only`` or ``one_write`` one. PostgreSQL: pings for idle connections, and
    pipelined transactions (see each). Both: ``read_only`` and ``one_write`` enforced.

    pysqlite opens transactions lazily and as DEFERRED; a deferred transaction that reads
    the ledger head and then writes can lose the race to another writer. Starting every
    transaction IMMEDIATE takes the write lock up front, which is what serializes ledger
    appends on SQLite (PostgreSQL uses an advisory lock instead, see services/ledger.py);
    a :class:`WriterQueue` in front of it hands the lock over without SQLite's sleeps.
    """
    enforce_transaction_modes(engine)
    if engine.dialect.name != "sqlite":
        ping_idle_connections(engine)
        pipeline_transactions(engine)
        return

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
        if _READ_ONLY.get():
            connection.info[_NO_BEGIN] = True  # see read_only
            return
        connection.info.pop(_NO_BEGIN, None)
        if _WRITES in connection.info:
            return  # one_write: autocommit, the queue taken for the write (below)
        if queue is not None:
            queue.acquire(_dbapi(connection.connection))
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    @event.listens_for(engine, "checkin")
    def _forget_read_only(_dbapi_connection, record):
        record.info.pop(_NO_BEGIN, None)
        record.info.pop(_WRITES, None)

    if queue is None:
        return

    @event.listens_for(engine, "before_cursor_execute")
    def _queue_for_the_one_write(conn, _cursor, statement, _parameters, _context, _many):
        if _WRITES in conn.info and _writes(statement):
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
