"""The append-only audit log: a hash chain of events (owned by the ledger service)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from sayso.extensions import db
from sayso.models._types import UTCDateTime


class AuditEvent(db.Model):
    """One ledger row. ``canonical`` is the exact byte string that ``hash`` covers.

    The other columns repeat what ``canonical`` says so events can be searched; verification
    checks that they agree with it. No row ever holds a disclosed value.
    """

    __tablename__ = "audit_events"
    __table_args__ = (
        Index("ix_audit_events_type_seq", "type", "seq"),
        Index("ix_audit_events_subject_seq", "subject", "seq"),
        Index("ix_audit_events_brand_seq", "brand", "seq"),
        Index("ix_audit_events_occurred_at", "occurred_at"),
    )

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime)
    type: Mapped[str] = mapped_column(String(64))
    actor: Mapped[str] = mapped_column(String(96))
    subject: Mapped[str | None] = mapped_column(String(64))
    brand: Mapped[str | None] = mapped_column(String(64))
    fields: Mapped[str] = mapped_column(Text, default="[]")
    purpose: Mapped[str | None] = mapped_column(Text)
    details: Mapped[str] = mapped_column(Text, default="{}")
    canonical: Mapped[bytes] = mapped_column(LargeBinary)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)


class LedgerCheckpoint(db.Model):
    """A signed statement that the chain's head at ``seq`` had ``hash`` (Ed25519)."""

    __tablename__ = "ledger_checkpoints"

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    hash: Mapped[str] = mapped_column(String(64))
    signed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    key_id: Mapped[str] = mapped_column(String(32))
    signature: Mapped[str] = mapped_column(String(128))
