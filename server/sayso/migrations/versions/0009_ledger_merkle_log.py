"""ledger: a Merkle-tree log (RFC 9162, C2SP tlog-*) instead of one hash chain

Revision ID: 0009_ledger_merkle_log
Revises: 0008_webhook_sequence
Create Date: 2026-12-07 15:00:00

Events are no longer chained to each other as they are written (which needed one lock
shared by every request): each is stored once with a random salt, and a sequencer gives
it its place in a Merkle tree (``ledger_leaves``), whose hashes it stores as tiles
(``ledger_tiles``) and signs in checkpoints that witnesses cosign.

The hash chain carries over without loss. Its events keep their bytes, their ``seq`` and
their chain columns; each gets a salt, and all are queued for the tree in chain order, so
they become its first leaves. Last comes one ``ledger:log:carried_over`` event naming the
chain's length and head hash, which anchors the old chain in the tree: ``sayso audit
verify`` checks the chain up to that head. The chain's checkpoints are dropped (signed by a
key kept beside the data, they proved nothing the chain itself did not).

The DDL is written out here rather than imported from the models, as migrations must stay
what they were when they ran; ``sayso audit verify`` compares the database with the models'
copy, so the two cannot drift apart unnoticed.
"""

import json
import secrets
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0009_ledger_merkle_log"
down_revision = "0008_webhook_sequence"
branch_labels = None
depends_on = None

_INDEXES = {
    "ix_audit_events_brand_seq": "brand, seq",
    "ix_audit_events_occurred_at": "occurred_at",
    "ix_audit_events_subject_seq": "subject, seq",
    "ix_audit_events_type_seq": "type, seq",
}


def _from_canonical(key: str) -> str:
    return f"json_extract(CAST(canonical AS TEXT), '$.{key}')"


_SQLITE_TABLE = f"""CREATE TABLE audit_events (
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
)"""

_CHECK_NAME = "ck_audit_events_columns_are_canonical"
_JSON = "convert_from(canonical, 'UTF8')::jsonb"
# Every key but ``seq`` (only the chain's events have it) and ``v`` is a column; ``seq``,
# where the bytes name one, is the row's.
_CHECK = (
    f"CHECK (({_JSON} - ARRAY['seq', 'v']) = jsonb_build_object("
    "'actor', actor, 'brand', brand, 'details', details::jsonb, 'fields', fields::jsonb, "
    "'occurred_at', to_char(occurred_at, 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), "
    "'purpose', purpose, 'subject', subject, 'type', type) "
    f"AND coalesce(({_JSON} ->> 'seq')::bigint, seq) = seq)"
)


def _rebuild_sqlite() -> None:
    """Recreate ``audit_events`` with a salt per event. The old table is renamed away first,
    so the new one is created under its own name and SQLite stores its SQL exactly as
    written (a rename would rewrite it)."""
    for name in _INDEXES:
        op.execute(f"DROP INDEX {name}")
    op.execute("ALTER TABLE audit_events RENAME TO audit_events_chain")
    op.execute(_SQLITE_TABLE)
    op.execute(
        "INSERT INTO audit_events (seq, canonical, prev_hash, hash, salt) "
        "SELECT seq, canonical, prev_hash, hash, randomblob(16) FROM audit_events_chain "
        "ORDER BY seq"
    )
    op.execute("DROP TABLE audit_events_chain")
    for name, columns in _INDEXES.items():
        op.execute(f"CREATE INDEX {name} ON audit_events ({columns})")


def _alter_postgresql(next_seq: int) -> None:
    op.execute("ALTER TABLE audit_events ADD COLUMN salt bytea")
    # gen_random_uuid(): 122 bits from PostgreSQL's strong random source, built in since 13.
    op.execute(
        "UPDATE audit_events SET salt = decode(replace(gen_random_uuid()::text, '-', ''), 'hex')"
    )
    op.execute("ALTER TABLE audit_events ALTER COLUMN salt SET NOT NULL")
    op.execute("ALTER TABLE audit_events ADD CONSTRAINT uq_audit_events_salt UNIQUE (salt)")
    op.execute("ALTER TABLE audit_events ALTER COLUMN prev_hash DROP NOT NULL")
    op.execute("ALTER TABLE audit_events ALTER COLUMN hash DROP NOT NULL")
    op.execute(f"ALTER TABLE audit_events DROP CONSTRAINT {_CHECK_NAME}")
    op.execute(f"ALTER TABLE audit_events ADD CONSTRAINT {_CHECK_NAME} {_CHECK}")
    # Numbered from 1 as any identity column (what TRUNCATE ... RESTART IDENTITY goes back
    # to), continuing after the chain's events now.
    op.execute("ALTER TABLE audit_events ALTER COLUMN seq ADD GENERATED BY DEFAULT AS IDENTITY")
    op.execute(f"ALTER TABLE audit_events ALTER COLUMN seq RESTART WITH {int(next_seq)}")


