"""Filling a benchmark database quickly: filler consumers and grants made by the database
itself (one ``INSERT ... SELECT`` over a generated series), ledger events in Core batches,
queued and then integrated into the log by the real sequencer.

Filler rows are never read by the scenarios; they are there so that indexes, pages and
plans are those of a database of the stated size.
"""

from __future__ import annotations

from datetime import UTC, datetime

from flask import current_app
from sqlalchemy import func, select, text

# The tests' helper makes the same valid events the benchmark needs.
from tests.ledger_helpers import insert_events

from sayso.ledger.sequencer import Sequencer

FILLER_PREFIX = "bench"
PSEUDONYM_WIDTH = 32 - len(FILLER_PREFIX)


def _pseudonym(i: int) -> str:
    return f"{FILLER_PREFIX}{i:0{PSEUDONYM_WIDTH}d}"


def _now(dialect: str):
    now = datetime.now(UTC).replace(tzinfo=None)
    return now.strftime("%Y-%m-%d %H:%M:%S.%f") if dialect == "sqlite" else now


def filler_brands(session, count: int) -> None:
    """``count`` brands for filler grants (``br_bench…``), if not there yet."""
    dialect = session.get_bind().dialect.name
    for i in range(count):
        session.execute(
            text("INSERT INTO brands (public_id, name, created_at) VALUES (:p, :n, :now)"),
            {"p": f"br_bench{i:04d}", "n": f"Filler brand {i}", "now": _now(dialect)},
        )
    session.commit()


def filler_consumers(session, start: int, stop: int, grants_each: int) -> None:
    """Consumers ``start``..``stop - 1`` (by number), each with ``grants_each`` live grants."""
    if stop <= start:
        return
    dialect = session.get_bind().dialect.name
    params = {"start": start, "stop": stop - 1, "now": _now(dialect)}
    if dialect == "sqlite":
        session.execute(
            text(
                "WITH RECURSIVE s(i) AS (SELECT :start UNION ALL SELECT i + 1 FROM s "  # noqa: S608
                "WHERE i < :stop) "
                "INSERT INTO accounts (role, pseudonym, session_epoch, failed_logins, created_at) "
                f"SELECT 'consumer', '{FILLER_PREFIX}' || printf('%0{PSEUDONYM_WIDTH}d', i), "
                "0, 0, :now FROM s"
            ),
            params,
        )
    else:
        session.execute(
            text(
                "INSERT INTO accounts (role, pseudonym, session_epoch, failed_logins, created_at) "  # noqa: S608
                f"SELECT 'consumer', '{FILLER_PREFIX}' || lpad(i::text, {PSEUDONYM_WIDTH}, '0'), "
                "0, 0, :now FROM generate_series(CAST(:start AS integer), CAST(:stop AS integer)) "
                "AS i"
            ),
            params,
        )
    session.execute(
        text(
            "INSERT INTO grants (account_id, brand_id, field, purpose, granted_at) "
            "SELECT a.id, b.id, 'interests', 'bench filler', :now FROM accounts a "
            "CROSS JOIN (SELECT id FROM brands WHERE public_id LIKE 'br_bench%' "
            "ORDER BY id LIMIT :each) b "
            "WHERE a.pseudonym BETWEEN :low AND :high"
        ),
        {
            "now": params["now"],
            "each": grants_each,
            "low": _pseudonym(start),
            "high": _pseudonym(stop - 1),
        },
    )
    session.commit()
    if dialect == "postgresql":
        session.execute(text("ANALYZE"))
        session.commit()


def queue_events(session, count: int, start: int = 0) -> None:
    """Write ``count`` valid events, queued for the tree as appends leave them (the tests'
    own ``insert_events``, Core batches), and commit."""
    insert_events(session, count, start=start)
    session.commit()


def integrate_with_checkpoints(session, every: int) -> int:
    """Integrate what is queued ``every`` entries at a time, with a signed checkpoint after
    each batch, as the sequencer leaves a log that took about ``every`` entries a second
    (one checkpoint a round): ``verify`` then checks as many checkpoints as it would on a
    real log of that size. How many were integrated."""
    sequencer = Sequencer(session, current_app.extensions["sayso_ledger_key"], batch=every)
    total = 0
    while done := sequencer.integrate():
        total += done
        sequencer.checkpoint()
    return total


def count_rows(session, model) -> int:
    """How many rows a table holds."""
    return session.scalar(select(func.count()).select_from(model))
