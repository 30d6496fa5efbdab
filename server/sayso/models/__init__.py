"""SQLAlchemy models, one module per domain. Import them all so Alembic sees every table."""

from sayso.models.accounts import Account
from sayso.models.disclosures import Disclosure
from sayso.models.ledger import AuditEvent
from sayso.models.vault import DataKey

__all__ = ["Account", "AuditEvent", "DataKey", "Disclosure"]
