"""The ledger's tables: events, and the Merkle-tree log over them (owned by sayso.ledger).

``audit_events`` holds each event once, as the exact bytes the log commits to (``salt`` and
``canonical``), with searchable columns the database keeps equal to ``canonical``. The
sequencer takes events from ``ledger_pending`` in batches, gives each its place in the tree
(``ledger_leaves``), stores the tree's hashes as C2SP tlog-tiles (``ledger_tiles``) and signs
checkpoints (``ledger_checkpoints``) that witnesses cosign (``ledger_cosignatures``).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Identity,
    Index,
    Integer,
    LargeBinary,
    SmallInteger,
    String,
    Text,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from sayso.extensions import db
from sayso.models.types import UTCDateTime

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
#: ``canonical`` whenever it is read, so it holds no copy that could be edited apart. An
#: event carried over from the hash chain (canonical version 1) names its own ``seq`` and
#: keeps its chain columns ``prev_hash`` and ``hash``; a newer one has neither.
SQLITE_TABLE = f"""CREATE TABLE audit_events (
    seq INTEGER NOT NULL CHECK ({_from_canonical("seq")} IS NULL OR seq = {_from_canonical("seq")}),
    canonical BLOB NOT NULL,
    prev_hash VARCHAR(64),
    hash VARCHAR(64),
    salt BLOB NOT NULL CHECK (length(salt) = 16),
    occurred_at DATETIME GENERATED ALWAYS AS (replace(rtrim({_from_canonical("occurred_at")}, 'Z'), 'T', ' ')) VIRTUAL,
    type VARCHAR(64) GENERATED ALWAYS AS ({_from_canonical("type")}) VIRTUAL,
    actor VARCHAR(96) GENERATED ALWAYS AS ({_from_canonical("actor")}) VIRTUAL,
    subject VARCHAR(64) GENERATED ALWAYS AS ({_from_canonical("subject")}) VIRTUAL,
    brand VARCHAR(64) GENERATED ALWAYS AS ({_from_canonical("brand")}) VIRTUAL,
    fields TEXT GENERATED ALWAYS AS ({_from_canonical("fields")}) VIRTUAL,
    purpose TEXT GENERATED ALWAYS AS ({_from_canonical("purpose")}) VIRTUAL,
    details TEXT GENERATED ALWAYS AS ({_from_canonical("details")}) VIRTUAL,
    CONSTRAINT pk_audit_events PRIMARY KEY (seq),
    CONSTRAINT uq_audit_events_hash UNIQUE (hash),
    CONSTRAINT uq_audit_events_salt UNIQUE (salt)
)"""  # noqa: E501  (one column per line reads best)

#: SQLite queues each event for the tree as it is written (PostgreSQL does it in the
#: event's own statement, ``ledger/log.py``); ``sayso audit verify`` checks it is there.
SQLITE_QUEUE_TRIGGER = (
    "CREATE TRIGGER audit_events_queued AFTER INSERT ON audit_events "
    "BEGIN INSERT INTO ledger_pending (seq) VALUES (new.seq); END"
)

#: The constraint that holds PostgreSQL's stored columns to ``canonical`` (PostgreSQL 15 has
#: no virtual columns, and ``convert_from`` is not immutable enough for a generated one):
#: checked on every insert and update, and by ``sayso audit verify`` to exist, validated,
#: with this very definition (as PostgreSQL prints it back).
POSTGRESQL_CHECK_NAME = "ck_audit_events_columns_are_canonical"
POSTGRESQL_CHECK = (
    "CHECK (((((convert_from(canonical, 'UTF8'::name))::jsonb - ARRAY['seq'::text, 'v'::text]) "
    "= jsonb_build_object('actor', actor, 'brand', brand, 'details', (details)::jsonb, "
    "'fields', (fields)::jsonb, "
    "'occurred_at', to_char(occurred_at, 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'::text), "
    "'purpose', purpose, 'subject', subject, 'type', type)) "
    "AND (COALESCE((((convert_from(canonical, 'UTF8'::name))::jsonb ->> 'seq'::text))::bigint, "
    "seq) = seq)))"
)

#: PostgreSQL's columns and their types, in order, as ``format_type`` writes them: the ones
#: ``POSTGRESQL_CHECK`` was written for (a column retyped could compare differently).
POSTGRESQL_COLUMNS = (
    "seq bigint, occurred_at timestamp without time zone, type character varying(64), "
    "actor character varying(96), subject character varying(64), "
    "brand character varying(64), fields text, purpose text, details text, "
    "canonical bytea, prev_hash character varying(64), hash character varying(64), "
    "salt bytea"
)
#: 64-bit on PostgreSQL; SQLite's INTEGER already is, and must stay INTEGER to be the rowid.
_SEQ = BigInteger().with_variant(Integer(), "sqlite")


class AuditEvent(db.Model):
    """One event. ``salt ‖ canonical`` is the entry its leaf in the log commits to.

    ``seq`` names the row (the order events were written in, not their place in the log:
    that is ``ledger_leaves.leaf_index``). The ``DERIVED_COLUMNS`` repeat what ``canonical``
    says so events can be searched, and the database keeps them equal to it. No row ever
    holds a disclosed value.
    """

    __tablename__ = "audit_events"
    __table_args__ = (
        Index("ix_audit_events_type_seq", "type", "seq"),
        Index("ix_audit_events_subject_seq", "subject", "seq"),
        Index("ix_audit_events_brand_seq", "brand", "seq"),
        Index("ix_audit_events_occurred_at", "occurred_at"),
        # The carried-over chain's rows only (legacy.chain_problem), empty without one.
        Index(
            "ix_audit_events_chain_rows",
            "seq",
            postgresql_where=text("prev_hash IS NOT NULL"),
            sqlite_where=text("prev_hash IS NOT NULL"),
        ),
    )

    seq: Mapped[int] = mapped_column(_SEQ, Identity(), primary_key=True)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime)
    type: Mapped[str] = mapped_column(String(64))
    actor: Mapped[str] = mapped_column(String(96))
    subject: Mapped[str | None] = mapped_column(String(64))
    brand: Mapped[str | None] = mapped_column(String(64))
    fields: Mapped[str] = mapped_column(Text)
    purpose: Mapped[str | None] = mapped_column(Text)
    details: Mapped[str] = mapped_column(Text)
    canonical: Mapped[bytes] = mapped_column(LargeBinary)
    #: The hash chain's columns, kept on events carried over from it (legacy.py).
    prev_hash: Mapped[str | None] = mapped_column(String(64))
    hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    salt: Mapped[bytes] = mapped_column(LargeBinary, unique=True)


class LedgerPending(db.Model):
    """An event committed and not yet in the tree: the sequencer's queue."""

    __tablename__ = "ledger_pending"

    seq: Mapped[int] = mapped_column(_SEQ, primary_key=True, autoincrement=False)


