"""tokens: the fields a brand asked for as RFC 9396 authorization details

Revision ID: 0017_token_rar
Revises: 0016_dpop
Create Date: 2026-12-07 21:25:00.000000

A token issued for a request with ``authorization_details`` (RFC 9396) answers with the
granted details, at the token endpoint (code exchange and every refresh) and at
introspection. ``authorization_details`` holds the names (fields or permissions, JSON list)
the brand asked for that way, ``None`` for a token of scopes only; the granted details are
built from them and the live grants (purpose, expiry, view).
"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0017_token_rar"
down_revision = "0016_dpop"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("tokens", schema=None) as batch_op:
        batch_op.add_column(sa.Column("authorization_details", sa.Text(), nullable=True))


def downgrade():
    with op.batch_alter_table("tokens", schema=None) as batch_op:
        batch_op.drop_column("authorization_details")
