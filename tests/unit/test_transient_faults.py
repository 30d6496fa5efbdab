"""Which database errors pass (answered 503, waited out by the webhook worker) and which
are reported as what they are."""

from __future__ import annotations

import sqlite3

import psycopg
import pytest
from sqlalchemy import exc

from sayso.db import GroupFailed
from sayso.faults import is_transient


def _wrapped(orig: Exception, invalidated: bool = False) -> exc.DBAPIError:
    """The error as SQLAlchemy raises it for the driver's ``orig``."""
    driver_error = sqlite3.Error if isinstance(orig, sqlite3.Error) else psycopg.Error
    return exc.DBAPIError.instance(
        "SELECT 1", {}, orig, driver_error, connection_invalidated=invalidated
    )


def _raised_from(cause: BaseException, error: BaseException) -> BaseException:
    try:
        raise error from cause
    except type(error) as raised:
        return raised


@pytest.mark.parametrize(
    "error",
    [
        _wrapped(psycopg.errors.AdminShutdown("terminating connection")),
        _wrapped(psycopg.OperationalError("server closed the connection unexpectedly")),
        _wrapped(psycopg.errors.SerializationFailure("could not serialize access")),
        _wrapped(psycopg.errors.DeadlockDetected("deadlock detected")),
        _wrapped(psycopg.InterfaceError("the connection is lost"), invalidated=True),
        psycopg.OperationalError("consuming input failed"),  # raised past SQLAlchemy
        _wrapped(sqlite3.OperationalError("database is locked")),
        sqlite3.OperationalError("database is locked"),  # the writer queue's own
        exc.TimeoutError("QueuePool limit of size 5 overflow 10 reached"),
        exc.DisconnectionError("connection invalidated"),
        _raised_from(_wrapped(psycopg.errors.AdminShutdown("terminating")), GroupFailed()),
    ],
    ids=lambda e: f"{type(e).__name__}: {str(e).splitlines()[0][:40]}",
)
def test_faults_that_pass(error):
    assert is_transient(error)


@pytest.mark.parametrize(
    "error",
    [
        _wrapped(sqlite3.OperationalError("no such table: grants")),
        _wrapped(sqlite3.OperationalError("attempt to write a readonly database")),
        _wrapped(psycopg.errors.UniqueViolation("duplicate key")),
        _wrapped(psycopg.errors.UndefinedTable("relation does not exist")),
        _wrapped(psycopg.InterfaceError("cursor already closed")),
        exc.IntegrityError("INSERT", {}, sqlite3.IntegrityError("UNIQUE constraint failed")),
        RuntimeError("a bug"),
        None,
    ],
    ids=lambda e: f"{type(e).__name__}: {str(e).splitlines()[0][:40]}",
)
def test_errors_that_do_not(error):
    assert not is_transient(error)
