"""questions: when a brand closed a question

Revision ID: 0013_question_closed_at
Revises: 0012_account_time_zone
Create Date: 2026-12-07 18:00:00.000000

A published question stays open until its brand closes it. Closed, it takes no new
answers (and no changes to answers); answers already given stay, readable by the brand
under the consumer's grant, until the consumer removes them.
"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0013_question_closed_at"
down_revision = "0012_account_time_zone"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("questions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("closed_at", sa.DateTime(), nullable=True))


def downgrade():
    with op.batch_alter_table("questions", schema=None) as batch_op:
        batch_op.drop_column("closed_at")