#: SQLite: the event's place in the queue is written by the database with the event (as
#: PostgreSQL's one statement does, ``ledger/log.py``): no second statement per event.
_SQLITE_QUEUE_TRIGGER = (
    "CREATE TRIGGER audit_events_queued AFTER INSERT ON audit_events "
    "BEGIN INSERT INTO ledger_pending (seq) VALUES (new.seq); END"
)


def _create_log_tables() -> None:
    seq = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
    op.drop_table("ledger_checkpoints")
    op.create_table(
        "ledger_pending",
        sa.Column("seq", seq, primary_key=True, autoincrement=False),
    )
    op.create_table(
        "ledger_leaves",
        sa.Column("leaf_index", seq, primary_key=True, autoincrement=False),
        sa.Column("seq", seq, nullable=False),
        sa.UniqueConstraint("seq", name="uq_ledger_leaves_seq"),
    )
    op.create_table(
        "ledger_tiles",
        sa.Column("level", sa.SmallInteger(), primary_key=True, autoincrement=False),
        sa.Column("tile_index", seq, primary_key=True, autoincrement=False),
        sa.Column("hashes", sa.LargeBinary(), nullable=False),
    )
    op.create_table(
        "ledger_state",
        sa.Column("id", sa.SmallInteger(), primary_key=True, autoincrement=False),
        sa.Column("size", seq, nullable=False),
        sa.Column("root", sa.LargeBinary(), nullable=False),
        sa.CheckConstraint("id = 1", name="ck_ledger_state_one_row"),
    )
    op.create_table(
        "ledger_checkpoints",
        sa.Column("size", seq, primary_key=True, autoincrement=False),
        sa.Column("root", sa.LargeBinary(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("signed_at", sa.DateTime(), nullable=False),
    )
    op.create_table(
        "ledger_cosignatures",
        sa.Column("size", seq, primary_key=True, autoincrement=False),
        sa.Column("witness", sa.String(255), primary_key=True),
        sa.Column("line", sa.Text(), nullable=False),
        sa.Column("cosigned_at", sa.DateTime(), nullable=False),
    )
    op.create_table(
        "ledger_witnesses",
        sa.Column("name", sa.String(255), primary_key=True),
        sa.Column("last_size", seq, nullable=False),
        sa.Column("last_cosigned_at", sa.DateTime(), nullable=True),
        sa.Column("last_attempt_at", sa.DateTime(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
    )


def _carry_over(count: int, head_seq: int, head_hash: str) -> None:
    """Queue the chain's events for the tree, in chain order, then the event that anchors
    the chain's head (written out here: canonical version 2, as docs/ledger.md says)."""
    op.execute("INSERT INTO ledger_pending (seq) SELECT seq FROM audit_events ORDER BY seq")
    now = datetime.now(UTC)
    event = {
        "v": 2,
        "occurred_at": now.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "type": "ledger:log:carried_over",
        "actor": "system",
        "subject": None,
        "brand": None,
        "fields": [],
        "purpose": None,
        "details": {"events": count, "head_seq": head_seq, "head_hash": head_hash},
    }
    canonical = json.dumps(event, sort_keys=True, separators=(",", ":")).encode()
    bind = op.get_bind()
    values = {"seq": head_seq + 1, "canonical": canonical, "salt": secrets.token_bytes(16)}
    if bind.dialect.name == "sqlite":
        statement = (
            "INSERT INTO audit_events (seq, canonical, salt) VALUES (:seq, :canonical, :salt)"
        )
    else:
        values.update(occurred_at=now.replace(tzinfo=None), details=json.dumps(event["details"]))
        statement = (
            "INSERT INTO audit_events (seq, canonical, salt, occurred_at, type, actor, fields, "
            "details) VALUES (:seq, :canonical, :salt, :occurred_at, 'ledger:log:carried_over', "
            "'system', '[]', :details)"
        )
    bind.execute(sa.text(statement), values)
    bind.execute(sa.text("INSERT INTO ledger_pending (seq) VALUES (:seq)"), {"seq": head_seq + 1})


def upgrade():
    bind = op.get_bind()
    count, head_seq = bind.execute(sa.text("SELECT count(*), max(seq) FROM audit_events")).one()
    head_hash = None
    if count:
        head_hash = bind.execute(
            sa.text("SELECT hash FROM audit_events WHERE seq = :s"), {"s": head_seq}
        ).scalar()
    if bind.dialect.name == "sqlite":
        _rebuild_sqlite()
    else:
        # The carried-over event takes head_seq + 1; new events follow it.
        _alter_postgresql((head_seq or 0) + (2 if count else 1))
    _create_log_tables()
    if count:
        _carry_over(count, head_seq, head_hash)
    if bind.dialect.name == "sqlite":
        op.execute(_SQLITE_QUEUE_TRIGGER)


def downgrade():
    raise NotImplementedError(
        "the Merkle-tree log cannot be turned back into a hash chain: restore the backup "
        "taken before upgrading"
    )
