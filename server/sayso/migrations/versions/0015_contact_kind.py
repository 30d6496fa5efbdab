"""contacts: the kind of message a brand reports (offers, new releases, ...), if it says

Revision ID: 0015_contact_kind
Revises: 0014_grant_views
Create Date: 2026-12-07 21:20:00.000000

A brand may say what kind of message it sent; one of a kind the consumer did not ask to
hear about is a breach (``kind_not_wanted``). ``kind`` is ``None`` for a report that names
none, and for every report older than this migration.
"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0015_contact_kind"
down_revision = "0014_grant_views"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("contacts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("kind", sa.String(length=32), nullable=True))


def downgrade():
    with op.batch_alter_table("contacts", schema=None) as batch_op:
        batch_op.drop_column("kind")
