"""mail: the outbox of email to consumers, confirmed addresses, password reset links

Revision ID: 0019_mail_outbox
Revises: 0018_pushed_requests
Create Date: 2026-12-07 21:20:00.000000

``mail_outbox`` holds each message from the transaction that caused it until a worker has
sent it (``sayso mail deliver``): the message itself is sealed with the recipient's data
key and deleted once sent or given up; only its kind, status, attempts and times stay.

``accounts`` gains ``email_confirmed_at`` (accounts from before are confirmed as of their
creation: they signed up when no address was confirmed), and the SHA-256 of the one
confirmation link and the one password reset link that may be live for each account.
"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0019_mail_outbox"
down_revision = "0018_pushed_requests"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("email_confirmed_at", sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column("confirm_token_hash", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("reset_token_hash", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("reset_expires_at", sa.DateTime(), nullable=True))
        batch_op.create_index("ix_accounts_confirm_token_hash", ["confirm_token_hash"], unique=True)
        batch_op.create_index("ix_accounts_reset_token_hash", ["reset_token_hash"], unique=True)
    op.execute("UPDATE accounts SET email_confirmed_at = created_at")

    op.create_table(
        "mail_outbox",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("message_id", sa.String(length=40), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("sealed", sa.LargeBinary(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(), nullable=False),
        sa.Column("last_attempt_at", sa.DateTime(), nullable=True),
        sa.Column("last_error", sa.String(length=255), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("sent_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_mail_outbox_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mail_outbox")),
        sa.UniqueConstraint("message_id", name=op.f("uq_mail_outbox_message_id")),
    )
    op.create_index("ix_mail_outbox_due", "mail_outbox", ["status", "next_attempt_at"])
    op.create_index("ix_mail_outbox_account_id", "mail_outbox", ["account_id"])


def downgrade():
    op.drop_index("ix_mail_outbox_account_id", table_name="mail_outbox")
    op.drop_index("ix_mail_outbox_due", table_name="mail_outbox")
    op.drop_table("mail_outbox")
    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.drop_index("ix_accounts_reset_token_hash")
        batch_op.drop_index("ix_accounts_confirm_token_hash")
        batch_op.drop_column("reset_expires_at")
        batch_op.drop_column("reset_token_hash")
        batch_op.drop_column("confirm_token_hash")
        batch_op.drop_column("email_confirmed_at")
