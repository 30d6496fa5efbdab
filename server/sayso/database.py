"""Database engine setup that differs per backend."""

from __future__ import annotations

from sqlalchemy import event

SQLITE_BUSY_TIMEOUT_SECONDS = 30


def normalize_url(url: str) -> str:
    """Use psycopg 3 for PostgreSQL URLs given without a driver."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def engine_options(url: str) -> dict:
    """Per-backend engine options."""
    if url.startswith("sqlite"):
        return {"connect_args": {"timeout": SQLITE_BUSY_TIMEOUT_SECONDS}}
    return {"pool_pre_ping": True}


def configure_engine(engine) -> None:
    """SQLite: durable WAL, foreign keys, and ``BEGIN IMMEDIATE`` for every transaction.

    pysqlite opens transactions lazily and as DEFERRED; a deferred transaction that reads
    the ledger head and then writes can lose the race to another writer. Starting every
    transaction IMMEDIATE takes the write lock up front, which is what serializes ledger
    appends on SQLite (PostgreSQL uses an advisory lock instead, see services/ledger.py).
    """
    if engine.dialect.name != "sqlite":
        return

    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection, _record):
        dbapi_connection.isolation_level = None  # we issue BEGIN ourselves
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(connection):
        connection.exec_driver_sql("BEGIN IMMEDIATE")
