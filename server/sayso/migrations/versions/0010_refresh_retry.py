"""tokens: a refreshed pair kept sealed for a few seconds, so a lost answer can be retried

Revision ID: 0010_refresh_retry
Revises: 0009_ledger_merkle_log
Create Date: 2026-11-26 10:00:00.000000

A refresh whose answer is lost (a timeout, a worker killed) used to look like reuse when
the brand retried it, and revoked the whole family. The pair a refresh issues is now kept
on its row for ``SAYSO_REFRESH_GRACE_SECONDS``, sealed under a key derived from the
refresh token it replaced (which Sayso never stores), so the same retry gets the same pair
back. A partial index finds the few rows whose window has ended, to drop them.
"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0010_refresh_retry"
down_revision = "0009_ledger_merkle_log"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("tokens", schema=None) as batch_op:
        batch_op.add_column(sa.Column("retry_sealed", sa.LargeBinary(), nullable=True))
        batch_op.add_column(sa.Column("retry_until", sa.DateTime(), nullable=True))
        batch_op.create_index(
            "ix_tokens_retry_until",
            ["retry_until"],
            unique=False,
            sqlite_where=sa.text("retry_until IS NOT NULL"),
            postgresql_where=sa.text("retry_until IS NOT NULL"),
        )


def downgrade():
    with op.batch_alter_table("tokens", schema=None) as batch_op:
        batch_op.drop_index("ix_tokens_retry_until")
        batch_op.drop_column("retry_until")
        batch_op.drop_column("retry_sealed")
