"""audit_events: a partial index over the rows of the carried-over hash chain

Revision ID: 0022_chain_rows_index
Revises: 0021_account_language
Create Date: 2026-12-08 01:30:00.000000

``sayso audit verify`` checks the hash chain carried over from before the log
(``ledger/legacy.py``: the rows whose ``prev_hash`` is set, in ``seq`` order). Without an
index that took a scan of the whole table on every verify, chain or no chain (0.1 s on
SQLite, 0.25 s on PostgreSQL at 1M entries, about 5 % of a full verification). The index
holds only those rows, so it is empty on a log that never had a chain.
"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0022_chain_rows_index"
down_revision = "0021_account_language"
branch_labels = None
depends_on = None

CHAIN_ROWS = sa.text("prev_hash IS NOT NULL")


def upgrade():
    op.create_index(
        "ix_audit_events_chain_rows",
        "audit_events",
        ["seq"],
        postgresql_where=CHAIN_ROWS,
        sqlite_where=CHAIN_ROWS,
    )


def downgrade():
    op.drop_index("ix_audit_events_chain_rows", table_name="audit_events")
