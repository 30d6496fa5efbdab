"""DPoP (RFC 9449): tokens bound to a key, clients that require it, proofs already seen

Revision ID: 0016_dpop
Revises: 0015_contact_kind
Create Date: 2026-12-07 21:20:00.000000

``tokens.jkt`` is the JWK SHA-256 thumbprint (RFC 7638) of the key a token is bound to,
``None`` for a bearer token. ``oauth_clients.dpop_bound_access_tokens`` (RFC 9449 section
5.2) makes every token request of the client need a proof. ``dpop_proofs`` remembers each
proof accepted until it would be too old anyway, so none is accepted twice, by any worker.
"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0016_dpop"
down_revision = "0015_contact_kind"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("tokens", schema=None) as batch_op:
        batch_op.add_column(sa.Column("jkt", sa.String(length=43), nullable=True))
    with op.batch_alter_table("oauth_clients", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "dpop_bound_access_tokens",
                sa.Boolean(),
                nullable=False,
                server_default=sa.false(),
            )
        )
    op.create_table(
        "dpop_proofs",
        sa.Column("proof_hash", sa.String(length=64), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("proof_hash", name=op.f("pk_dpop_proofs")),
    )
    with op.batch_alter_table("dpop_proofs", schema=None) as batch_op:
        batch_op.create_index("ix_dpop_proofs_expires_at", ["expires_at"], unique=False)


def downgrade():
    with op.batch_alter_table("dpop_proofs", schema=None) as batch_op:
        batch_op.drop_index("ix_dpop_proofs_expires_at")
    op.drop_table("dpop_proofs")
    with op.batch_alter_table("oauth_clients", schema=None) as batch_op:
        batch_op.drop_column("dpop_bound_access_tokens")
    with op.batch_alter_table("tokens", schema=None) as batch_op:
        batch_op.drop_column("jkt")
