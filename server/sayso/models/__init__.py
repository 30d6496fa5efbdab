"""SQLAlchemy models, one module per domain. Import them all so Alembic sees every table."""

from sayso.models.accounts import Account
from sayso.models.brands import Brand, BrandDomain, BrandMember, InitialAccessToken, OAuthClient
from sayso.models.consent import Grant
from sayso.models.contacts import Contact
from sayso.models.disclosures import Disclosure
from sayso.models.ledger import (
    AuditEvent,
    LedgerCheckpoint,
    LedgerCosignature,
    LedgerLeaf,
    LedgerPending,
    LedgerState,
    LedgerTile,
    LedgerWitness,
)
from sayso.models.mail import OutgoingMail
from sayso.models.oauth import DPoPProof, Token
from sayso.models.pushed_requests import PushedAuthorizationRequest
from sayso.models.questions import Answer, Question
from sayso.models.sessions import AccountSession, Passkey, PasskeyChallenge
from sayso.models.vault import DataKey
from sayso.models.webhooks import WebhookDelivery

__all__ = [
    "Account",
    "AccountSession",
    "Answer",
    "AuditEvent",
    "Brand",
    "BrandDomain",
    "BrandMember",
    "Contact",
    "DPoPProof",
    "DataKey",
    "Disclosure",
    "Grant",
    "InitialAccessToken",
    "LedgerCheckpoint",
    "LedgerCosignature",
    "LedgerLeaf",
    "LedgerPending",
    "LedgerState",
    "LedgerTile",
    "LedgerWitness",
    "OAuthClient",
    "OutgoingMail",
    "Passkey",
    "PasskeyChallenge",
    "PushedAuthorizationRequest",
    "Question",
    "Token",
    "WebhookDelivery",
]
