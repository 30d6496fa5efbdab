"""Making many ledger events quickly, for tests that need a long chain."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import insert

from sayso.extensions import db
from sayso.models import AuditEvent
from sayso.services.ledger import GENESIS_HASH, canonical_bytes, chain_hash


def bulk_chain(app, count: int, start_seq: int = 1, prev_hash: str = GENESIS_HASH, batch=5000):
    """Append ``count`` valid events straight into the table (bulk inserts, valid hashes).

    Checkpoints are not made here: tests that want them call ``Ledger.checkpoint()``.
    """
    base = datetime(2026, 1, 1, tzinfo=UTC)
    rows = []
    with app.app_context():
        for i in range(count):
            seq = start_seq + i
            moment = base + timedelta(seconds=seq)
            brand = f"br_{seq % 7:016x}"
            fields = ["interests"] if seq % 2 else ["channels", "interests"]
            type_ = "api:profile:read" if seq % 3 else "consent:grant:created"
            canonical = canonical_bytes(
                seq, moment, type_, "system", f"{seq % 100:032x}", brand, fields, None, {}
            )
            digest = chain_hash(prev_hash, canonical)
            rows.append(
                {
                    "seq": seq,
                    "occurred_at": moment,
                    "type": type_,
                    "actor": "system",
                    "subject": f"{seq % 100:032x}",
                    "brand": brand,
                    "fields": '["' + '","'.join(fields) + '"]',
                    "purpose": None,
                    "details": "{}",
                    "canonical": canonical,
                    "prev_hash": prev_hash,
                    "hash": digest,
                }
            )
            prev_hash = digest
            if len(rows) == batch:
                # Core insert on the connection: no ORM bookkeeping for rows we never load.
                db.session.connection().execute(insert(AuditEvent.__table__), rows)
                rows = []
        if rows:
            db.session.connection().execute(insert(AuditEvent.__table__), rows)
        db.session.commit()
    return prev_hash
