"""accounts: the consumer's own time zone

Revision ID: 0012_account_time_zone
Revises: 0011_initial_access_token_limits
Create Date: 2026-12-07 18:00:00.000000

One IANA time zone per consumer (chosen on the channels page, detected from the browser),
used for quiet hours and to show times (access history, receipts) in the consumer's own
time. Empty until the consumer sets it: pages then show UTC and say so.
"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0012_account_time_zone"
down_revision = "0011_initial_access_token_limits"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("time_zone", sa.String(length=64), nullable=True))


def downgrade():
    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.drop_column("time_zone")
