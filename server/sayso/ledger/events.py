"""What the ledger records: the event vocabulary, and an event as a service hands it over."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum


class EventType(StrEnum):
    """Every kind of ledger event, named ``source:subject:action``."""

    ACCOUNT_CREATED = "account:consumer:created"
    LOGIN_SUCCEEDED = "account:login:succeeded"
    LOGIN_FAILED = "account:login:failed"
    LOGIN_LOCKED = "account:login:locked"
    PASSWORD_CHANGED = "account:password:changed"  # noqa: S105  (an event name)
    #: The emailed confirmation link was followed (with the password): the address is theirs.
    EMAIL_CONFIRMED = "account:email:confirmed"
    #: Someone signed up with an address that has an account (that account was emailed).
    SIGNUP_REPEATED = "account:signup:repeated"
    #: "Forgot password?": a reset link was asked for (subject: the account, if there is one).
    PASSWORD_RESET_REQUESTED = "account:password:reset_requested"  # noqa: S105  (an event name)
    #: A password was set through the emailed reset link; every session ended.
    PASSWORD_RESET = "account:password:reset"  # noqa: S105  (an event name)
    PASSKEY_ADDED = "account:passkey:added"
    PASSKEY_REMOVED = "account:passkey:removed"
    SESSION_ENDED = "account:session:ended"
    DISCLOSURE_UPDATED = "disclosure:field:updated"
    DISCLOSURE_DELETED = "disclosure:field:deleted"
    BRAND_CREATED = "brand:brand:created"
    DOMAIN_VERIFIED = "brand:domain:verified"
    CLIENT_CREATED = "brand:client:created"
    CLIENT_UPDATED = "brand:client:updated"
    CLIENT_SECRET_ROTATED = "brand:client:secret_rotated"  # noqa: S105  (an event name)
    CLIENT_DELETED = "brand:client:deleted"
    CONSENT_GRANTED = "consent:grant:created"
    CONSENT_REVOKED = "consent:grant:revoked"
    #: The consumer chose Deny on a brand's consent page: the fields it asked for, no value.
    CONSENT_DENIED = "consent:request:denied"
    PROFILE_READ = "api:profile:read"
    CONTACT_POLICY_CHECKED = "api:contact_policy:checked"
    CONTACT_RECORDED = "api:contact:recorded"
    CONTACT_BREACHED = "api:contact:breached"
    QUESTION_CREATED = "brand:question:created"
    QUESTION_PUBLISHED = "brand:question:published"
    QUESTION_UPDATED = "brand:question:updated"
    QUESTION_CLOSED = "brand:question:closed"
    ANSWER_SAVED = "question:answer:saved"
    ANSWER_DELETED = "question:answer:deleted"
    CODE_REPLAYED = "oauth:code:replayed"
    REFRESH_REUSED = "oauth:refresh:reused"
    TOKEN_REVOKED = "oauth:token:revoked"  # noqa: S105  (an event name)
    TOKEN_EXPOSED = "oauth:token:exposed"  # noqa: S105  (an event name)
    ACCOUNT_ERASED = "account:consumer:erased"
    DATA_EXPORTED = "account:data:exported"
    OFFICER_CREATED = "account:officer:created"
    BRAND_MEMBER_CREATED = "account:brand_member:created"
    BRAND_MEMBER_ADDED = "brand:member:added"
    WEBHOOK_SECRET_ROTATED = "brand:client:webhook_secret_rotated"  # noqa: S105  (an event name)
    INITIAL_TOKEN_ISSUED = "brand:registration_token:issued"  # noqa: S105  (an event name)
    INITIAL_TOKENS_REVOKED = "brand:registration_token:revoked"
    CONSOLE_VIEWED = "console:events:viewed"
    CONSOLE_EXPORTED = "console:events:exported"
    #: ``sayso keys rotate`` ran: the key ids (never keys) and how many rows it re-wrapped.
    MASTER_KEY_ROTATED = "system:master_key:rotated"
    #: The first entry of a log carried over from the hash chain (migration 0009): how many
    #: events the chain held and its head hash, so the old chain is anchored in the tree.
    LOG_CARRIED_OVER = "ledger:log:carried_over"


@dataclass(frozen=True)
class Event:
    """What happened, by whom, to whom. Never carries a disclosed value."""

    type: EventType
    actor: str
    subject: str | None = None
    brand: str | None = None
    fields: tuple[str, ...] = ()
    purpose: str | None = None
    details: Mapping[str, str | int | bool | None] = field(default_factory=dict)
