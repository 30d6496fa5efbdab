"""The ledger: an append-only, hash-chained log of every consent-relevant event.

Each row stores its canonical bytes (see ``canonical_bytes`` and ``docs/architecture.md``) and
``hash = SHA-256(bytes.fromhex(prev_hash) || canonical)``. Appends are serialized so the
chain cannot fork: on PostgreSQL by a transaction-scoped advisory lock on the chain head,
on SQLite because every transaction starts with ``BEGIN IMMEDIATE`` (see ``database.py``).
The caller commits: an event lands with the change it records, or not at all.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum

from sqlalchemy import select, text

from sayso.models import AuditEvent
from sayso.models._types import utcnow

GENESIS_HASH = "0" * 64
CANONICAL_VERSION = 1
# Any fixed 64-bit number: the key of the advisory lock that guards the chain head.
_HEAD_LOCK_KEY = 0x5A5F_4C45_4447_4552


class EventType(StrEnum):
    """Every kind of ledger event, named ``source:subject:action``."""

    ACCOUNT_CREATED = "account:consumer:created"
    LOGIN_SUCCEEDED = "account:login:succeeded"
    LOGIN_FAILED = "account:login:failed"
    LOGIN_LOCKED = "account:login:locked"
    PASSWORD_CHANGED = "account:password:changed"  # noqa: S105  (an event name)
    DISCLOSURE_UPDATED = "disclosure:field:updated"
    DISCLOSURE_DELETED = "disclosure:field:deleted"
    BRAND_CREATED = "brand:brand:created"
    DOMAIN_VERIFIED = "brand:domain:verified"
    CLIENT_CREATED = "brand:client:created"
    CLIENT_SECRET_ROTATED = "brand:client:secret_rotated"  # noqa: S105  (an event name)
    CLIENT_DELETED = "brand:client:deleted"
    CONSENT_GRANTED = "consent:grant:created"
    CONSENT_REVOKED = "consent:grant:revoked"
    PROFILE_READ = "api:profile:read"
    CODE_REPLAYED = "oauth:code:replayed"
    REFRESH_REUSED = "oauth:refresh:reused"
    TOKEN_REVOKED = "oauth:token:revoked"  # noqa: S105  (an event name)


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


def _timestamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _dumps(value) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def canonical_bytes(
    seq: int,
    occurred_at: datetime,
    type: str,
    actor: str,
    subject: str | None,
    brand: str | None,
    fields: list[str],
    purpose: str | None,
    details: Mapping,
) -> bytes:
    """The exact bytes a row's hash covers: sorted-key compact JSON in UTF-8."""
    return _dumps(
        {
            "v": CANONICAL_VERSION,
            "seq": seq,
            "occurred_at": _timestamp(occurred_at),
            "type": str(type),
            "actor": actor,
            "subject": subject,
            "brand": brand,
            "fields": sorted(fields),
            "purpose": purpose,
            "details": dict(details),
        }
    ).encode("utf-8")


def chain_hash(prev_hash: str, canonical: bytes) -> str:
    """The hash of a row, given the previous row's hash and this row's canonical bytes."""
    return hashlib.sha256(bytes.fromhex(prev_hash) + canonical).hexdigest()


def row_canonical_bytes(row) -> bytes:
    """Rebuild the canonical bytes from a row's searchable columns."""
    return canonical_bytes(
        row.seq,
        row.occurred_at,
        row.type,
        row.actor,
        row.subject,
        row.brand,
        json.loads(row.fields),
        row.purpose,
        json.loads(row.details),
    )


@dataclass(frozen=True)
class Verification:
    """The outcome of walking the chain."""

    ok: bool
    checked: int
    last_seq: int
    first_bad_seq: int | None = None
    reason: str | None = None


class Ledger:
    """Appends events to, and verifies, the hash chain."""

    def __init__(self, session):
        self.session = session

    def append(self, event: Event) -> AuditEvent:
        """Add ``event`` at the head of the chain, in the caller's transaction."""
        if self.session.get_bind().dialect.name == "postgresql":
            self.session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _HEAD_LOCK_KEY})
        head = self.session.execute(
            select(AuditEvent.seq, AuditEvent.hash).order_by(AuditEvent.seq.desc()).limit(1)
        ).first()
        seq, prev_hash = (head.seq + 1, head.hash) if head else (1, GENESIS_HASH)
        fields = sorted(set(event.fields))
        occurred_at = utcnow()
        canonical = canonical_bytes(
            seq,
            occurred_at,
            event.type,
            event.actor,
            event.subject,
            event.brand,
            fields,
            event.purpose,
            event.details,
        )
        row = AuditEvent(
            seq=seq,
            occurred_at=occurred_at,
            type=str(event.type),
            actor=event.actor,
            subject=event.subject,
            brand=event.brand,
            fields=_dumps(fields),
            purpose=event.purpose,
            details=_dumps(dict(event.details)),
            canonical=canonical,
            prev_hash=prev_hash,
            hash=chain_hash(prev_hash, canonical),
        )
        self.session.add(row)
        self.session.flush()
        return row

    def rows(self, batch: int = 5000) -> Iterator:
        """Every event as a plain row in sequence order, fetched in batches (constant memory).

        Core rows rather than ORM objects, so a long walk fills no identity map.
        """
        table = AuditEvent.__table__
        after = 0
        while True:
            chunk = self.session.execute(
                select(table).where(table.c.seq > after).order_by(table.c.seq).limit(batch)
            ).all()
            if not chunk:
                return
            yield from chunk
            after = chunk[-1].seq

    def verify(self) -> Verification:
        """Walk the whole chain and report the first row that breaks it."""
        expected_seq, prev_hash, checked = 1, GENESIS_HASH, 0
        for row in self.rows():
            problem = None
            if row.seq != expected_seq:
                problem = f"sequence {expected_seq} is missing (next row is {row.seq})"
                bad = expected_seq
            else:
                bad = row.seq
                if row.prev_hash != prev_hash:
                    problem = "prev_hash does not match the previous row's hash"
                elif row_canonical_bytes(row) != row.canonical:
                    problem = "columns do not match the canonical bytes"
                elif chain_hash(prev_hash, row.canonical) != row.hash:
                    problem = "hash does not match the canonical bytes"
            if problem:
                return Verification(False, checked, expected_seq - 1, bad, problem)
            checked += 1
            expected_seq, prev_hash = row.seq + 1, row.hash
        return Verification(True, checked, expected_seq - 1)