class LedgerLeaf(db.Model):
    """An event's place in the tree."""

    __tablename__ = "ledger_leaves"

    leaf_index: Mapped[int] = mapped_column(_SEQ, primary_key=True, autoincrement=False)
    seq: Mapped[int] = mapped_column(_SEQ, unique=True)


class LedgerTile(db.Model):
    """One C2SP tlog-tile: up to 256 hashes of one level (level 0: leaf hashes), 32 bytes
    each. A tile only grows: a partial one is rewritten with more hashes, never fewer."""

    __tablename__ = "ledger_tiles"

    level: Mapped[int] = mapped_column(SmallInteger, primary_key=True, autoincrement=False)
    tile_index: Mapped[int] = mapped_column(_SEQ, primary_key=True, autoincrement=False)
    hashes: Mapped[bytes] = mapped_column(LargeBinary)


class LedgerState(db.Model):
    """The tree as integrated so far: one row, which the sequencer locks while it works."""

    __tablename__ = "ledger_state"
    __table_args__ = (CheckConstraint("id = 1", name="ck_ledger_state_one_row"),)

    id: Mapped[int] = mapped_column(SmallInteger, primary_key=True, autoincrement=False)
    size: Mapped[int] = mapped_column(_SEQ)
    root: Mapped[bytes] = mapped_column(LargeBinary)


class LedgerCheckpoint(db.Model):
    """A signed checkpoint (C2SP tlog-checkpoint in a signed note) of the tree at ``size``."""

    __tablename__ = "ledger_checkpoints"

    size: Mapped[int] = mapped_column(_SEQ, primary_key=True, autoincrement=False)
    root: Mapped[bytes] = mapped_column(LargeBinary)
    note: Mapped[str] = mapped_column(Text)
    signed_at: Mapped[datetime] = mapped_column(UTCDateTime)


class LedgerCosignature(db.Model):
    """A witness's cosignature (C2SP tlog-cosignature) on the checkpoint at ``size``."""

    __tablename__ = "ledger_cosignatures"

    size: Mapped[int] = mapped_column(_SEQ, primary_key=True, autoincrement=False)
    witness: Mapped[str] = mapped_column(String(255), primary_key=True)
    line: Mapped[str] = mapped_column(Text)
    cosigned_at: Mapped[datetime] = mapped_column(UTCDateTime)


class LedgerWitness(db.Model):
    """How a configured witness has answered lately (shown in the officer console)."""

    __tablename__ = "ledger_witnesses"

    name: Mapped[str] = mapped_column(String(255), primary_key=True)
    #: The size of the last checkpoint it cosigned (0 before the first).
    last_size: Mapped[int] = mapped_column(_SEQ, default=0)
    last_cosigned_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
