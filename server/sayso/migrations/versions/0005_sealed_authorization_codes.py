"""sealed authorization codes: no authorization_codes table; tokens.code_hash uses a code up

Revision ID: 0005_sealed_authorization_codes
Revises: 0004_questions_contacts
Create Date: 2026-11-24 10:00:00.000000

An authorization code now carries its own contents, sealed with a key derived from the
master key, and is stored nowhere. The hash of the code a token family started from is
kept on its first token, unique, so a code is exchanged once. Codes issued before the
upgrade no longer open: a brand holding one (for at most its 60 seconds) gets
``invalid_grant`` and sends the consumer through consent again. The downgrade brings the
table back empty, for the same reason.
"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0005_sealed_authorization_codes"
down_revision = "0004_questions_contacts"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("tokens", schema=None) as batch_op:
        batch_op.add_column(sa.Column("code_hash", sa.String(length=64), nullable=True))
        batch_op.create_unique_constraint(batch_op.f("uq_tokens_code_hash"), ["code_hash"])

    with op.batch_alter_table("authorization_codes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_authorization_codes_client_id"))
    op.drop_table("authorization_codes")


def downgrade():
    op.create_table(
        "authorization_codes",
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("client_id", sa.String(length=48), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("redirect_uri", sa.Text(), nullable=False),
        sa.Column("scope", sa.Text(), nullable=False),
        sa.Column("code_challenge", sa.String(length=128), nullable=False),
        sa.Column("code_challenge_method", sa.String(length=8), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.Column("used_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_authorization_codes_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["client_id"],
            ["oauth_clients.client_id"],
            name=op.f("fk_authorization_codes_client_id_oauth_clients"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("code_hash", name=op.f("pk_authorization_codes")),
    )
    with op.batch_alter_table("authorization_codes", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_authorization_codes_client_id"), ["client_id"], unique=False
        )

    with op.batch_alter_table("tokens", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_tokens_code_hash"), type_="unique")
        batch_op.drop_column("code_hash")
