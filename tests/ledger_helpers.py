"""Making many ledger events quickly, for tests that need a long chain."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from sqlalchemy import insert, select, update

from sayso.extensions import db
from sayso.models import AuditEvent, LedgerCheckpoint
from sayso.services.ledger import (
    GENESIS_HASH,
    canonical_bytes,
    chain_hash,
    checkpoint_message,
    stored_values,
)


def bulk_chain(app, count: int, start_seq: int = 1, prev_hash: str = GENESIS_HASH, batch=5000):
    """Append ``count`` valid events straight into the table (bulk inserts, valid hashes),
    with the checkpoints the app's ledger would have signed on the way (see insert_chain)."""
    with app.app_context():
        prev_hash = insert_chain(db.session, count, start_seq, prev_hash, batch, signer(app))
        db.session.commit()
    return prev_hash


def signer(app):
    """``(key, interval)``: how the app's ledger signs checkpoints as events are appended."""
    return app.extensions["sayso_ledger_key"], app.config["LEDGER_CHECKPOINT_INTERVAL"]


def insert_chain(
    session, count: int, start_seq: int, prev_hash: str, batch: int = 5000, signing=None
) -> str:
    """Insert ``count`` valid events from ``start_seq`` on, chained after ``prev_hash``, in
    Core batches on the session's connection (no ORM bookkeeping for rows never loaded);
    the caller commits. Returns the last hash. The benchmark seeds its ledger with this.

    ``signing`` (``signer(app)``) signs a checkpoint at every multiple of the interval, as
    ``Ledger.append`` does: ``verify`` reports a longer stretch without one."""
    base = datetime(2026, 1, 1, tzinfo=UTC)
    connection = session.connection()
    key, every = signing or (None, None)
    checkpoints = []
    rows = []
    for seq in range(start_seq, start_seq + count):
        moment = base + timedelta(seconds=seq)
        brand = f"br_{seq % 7:016x}"
        fields = ["interests"] if seq % 2 else ["channels", "interests"]
        type_ = "api:profile:read" if seq % 3 else "consent:grant:created"
        subject = f"{seq % 100:032x}"
        canonical = canonical_bytes(seq, moment, type_, "system", subject, brand, fields, None, {})
        digest = chain_hash(prev_hash, canonical)
        row = {
            "seq": seq,
            "occurred_at": moment,
            "type": type_,
            "actor": "system",
            "subject": subject,
            "brand": brand,
            "fields": '["' + '","'.join(fields) + '"]',
            "purpose": None,
            "details": "{}",
            "canonical": canonical,
            "prev_hash": prev_hash,
            "hash": digest,
        }
        rows.append(stored_values(row, connection.dialect))
        prev_hash = digest
        if key is not None and seq % every == 0:
            signed_at = base + timedelta(seconds=seq)
            message = checkpoint_message(seq, digest, signed_at, key.key_id)
            checkpoints.append(
                {
                    "seq": seq,
                    "hash": digest,
                    "signed_at": signed_at,
                    "key_id": key.key_id,
                    "signature": key.sign(message),
                }
            )
        if len(rows) == batch:
            connection.execute(insert(AuditEvent.__table__), rows)
            rows = []
    if rows:
        connection.execute(insert(AuditEvent.__table__), rows)
    if checkpoints:
        connection.execute(insert(LedgerCheckpoint.__table__), checkpoints)
    return prev_hash


def rewrite_event(session, seq: int, *, rehash: bool = False, **changes) -> None:
    """Edit event ``seq`` as someone who can write to the database could: its canonical
    bytes say ``changes`` (``actor="x"``, ``details={...}``, ``occurred_at=datetime``...) and,
    where the database stores the searchable columns (PostgreSQL holds them to canonical),
    they agree. With ``rehash`` its own hash follows, as a forger's would; the next row's
    link is left alone (see ``rechain``). The caller commits."""
    table = AuditEvent.__table__
    row = session.execute(select(table).where(table.c.seq == seq)).one()
    said = json.loads(row.canonical)
    kept = ("type", "actor", "subject", "brand", "fields", "purpose", "details")
    event = {"occurred_at": row.occurred_at, **{key: said[key] for key in kept}, **changes}
    canonical = canonical_bytes(seq, **event)
    values = {
        **event,
        "fields": json.dumps(sorted(event["fields"]), separators=(",", ":")),
        "details": json.dumps(event["details"], sort_keys=True, separators=(",", ":")),
        "canonical": canonical,
    }
    if rehash:
        values["hash"] = chain_hash(row.prev_hash, canonical)
    stored = stored_values(values, session.get_bind().dialect)
    session.execute(update(table).where(table.c.seq == seq).values(**stored))


def rechain(session, from_seq: int) -> None:
    """Recompute every link and hash from ``from_seq`` on, as a forger who rewrote a row
    would, so the chain alone looks intact. The caller commits."""
    table = AuditEvent.__table__
    rows = session.execute(
        select(table.c.seq, table.c.canonical).where(table.c.seq >= from_seq).order_by("seq")
    ).all()
    prev = session.scalar(select(table.c.hash).where(table.c.seq == from_seq - 1))
    prev = prev or GENESIS_HASH
    for seq, canonical in rows:
        digest = chain_hash(prev, canonical)
        session.execute(update(table).where(table.c.seq == seq).values(prev_hash=prev, hash=digest))
        prev = digest
