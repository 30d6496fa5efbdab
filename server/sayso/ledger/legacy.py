"""The hash chain that came before the log (canonical version 1), as carried over.

Before migration 0009 each event was chained to the one before: ``hash = SHA-256(
prev_hash ‖ canonical)`` from a genesis of 64 zeros. Those events keep their bytes and chain
columns; they are the log's first leaves, and the ``ledger:log:carried_over`` entry after
them names the chain's length and head. ``chain_problem`` checks the chain against it.
"""

from __future__ import annotations

import hashlib
import json

from sqlalchemy import select

from sayso.ledger.events import EventType
from sayso.models import AuditEvent

GENESIS_HASH = "0" * 64
_EVENTS = AuditEvent.__table__


def chain_hash(prev_hash: str, canonical: bytes) -> str:
    """The hash of a chain row, given the previous row's hash and its canonical bytes."""
    return hashlib.sha256(bytes.fromhex(prev_hash) + canonical).hexdigest()


def chain_problem(session) -> str | None:
    """What is wrong with the carried-over chain, or ``None`` (also when there is none)."""
    anchor = session.execute(
        select(_EVENTS.c.canonical).where(_EVENTS.c.type == str(EventType.LOG_CARRIED_OVER))
    ).all()
    rows = session.execute(
        select(_EVENTS.c.seq, _EVENTS.c.prev_hash, _EVENTS.c.hash, _EVENTS.c.canonical)
        .where(_EVENTS.c.prev_hash.is_not(None))
        .order_by(_EVENTS.c.seq)
        .execution_options(yield_per=5000)
    )
    expected_seq, prev = 1, GENESIS_HASH
    try:
        for seq, prev_hash, row_hash, canonical in rows:
            if seq != expected_seq:
                return f"the carried-over chain is missing event {expected_seq}"
            if prev_hash != prev or chain_hash(prev_hash, bytes(canonical)) != row_hash:
                return f"the carried-over chain is broken at event {seq}"
            expected_seq, prev = seq + 1, row_hash
    finally:
        rows.close()  # now, not when collected: on PostgreSQL it is a server-side cursor
    count = expected_seq - 1
    if not anchor:
        return None if count == 0 else "chain events are present but no carried-over entry"
    if len(anchor) > 1:
        return "the log has more than one carried-over entry"
    said = json.loads(anchor[0].canonical)["details"]
    if said.get("events") != count or said.get("head_hash") != (prev if count else None):
        return (
            f"the carried-over entry names {said.get('events')} chain events ending in "
            f"{said.get('head_hash')}; the table holds {count} ending in {prev}"
        )
    return None
