"""What the durable-outbox workers share (``mail_delivery.py``, ``webhook_delivery.py``):
the run loop that outlives database faults, the round that claims, sends and records one
item at a time, and the backoff schedules with jitter. Each dispatcher keeps only what
differs: how an item is claimed, sent and recorded, and its own retry constants."""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from sqlalchemy import select

from sayso.faults import DATABASE_ERRORS, is_transient
from sayso.shared.clock import utcnow

log = logging.getLogger(__name__)

#: How long a worker waits after a database error before it tries again: doubling from the
#: first wait up to the cap while the errors go on, each +/- the worker's jitter.
FAULT_BACKOFF_FIRST_SECONDS = 0.5
FAULT_BACKOFF_CAP_SECONDS = 30.0


def jittered(rng: random.Random, value, jitter: float):
    """``value`` (seconds or a ``timedelta``) made up to ``jitter`` longer or shorter."""
    return value * (1 + rng.uniform(-jitter, jitter))


def retry_backoff(
    rng: random.Random, attempts: int, base: timedelta, cap: timedelta, jitter: float
) -> timedelta:
    """``base * 2 ** (attempts - 1)``, at most ``cap``, with jitter: the wait after the
    ``attempts``-th failed attempt."""
    return jittered(rng, min(base * 2 ** (attempts - 1), cap), jitter)


def fault_backoff(rng: random.Random, failures: int, jitter: float) -> float:
    """Seconds to wait after the ``failures``-th database error in a row (with jitter)."""
    delay = min(FAULT_BACKOFF_FIRST_SECONDS * 2 ** (failures - 1), FAULT_BACKOFF_CAP_SECONDS)
    return jittered(rng, delay, jitter)


def run(
    name: str,
    logger: logging.Logger,
    session,
    deliver_due: Callable[..., Any],
    wait_after_fault: Callable[[int], float],
    stop,
    *,
    limit: int,
    interval: float,
    report=None,
) -> None:
    """Rounds of ``deliver_due(limit, stop=stop)`` until ``stop.is_set()``, waiting
    ``interval`` seconds when nothing more is due, and passing each round's summary (which
    has a ``total``) to ``report``.

    Problems are logged on ``logger`` (the worker's own) as ``"<name> worker: ..."``.
    A database error (a connection cut, the server restarting, a lock not free) ends the
    round, not the worker: it waits (``wait_after_fault(failures)``, longer while errors go
    on) and starts the next round, on a new connection if the old one died. What the failed
    round had not recorded stays pending and is sent in a later round.
    """
    failures = 0
    while not stop.is_set():
        try:
            summary = deliver_due(limit, stop=stop)
        except DATABASE_ERRORS as error:
            failures += 1
            forget_transaction(session)
            delay = wait_after_fault(failures)
            if is_transient(error):
                logger.warning(
                    "%s worker: database unavailable (%s); again in %.1f s",
                    name,
                    first_line(error),
                    delay,
                )
            else:
                logger.exception("%s worker: database error; again in %.1f s", name, delay)
            stop.wait(delay)
            continue
        failures = 0
        if summary.total and report is not None:
            report(str(summary))
        if summary.total < limit:  # a full round means more may be waiting
            stop.wait(interval)


def deliver_round(
    summary, limit: int, stop, claim: Callable[[], Any], handle: Callable[[Any], Any]
):
    """Up to ``limit`` times: ``claim()`` the next due item (``None``: nothing is due) and
    ``handle`` it (send and record); the name of the count it returns is added to on
    ``summary``. Stops early once ``stop.is_set()``."""
    for _ in range(limit):
        if stop is not None and stop.is_set():
            break
        claimed = claim()
        if claimed is None:
            break
        result = handle(claimed)
        if result is not None:
            setattr(summary, result, getattr(summary, result) + 1)
    return summary


def claim_next(session, model, lease: timedelta, take: Callable[[Any], Any]):
    """Take the next due ``pending`` row of ``model`` out of other workers' reach, copy out
    what sending it needs (``take(row)``), and commit; ``None`` when nothing is due.

    On PostgreSQL ``FOR UPDATE SKIP LOCKED`` lets concurrent workers claim different rows
    without waiting on each other; SQLite renders no ``FOR UPDATE`` and serializes the claim
    with its ``BEGIN IMMEDIATE`` write lock instead. The claim moves ``next_attempt_at`` a
    ``lease`` ahead, so no other worker picks the row while this one sends it; if the worker
    dies mid-send, the row becomes due again after that (delivery is at-least-once).
    """
    now = utcnow()
    try:
        row = session.scalars(
            select(model)
            .where(model.status == "pending", model.next_attempt_at <= now)
            .order_by(model.next_attempt_at, model.id)
            .limit(1)
            .with_for_update(skip_locked=True)
        ).first()
        if row is None:
            session.rollback()  # don't sit in an open transaction between rounds
            return None
        job = take(row)
        row.next_attempt_at = now + lease
        session.commit()
    except Exception:
        session.rollback()
        raise
    return job


def record_attempt(session, model, row_id: int, write: Callable[[Any, Any], Any]):
    """Lock the row again and ``write(row, now)`` how the attempt went, then commit; returns
    what ``write`` returns, or ``None`` when the row is gone or no longer pending (another
    worker took it over after the lease ran out and has already finished it)."""
    now = utcnow()
    try:
        row = session.get(model, row_id, populate_existing=True, with_for_update=True)
        if row is None or row.status != "pending":
            session.rollback()
            return None
        written = write(row, now)
        session.commit()
    except Exception:
        session.rollback()
        raise
    return written


def forget_transaction(session) -> None:
    """Roll back after a database error: the session's transaction is over; a dead
    connection is discarded by the pool, and the next statement gets a new one."""
    try:
        session.rollback()
    except DATABASE_ERRORS:
        log.debug("rollback after a database error failed too", exc_info=True)


def first_line(error: BaseException) -> str:
    """The first line of an error's message (a driver's may run to several)."""
    return (str(error).splitlines() or [type(error).__name__])[0]
