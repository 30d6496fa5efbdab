"""Database faults that pass: a connection cut, the server restarting, a lock not free.

A request that meets one has written nothing (its transaction is rolled back, so a change
and its ledger event are both gone), and the same request a moment later may well
succeed: the pool replaces a dead connection by itself. So such a fault is answered
``503 unavailable`` with ``Retry-After`` (see ``errors.py``), and the webhook worker waits
and goes on, instead of a ``500`` or an exit. Anything else (a bug, a constraint, a
missing table) is not transient and is reported as what it is.
"""

from __future__ import annotations

import sqlite3

import psycopg
from sqlalchemy import exc

#: What ``Retry-After`` says, in seconds: long enough for the pool to reconnect.
RETRY_AFTER_SECONDS = 1

#: Every error a database (or its driver, raising past SQLAlchemy) may raise.
DATABASE_ERRORS = (exc.SQLAlchemyError, psycopg.Error, sqlite3.Error)

#: SQLite's words for a lock another connection holds (its busy timeout ran out).
_SQLITE_BUSY = ("database is locked", "database table is locked", "database is busy")


def is_transient(error: BaseException | None) -> bool:
    """Whether ``error``, or an error it was raised from or while handling, is a database
    fault that passes (see the module's docstring)."""
    seen: set[int] = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        if _transient_itself(error):
            return True
        error = error.__cause__ or error.__context__
    return False


def _transient_itself(error: BaseException) -> bool:
    if isinstance(error, exc.DBAPIError) and error.connection_invalidated:
        return True  # SQLAlchemy saw the connection die; the pool replaces it
    if isinstance(error, exc.StatementError):
        error = error.orig  # what the driver (or an engine event) raised
    elif isinstance(error, exc.DisconnectionError | exc.TimeoutError):
        return True  # no live connection to be had, or none free in time
    if isinstance(error, psycopg.OperationalError):
        # A connection terminated or lost, the server shutting down, a serialization
        # failure or deadlock, a statement cancelled: psycopg's OperationalError family.
        return True
    if isinstance(error, sqlite3.OperationalError):
        return any(words in str(error) for words in _SQLITE_BUSY)
    return False
