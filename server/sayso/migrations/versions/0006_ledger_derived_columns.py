"""ledger: searchable columns kept equal to the canonical bytes by the database; 64-bit seq

Revision ID: 0006_ledger_derived_columns
Revises: 0005_sealed_authorization_codes
Create Date: 2026-11-23 09:00:00

SQLite: ``audit_events`` is rebuilt with its searchable columns as virtual columns computed
from ``canonical``, and ``seq`` checked against it. PostgreSQL: a CHECK constraint, validated
over every existing row, holds the stored columns to ``canonical``; ``seq`` becomes bigint.
``sayso audit verify`` then checks the table's definition instead of re-rendering every
row (docs/ledger.md). A row whose columns already disagree with its canonical bytes makes
this migration fail: run ``sayso audit verify`` on the old version to find it.

The DDL is written out here rather than imported from the models, as migrations must stay
what they were when they ran; ``sayso audit verify`` compares the database with the models'
copy, so the two cannot drift apart unnoticed.
"""

from alembic import op

# revision identifiers, used by Alembic.
revision = "0006_ledger_derived_columns"
down_revision = "0005_sealed_authorization_codes"
branch_labels = None
depends_on = None

_INDEXES = {
    "ix_audit_events_brand_seq": "brand, seq",
    "ix_audit_events_occurred_at": "occurred_at",
    "ix_audit_events_subject_seq": "subject, seq",
    "ix_audit_events_type_seq": "type, seq",
}
_DERIVED = "occurred_at, type, actor, subject, brand, fields, purpose, details"
_STORED = "seq, canonical, prev_hash, hash"


def _from_canonical(key: str) -> str:
    return f"json_extract(CAST(canonical AS TEXT), '$.{key}')"


_SQLITE_TABLE = f"""CREATE TABLE audit_events (
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
)"""

# The table as 0001_core made it, for the downgrade.
_SQLITE_PLAIN_TABLE = """CREATE TABLE audit_events (
    seq INTEGER NOT NULL,
    occurred_at DATETIME NOT NULL,
    type VARCHAR(64) NOT NULL,
    actor VARCHAR(96) NOT NULL,
    subject VARCHAR(64),
    brand VARCHAR(64),
    fields TEXT NOT NULL,
    purpose TEXT,
    details TEXT NOT NULL,
    canonical BLOB NOT NULL,
    prev_hash VARCHAR(64) NOT NULL,
    hash VARCHAR(64) NOT NULL,
    CONSTRAINT pk_audit_events PRIMARY KEY (seq),
    CONSTRAINT uq_audit_events_hash UNIQUE (hash)
)"""

_CHECK_NAME = "ck_audit_events_columns_are_canonical"
_CHECK = (
    "CHECK (((convert_from(canonical, 'UTF8'::name))::jsonb = jsonb_build_object("
    "'actor', actor, 'brand', brand, 'details', (details)::jsonb, 'fields', (fields)::jsonb, "
    "'occurred_at', to_char(occurred_at, 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'::text), "
    "'purpose', purpose, 'seq', seq, 'subject', subject, 'type', type, 'v', 1)))"
)


def _rebuild_sqlite(table_sql: str, copied: str) -> None:
    """Recreate ``audit_events`` from ``table_sql`` with its rows' ``copied`` columns.

    The old table is renamed away first, so the new one is created under its own name and
    SQLite stores ``table_sql`` exactly as written (a rename would rewrite it).
    """
    for name in _INDEXES:
        op.execute(f"DROP INDEX {name}")
    op.execute("ALTER TABLE audit_events RENAME TO audit_events_old")
    op.execute(table_sql)
    op.execute(
        f"INSERT INTO audit_events ({copied}) "  # noqa: S608  (constants)
        f"SELECT {copied} FROM audit_events_old ORDER BY seq"
    )
    op.execute("DROP TABLE audit_events_old")
    for name, columns in _INDEXES.items():
        op.execute(f"CREATE INDEX {name} ON audit_events ({columns})")


def upgrade():
    if op.get_bind().dialect.name == "sqlite":
        _rebuild_sqlite(_SQLITE_TABLE, _STORED)
        return
    op.execute("ALTER TABLE audit_events ALTER COLUMN seq TYPE bigint")
    op.execute("ALTER TABLE ledger_checkpoints ALTER COLUMN seq TYPE bigint")
    op.execute(f"ALTER TABLE audit_events ADD CONSTRAINT {_CHECK_NAME} {_CHECK}")


def downgrade():
    if op.get_bind().dialect.name == "sqlite":
        _rebuild_sqlite(_SQLITE_PLAIN_TABLE, f"{_STORED}, {_DERIVED}")
        return
    op.execute(f"ALTER TABLE audit_events DROP CONSTRAINT {_CHECK_NAME}")
    op.execute("ALTER TABLE ledger_checkpoints ALTER COLUMN seq TYPE integer")
    op.execute("ALTER TABLE audit_events ALTER COLUMN seq TYPE integer")
