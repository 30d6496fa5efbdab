"""grants: the view a brand gets of a field (everything, top level, top N, noised)

Revision ID: 0014_grant_views
Revises: 0013_question_closed_at
Create Date: 2026-12-07 21:15:00.000000

A consumer may grant a brand less than everything of interests and browsing categories:
top-level categories only, the top N, or a noised version. ``view`` names the view
(``all`` for a grant older than this migration) and ``view_parameter`` holds its number
(N, or the noise rate in percent), ``None`` when the view has none.
"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0014_grant_views"
down_revision = "0013_question_closed_at"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("grants", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("view", sa.String(length=16), nullable=False, server_default="all")
        )
        batch_op.add_column(sa.Column("view_parameter", sa.Integer(), nullable=True))


def downgrade():
    with op.batch_alter_table("grants", schema=None) as batch_op:
        batch_op.drop_column("view_parameter")
        batch_op.drop_column("view")
