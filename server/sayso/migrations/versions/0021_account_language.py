"""accounts: the consumer's chosen language

Revision ID: 0021_account_language
Revises: 0020_passkeys_sessions
Create Date: 2026-12-07 21:45:00.000000

The language a consumer chose with the picker (en, fr or de), remembered across devices;
empty until they choose: pages then follow the browser's Accept-Language. And a client's
purposes in other languages (oauth_clients.purpose_translations, JSON text: registration's
``sayso_purposes#fr``), shown on the consent page in the consumer's language.
"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0021_account_language"
down_revision = "0020_passkeys_sessions"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("language", sa.String(length=8), nullable=True))
    with op.batch_alter_table("oauth_clients", schema=None) as batch_op:
        batch_op.add_column(sa.Column("purpose_translations", sa.Text(), nullable=True))


def downgrade():
    with op.batch_alter_table("oauth_clients", schema=None) as batch_op:
        batch_op.drop_column("purpose_translations")
    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.drop_column("language")
