"""The append-only audit log: a hash chain of events (owned by the ledger service)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Index, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from sayso.extensions import db
from sayso.models._types import UTCDateTime

#: The columns that only repeat what ``canonical`` says, so events can be searched. The
#: database keeps them equal to it (see ``SQLITE_TABLE`` and ``POSTGRESQL_CHECK``): SQLite
#: computes them from ``canonical`` when read, PostgreSQL refuses a row where they differ.
DERIVED_COLUMNS = (
    "occurred_at",
    "type",
    "actor",
    "subject",
    "brand",
    "fields",
    "purpose",
    "details",
)


def _from_canonical(key: str) -> str:
    return f"json_extract(CAST(canonical AS TEXT), '$.{key}')"


#: The table on SQLite, exactly as created (``sayso audit verify`` compares it with what
#: SQLite stored): each derived column is a virtual generated column, computed from
#: ``canonical`` whenever it is read, so it holds no copy that could be edited apart; ``seq``,
#: the primary key, is checked against ``canonical`` on every write.
SQLITE_TABLE = f"""CREATE TABLE audit_events (
    seq INTEGER NOT NULL CHECK (seq = {_from_canonical("seq")}),
    canonical BLOB NOT NULL,
    prev_hash VARCHAR(64) NOT NULL,
    hash VARCHAR(64) NOT NULL,
    occurred_at DATETIME GENERATED ALWAYS AS (replace(rtrim({_from_canonical("occurred_at")}, 'Z'), 'T', ' ')) VIRTUAL,
    type VARCHAR(64) GENERATED ALWAYS AS ({_from_canonical("type")}) VIRTUAL,
    actor VARCHAR(96) GENERATED ALWAYS AS ({_from_canonical("actor")}) VIRTUAL,
    subject VARCHAR(64) GENERATED ALWAYS AS ({_from_canonical("subject")}) VIRTUAL,
    brand VARCHAR(64) GENERATED ALWAYS AS ({_from_canonical("brand")}) VIRTUAL,
    fields TEXT GENERATED ALWAYS AS ({_from_canonical("fields")}) VIRTUAL,
    purpose TEXT GENERATED ALWAYS AS ({_from_canonical("purpose")}) VIRTUAL,
    details TEXT GENERATED ALWAYS AS ({_from_canonical("details")}) VIRTUAL,
    CONSTRAINT pk_audit_events PRIMARY KEY (seq),
    CONSTRAINT uq_audit_events_hash UNIQUE (hash)
)"""  # noqa: E501  (one column per line reads best)

#: The constraint that holds PostgreSQL's stored columns to ``canonical`` (PostgreSQL 15 has
#: no virtual columns, and ``convert_from`` is not immutable enough for a generated one):
#: checked on every insert and update, and by ``sayso audit verify`` to exist, validated,
#: with this very definition (as PostgreSQL prints it back).
POSTGRESQL_CHECK_NAME = "ck_audit_events_columns_are_canonical"
POSTGRESQL_CHECK = (
    "CHECK (((convert_from(canonical, 'UTF8'::name))::jsonb = jsonb_build_object("
    "'actor', actor, 'brand', brand, 'details', (details)::jsonb, 'fields', (fields)::jsonb, "
    "'occurred_at', to_char(occurred_at, 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'::text), "
    "'purpose', purpose, 'seq', seq, 'subject', subject, 'type', type, 'v', 1)))"
)

#: PostgreSQL's columns and their types, in order, as ``format_type`` writes them: the ones
#: ``POSTGRESQL_CHECK`` was written for (a column retyped could compare differently).
POSTGRESQL_COLUMNS = (
    "seq bigint, occurred_at timestamp without time zone, type character varying(64), "
    "actor character varying(96), subject character varying(64), "
    "brand character varying(64), fields text, purpose text, details text, "
    "canonical bytea, prev_hash character varying(64), hash character varying(64)"
)
#: 64-bit on PostgreSQL; SQLite's INTEGER already is, and must stay INTEGER to be the rowid.
_SEQ = BigInteger().with_variant(Integer(), "sqlite")


class AuditEvent(db.Model):
    """One ledger row. ``canonical`` is the exact byte string that ``hash`` covers.

    The ``DERIVED_COLUMNS`` repeat what ``canonical`` says so events can be searched, and the
    database keeps them equal to it. No row ever holds a disclosed value.
    """

    __tablename__ = "audit_events"
    __table_args__ = (
        Index("ix_audit_events_type_seq", "type", "seq"),
        Index("ix_audit_events_subject_seq", "subject", "seq"),
        Index("ix_audit_events_brand_seq", "brand", "seq"),
        Index("ix_audit_events_occurred_at", "occurred_at"),
    )

    seq: Mapped[int] = mapped_column(_SEQ, primary_key=True, autoincrement=False)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime)
    type: Mapped[str] = mapped_column(String(64))
    actor: Mapped[str] = mapped_column(String(96))
    subject: Mapped[str | None] = mapped_column(String(64))
    brand: Mapped[str | None] = mapped_column(String(64))
    fields: Mapped[str] = mapped_column(Text)
    purpose: Mapped[str | None] = mapped_column(Text)
    details: Mapped[str] = mapped_column(Text)
    canonical: Mapped[bytes] = mapped_column(LargeBinary)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)


class LedgerCheckpoint(db.Model):
    """A signed statement that the chain's head at ``seq`` had ``hash`` (Ed25519)."""

    __tablename__ = "ledger_checkpoints"

    seq: Mapped[int] = mapped_column(_SEQ, primary_key=True, autoincrement=False)
    hash: Mapped[str] = mapped_column(String(64))
    signed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    key_id: Mapped[str] = mapped_column(String(32))
    signature: Mapped[str] = mapped_column(String(128))
