"""initial_access_tokens: an expiry and a number of registrations left

Revision ID: 0011_initial_access_token_limits
Revises: 0010_refresh_retry
Create Date: 2026-12-07 15:00:00.000000

A brand's initial access token (RFC 7591) used to work until revoked, for any number of
registrations. Each now expires (``SAYSO_INITIAL_ACCESS_TOKEN_SECONDS``) and registers at
most ``SAYSO_INITIAL_ACCESS_TOKEN_USES`` clients. A token issued before this migration gets
the defaults from the moment of the migration: a day, and ten registrations.
"""

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0011_initial_access_token_limits"
down_revision = "0010_refresh_retry"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("initial_access_tokens", schema=None) as batch_op:
        batch_op.add_column(sa.Column("expires_at", sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column("uses_left", sa.Integer(), nullable=True))
    # Stored as naive UTC, as every timestamp (models/types.py UTCDateTime).
    expires_at = datetime.now(UTC).replace(tzinfo=None) + timedelta(days=1)
    op.execute(
        sa.text("UPDATE initial_access_tokens SET expires_at = :at, uses_left = 10").bindparams(
            at=expires_at
        )
    )
    with op.batch_alter_table("initial_access_tokens", schema=None) as batch_op:
        batch_op.alter_column("expires_at", existing_type=sa.DateTime(), nullable=False)
        batch_op.alter_column("uses_left", existing_type=sa.Integer(), nullable=False)


def downgrade():
    with op.batch_alter_table("initial_access_tokens", schema=None) as batch_op:
        batch_op.drop_column("uses_left")
        batch_op.drop_column("expires_at")
