"""Transaction modes: what a transaction may write, decided when it begins and enforced on
every statement, on both databases.

A mode is asked for around code (``read_only()``, ``one_write()``, ``writing_anyway()``);
the transaction that begins inside takes it, as a :class:`Transaction` kept on its
connection until it ends. The backends read that object (``sqlite.py``: no ``BEGIN
IMMEDIATE`` for a read-only or one-write transaction); nothing else carries the mode.
"""

from __future__ import annotations

import enum
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

from sqlalchemy import event


class Mode(enum.Enum):
    """What a transaction may write."""

    #: Anything.
    ORDINARY = "ordinary"
    #: Nothing: any statement other than a SELECT raises :class:`WriteRefused`.
    READ_ONLY = "read only"
    #: One statement, atomic by itself: a second write raises :class:`WriteRefused`.
    ONE_WRITE = "one write"


class WriteRefused(RuntimeError):
    """A statement that is not a SELECT in a ``read_only`` transaction, or a second one in a
    ``one_write`` transaction."""


@dataclass
class Transaction:
    """The mode of the transaction open on a connection, and its writes so far."""

    mode: Mode
    writes: int = 0


#: The mode asked for by the code running now (the innermost block).
_ASKED: ContextVar[Mode] = ContextVar("sayso_transaction_mode", default=Mode.ORDINARY)
#: Connection.info key of the open transaction's :class:`Transaction`.
_TRANSACTION = "sayso_transaction"


@contextmanager
def _asking(mode: Mode) -> Iterator[None]:
    token = _ASKED.set(mode)
    try:
        yield
    finally:
        _ASKED.reset(token)


def read_only() -> AbstractContextManager[None]:
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
    return _asking(Mode.READ_ONLY)


def writing_anyway() -> AbstractContextManager[None]:
    """Leave :func:`read_only` for what is inside: for the rare write a safe request must
    make (revoking a token it found exposed in the URL), in a session of its own. Each use
    says why; anything else a GET writes is still refused."""
    return _asking(Mode.ORDINARY)


def one_write() -> AbstractContextManager[None]:
    """Begin a transaction whose one write is a single statement, atomic by itself.

    On SQLite such a transaction sends no ``BEGIN IMMEDIATE``: its reads take no lock (as
    in ``read_only``), and its write waits in the writer queue (``sqlite.WriterQueue``),
    then commits on its own (SQLite's autocommit mode), so the write lock is held for that
    statement instead of the whole request. A second write would commit separately from
    the first, so on both databases it raises :class:`WriteRefused`; PostgreSQL's
    transaction is otherwise an ordinary one. Decided when the transaction begins (inside
    the block), it lasts until the transaction ends. Inside ``read_only`` it stays read-only.
    """
    return _asking(Mode.READ_ONLY if _ASKED.get() is Mode.READ_ONLY else Mode.ONE_WRITE)


def transaction_mode(connection) -> Mode:
    """The mode of the transaction open on ``connection`` (ordinary if none was recorded)."""
    transaction = connection.info.get(_TRANSACTION)
    return Mode.ORDINARY if transaction is None else transaction.mode


def writes(statement: str) -> bool:
    """Whether ``statement`` may write: anything but a SELECT."""
    return statement.lstrip()[:6].upper() != "SELECT"


def enforce(engine) -> None:
    """Give each transaction on ``engine`` the mode asked for when it begins, and refuse
    the statements that mode forbids: a check of each statement's first word."""

    @event.listens_for(engine, "begin")
    def _begin(connection):
        connection.info[_TRANSACTION] = Transaction(_ASKED.get())

    @event.listens_for(engine, "before_cursor_execute")
    def _refuse(conn, _cursor, statement, _parameters, _context, _executemany):
        # Looked at only in a transaction of either mode: an ordinary one (every brand's
        # read) pays two lookups per statement, no more.
        transaction = conn.info.get(_TRANSACTION)
        mode = Mode.ORDINARY if transaction is None else transaction.mode
        if _ASKED.get() is Mode.READ_ONLY or mode is Mode.READ_ONLY:
            if writes(statement):
                raise WriteRefused(f"a read-only transaction cannot run {statement[:40]!r}")
        elif mode is Mode.ONE_WRITE and writes(statement):
            if transaction.writes:
                raise WriteRefused(f"a one_write transaction cannot also run {statement[:40]!r}")
            transaction.writes = 1

    @event.listens_for(engine, "checkin")
    def _forget(_dbapi_connection, record):
        record.info.pop(_TRANSACTION, None)
