"""grants: the client the consumer gave each grant through

Revision ID: 0007_grants_client
Revises: 0006_ledger_derived_columns
Create Date: 2026-11-24 12:00:00.000000

A brand that asks again for fields already granted gets a code without the consent page
only if it asks through the same client, with the same declared purposes, as the consumer
consented to. Grants given before the upgrade name no client, so each is asked for once
more on the page.
"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0007_grants_client"
down_revision = "0006_ledger_derived_columns"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("grants", schema=None) as batch_op:
        batch_op.add_column(sa.Column("client_id", sa.String(length=48), nullable=True))


def downgrade():
    with op.batch_alter_table("grants", schema=None) as batch_op:
        batch_op.drop_column("client_id")
