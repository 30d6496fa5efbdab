"""pushed authorization requests (RFC 9126), and clients that require them

Revision ID: 0018_pushed_requests
Revises: 0017_token_rar
Create Date: 2026-12-07 21:20:00.000000

A pushed request is stored by the hash of its request_uri, its parameters sealed under a
key derived from that request_uri (so the table alone reveals neither).
"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0018_pushed_requests"
down_revision = "0017_token_rar"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "pushed_authorization_requests",
        sa.Column("request_uri_hash", sa.String(length=64), nullable=False),
        sa.Column("client_id", sa.String(length=48), nullable=False),
        sa.Column("parameters_sealed", sa.LargeBinary(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.Column("browser_hash", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(
            ["client_id"],
            ["oauth_clients.client_id"],
            name="fk_pushed_authorization_requests_client_id_oauth_clients",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("request_uri_hash", name="pk_pushed_authorization_requests"),
    )
    with op.batch_alter_table("pushed_authorization_requests", schema=None) as batch_op:
        batch_op.create_index(
            "ix_pushed_authorization_requests_client_id", ["client_id"], unique=False
        )
        batch_op.create_index(
            "ix_pushed_authorization_requests_expires_at", ["expires_at"], unique=False
        )
    with op.batch_alter_table("oauth_clients", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "require_pushed_authorization_requests",
                sa.Boolean(),
                nullable=False,
                server_default=sa.false(),
            )
        )


def downgrade():
    with op.batch_alter_table("oauth_clients", schema=None) as batch_op:
        batch_op.drop_column("require_pushed_authorization_requests")
    op.drop_table("pushed_authorization_requests")
