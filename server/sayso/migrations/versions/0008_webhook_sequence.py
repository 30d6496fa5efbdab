"""webhook_deliveries: a sequence number per client, instead of the ledger's

Revision ID: 0008_webhook_sequence
Revises: 0007_grants_client
Create Date: 2026-11-24 13:00:00.000000

Events sent to brands carried the ledger's sequence number, one counter for everyone: one
disclosure change sent the same number to every brand granted the field, a key two
brands could join their pseudonyms on. Each client now numbers its own events. Existing
rows take their id, which already grows with each client's events.
"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0008_webhook_sequence"
down_revision = "0007_grants_client"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("webhook_deliveries", schema=None) as batch_op:
        batch_op.add_column(sa.Column("sequence", sa.Integer(), nullable=True))
    op.execute("UPDATE webhook_deliveries SET sequence = id")
    with op.batch_alter_table("webhook_deliveries", schema=None) as batch_op:
        batch_op.alter_column("sequence", existing_type=sa.Integer(), nullable=False)
        batch_op.create_unique_constraint(
            "uq_webhook_deliveries_client_sequence", ["client_id", "sequence"]
        )


def downgrade():
    with op.batch_alter_table("webhook_deliveries", schema=None) as batch_op:
        batch_op.drop_constraint("uq_webhook_deliveries_client_sequence", type_="unique")
        batch_op.drop_column("sequence")
