"""Running the ledger's sequencer from tests, making many events quickly, and tampering
with the stored log as someone holding the database (and every key) could."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from sqlalchemy import insert, select, update

from sayso.extensions import db
from sayso.ledger import Event, EventType
from sayso.ledger.encoding import canonical_bytes, dumps, new_salt
from sayso.ledger.runner import SequencerRunner
from sayso.models import AuditEvent, LedgerPending


def integrate(app) -> int:
    """One sequencer round, as the background sequencer runs it: integrate every queued
    event, sign a checkpoint if the tree grew, gather cosignatures. How many integrated."""
    with app.app_context():
        return SequencerRunner(app).tick()


def event_values(event: Event, moment: datetime, dialect) -> dict:
    """The row ``Ledger.append`` would write for ``event`` at ``moment`` (a new salt)."""
    canonical = canonical_bytes(event, moment)
    values = {"canonical": canonical, "salt": new_salt()}
    if dialect.name != "sqlite":  # PostgreSQL stores the searchable columns too
        values.update(
            occurred_at=moment,
            type=str(event.type),
            actor=event.actor,
            subject=event.subject,
            brand=event.brand,
            fields=dumps(sorted(set(event.fields))),
            purpose=event.purpose,
            details=dumps(dict(event.details)),
        )
    return values


def insert_events(session, count: int, batch: int = 5000, start: int = 0) -> None:
    """Insert ``count`` valid events, queued for the tree, in Core batches on the session's
    connection (the caller commits). The benchmark seeds its ledger with this."""
    base = datetime(2026, 1, 1, tzinfo=UTC)
    connection = session.connection()
    table = AuditEvent.__table__
    for first in range(start, start + count, batch):
        rows = []
        for n in range(first, min(first + batch, start + count)):
            event = Event(
                EventType.PROFILE_READ if n % 3 else EventType.CONSENT_GRANTED,
                actor="system",
                subject=f"{n % 100:032x}",
                brand=f"br_{n % 7:016x}",
                fields=("interests",) if n % 2 else ("channels", "interests"),
            )
            rows.append(event_values(event, base + timedelta(seconds=n), connection.dialect))
        seqs = connection.execute(insert(table).returning(table.c.seq), rows).scalars().all()
        if connection.dialect.name != "sqlite":  # SQLite's trigger queues them itself
            connection.execute(insert(LedgerPending.__table__), [{"seq": s} for s in seqs])


def bulk_events(app, count: int) -> None:
    """``count`` events written and integrated, with a checkpoint of them."""
    with app.app_context():
        insert_events(db.session, count)
        db.session.commit()
    integrate(app)


def rewrite_event(session, seq: int, **changes) -> None:
    """Edit event ``seq`` as someone who can write to the database could: its canonical
    bytes say ``changes`` (``actor="x"``, ``details={...}``) and, where the database stores
    the searchable columns (PostgreSQL holds them to canonical), they agree. The caller
    commits."""
    table = AuditEvent.__table__
    row = session.execute(select(table).where(table.c.seq == seq)).one()
    said = json.loads(row.canonical)
    said.update(changes)
    canonical = dumps(said).encode()
    values = {"canonical": canonical}
    if session.get_bind().dialect.name != "sqlite":
        values.update(
            {
                key: (dumps(value) if key in ("fields", "details") else value)
                for key, value in said.items()
                if key in ("type", "actor", "subject", "brand", "fields", "purpose", "details")
            }
        )
        values["occurred_at"] = datetime.strptime(said["occurred_at"], "%Y-%m-%dT%H:%M:%S.%fZ")
        values["occurred_at"] = values["occurred_at"].replace(tzinfo=UTC)
    session.execute(update(table).where(table.c.seq == seq).values(**values))


def log_verifies(app) -> bool:
    """Integrate what is queued, then whether the whole log verifies (in contexts of its
    own: call it outside any transaction of the caller's)."""
    from sayso.ledger.verify import LogVerifier

    integrate(app)
    with app.app_context():
        result = LogVerifier(db.session, app.extensions["sayso_ledger_key"]).verify()
        db.session.rollback()
    return result.ok
