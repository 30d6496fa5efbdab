"""The database engine: per-backend options, and how transactions behave on each backend.

One module per concern: ``modes`` (what a transaction may write, enforced on both
databases), ``sqlite`` (WAL, ``BEGIN IMMEDIATE``, the writer queue), ``postgresql`` (idle
pings, pipelined transactions), ``group_commit`` (profile reads sharing one commit).
"""

from __future__ import annotations

from sayso.db import postgresql, sqlite
from sayso.db.group_commit import GroupCommit, GroupFailed
from sayso.db.modes import Mode, WriteRefused, enforce, one_write, read_only, writing_anyway
from sayso.db.postgresql import begin_pipelined

__all__ = [
    "GroupCommit",
    "GroupFailed",
    "Mode",
    "WriteRefused",
    "begin_pipelined",
    "configure_engine",
    "engine_options",
    "normalize_url",
    "one_write",
    "read_only",
    "writing_anyway",
]


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
        return {"connect_args": {"timeout": sqlite.BUSY_TIMEOUT_SECONDS}, "hide_parameters": True}
    # No ``pool_pre_ping``: it costs a round trip on every checkout, i.e. every request.
    # ``postgresql.ping_idle_connections`` pings only a connection that has sat idle.
    return {"pool_recycle": 1800, "hide_parameters": True}


def configure_engine(engine) -> None:
    """Transaction modes on both databases (first: the backends read the mode it records),
    then what the engine's backend needs."""
    enforce(engine)
    if engine.dialect.name == "sqlite":
        sqlite.configure(engine)
    else:
        postgresql.configure(engine)
