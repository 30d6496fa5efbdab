"""The ledger: an append-only, hash-chained log of every consent-relevant event.

Each row stores its canonical bytes (see ``canonical_bytes`` and ``docs/architecture.md``) and
``hash = SHA-256(bytes.fromhex(prev_hash) || canonical)``. Appends are serialized so the
chain cannot fork: on PostgreSQL by a transaction-scoped advisory lock on the chain head,
on SQLite because every transaction starts with ``BEGIN IMMEDIATE`` (see ``database.py``).
The caller commits: an event lands with the change it records, or not at all.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from sqlalchemy import insert, select, text
from sqlalchemy.orm import scoped_session

from sayso.models import AuditEvent, LedgerCheckpoint
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
    CLIENT_UPDATED = "brand:client:updated"
    CLIENT_SECRET_ROTATED = "brand:client:secret_rotated"  # noqa: S105  (an event name)
    CLIENT_DELETED = "brand:client:deleted"
    CONSENT_GRANTED = "consent:grant:created"
    CONSENT_REVOKED = "consent:grant:revoked"
    PROFILE_READ = "api:profile:read"
    CONTACT_POLICY_CHECKED = "api:contact_policy:checked"
    CONTACT_RECORDED = "api:contact:recorded"
    CONTACT_BREACHED = "api:contact:breached"
    QUESTION_CREATED = "brand:question:created"
    QUESTION_PUBLISHED = "brand:question:published"
    ANSWER_SAVED = "question:answer:saved"
    ANSWER_DELETED = "question:answer:deleted"
    CODE_REPLAYED = "oauth:code:replayed"
    REFRESH_REUSED = "oauth:refresh:reused"
    TOKEN_REVOKED = "oauth:token:revoked"  # noqa: S105  (an event name)
    ACCOUNT_ERASED = "account:consumer:erased"
    DATA_EXPORTED = "account:data:exported"
    OFFICER_CREATED = "account:officer:created"
    BRAND_MEMBER_CREATED = "account:brand_member:created"
    BRAND_MEMBER_ADDED = "brand:member:added"
    WEBHOOK_SECRET_ROTATED = "brand:client:webhook_secret_rotated"  # noqa: S105  (an event name)
    INITIAL_TOKEN_ISSUED = "brand:registration_token:issued"  # noqa: S105  (an event name)
    CONSOLE_VIEWED = "console:events:viewed"
    CONSOLE_EXPORTED = "console:events:exported"


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


def checkpoint_message(seq: int, hash: str, signed_at: datetime, key_id: str) -> bytes:
    """The exact bytes a checkpoint signature covers: sorted-key compact JSON in UTF-8."""
    return _dumps(
        {
            "v": CANONICAL_VERSION,
            "type": "sayso.ledger.checkpoint",
            "seq": seq,
            "hash": hash,
            "signed_at": _timestamp(signed_at),
            "key_id": key_id,
        }
    ).encode("utf-8")


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _unb64(text_: str) -> bytes:
    return base64.urlsafe_b64decode(text_ + "=" * (-len(text_) % 4))


class LedgerKey:
    """The Ed25519 key that signs checkpoints; its public half is published."""

    def __init__(self, seed: bytes):
        self._private = Ed25519PrivateKey.from_private_bytes(seed)
        self.public_key = self._private.public_key()
        self.public_bytes = self.public_key.public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        #: A short, stable name for the key: the first 16 bytes of SHA-256 of the public key.
        self.key_id = hashlib.sha256(self.public_bytes).hexdigest()[:32]

    def sign(self, message: bytes) -> str:
        """A url-safe base64 Ed25519 signature."""
        return _b64(self._private.sign(message))

    def public_document(self) -> dict:
        """What ``/.well-known/sayso-ledger-key.json`` publishes."""
        pem = self.public_key.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ).decode()
        return {
            "alg": "Ed25519",
            "key_id": self.key_id,
            "public_key": _b64(self.public_bytes),
            "pem": pem,
        }


def signature_valid(public_key: Ed25519PublicKey, signature: str, message: bytes) -> bool:
    """Whether ``signature`` (url-safe base64) signs ``message`` under ``public_key``."""
    try:
        public_key.verify(_unb64(signature), message)
    except (InvalidSignature, ValueError):
        return False
    return True


@dataclass(frozen=True)
class Verification:
    """The outcome of walking the chain."""

    ok: bool
    checked: int
    last_seq: int
    first_bad_seq: int | None = None
    reason: str | None = None
    checkpoints_checked: int = 0
    started_at_seq: int = 1


_EVENTS = AuditEvent.__table__
_LOCK = text("SELECT pg_advisory_xact_lock(:k)")
_HEAD = select(_EVENTS.c.seq, _EVENTS.c.hash).order_by(_EVENTS.c.seq.desc()).limit(1)
_INSERT = insert(_EVENTS)


@dataclass(frozen=True)
class Appended:
    """The event just appended: where it sits in the chain."""

    seq: int
    hash: str


class Ledger:
    """Appends events to, and verifies, the hash chain and its signed checkpoints."""

    def __init__(self, session, key: LedgerKey | None = None, checkpoint_every: int = 0):
        self.session = session
        self.key = key
        self.checkpoint_every = checkpoint_every
        self._locked_in = None  # the transaction that holds the head lock, if any

    def lock(self) -> None:
        """Hold the chain head until the caller's transaction ends.

        PostgreSQL: a transaction-scoped advisory lock, taken once per transaction. SQLite:
        nothing to do, every transaction already began with ``BEGIN IMMEDIATE``.
        """
        session = self.session() if isinstance(self.session, scoped_session) else self.session
        transaction = session.get_transaction()
        if transaction is not None and self._locked_in is transaction:
            return
        if session.get_bind().dialect.name == "postgresql":
            session.execute(_LOCK, {"k": _HEAD_LOCK_KEY})
        self._locked_in = session.get_transaction()

    @staticmethod
    def head_columns() -> tuple:
        """The chain head's seq and hash as scalar subqueries, for a caller that reads the
        head in its own query (after :meth:`lock`) to save a round trip; see ``append``."""
        return (
            _HEAD.with_only_columns(_EVENTS.c.seq).scalar_subquery().label("ledger_head_seq"),
            _HEAD.with_only_columns(_EVENTS.c.hash).scalar_subquery().label("ledger_head_hash"),
        )

    def append(self, event: Event, head: tuple | None = None) -> Appended:
        """Add ``event`` at the head of the chain, in the caller's transaction.

        ``head``: the (seq, hash) of the head as read by :meth:`head_columns` in this
        transaction after :meth:`lock` (both ``None`` when the ledger is empty); without it
        the head is read here. Core statements, prepared once: this runs on every profile
        read, where an ORM object and its flush cost more than the rest of the append
        (docs/benchmarks.md). The row is in the transaction at once, so a second append in
        the same transaction sees it as the head.
        """
        self.lock()
        if head is None:
            head = self.session.execute(_HEAD).first()
        elif head[0] is None:
            head = None  # read, and empty
        seq, prev_hash = (head[0] + 1, head[1]) if head else (1, GENESIS_HASH)
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
        row_hash = chain_hash(prev_hash, canonical)
        self.session.execute(
            _INSERT,
            {
                "seq": seq,
                "occurred_at": occurred_at,
                "type": str(event.type),
                "actor": event.actor,
                "subject": event.subject,
                "brand": event.brand,
                "fields": _dumps(fields),
                "purpose": event.purpose,
                "details": _dumps(dict(event.details)),
                "canonical": canonical,
                "prev_hash": prev_hash,
                "hash": row_hash,
            },
        )
        if self.key and self.checkpoint_every and seq % self.checkpoint_every == 0:
            self._sign(seq, row_hash)
        return Appended(seq, row_hash)

    def checkpoint(self) -> LedgerCheckpoint | None:
        """Sign the current head now (``sayso audit checkpoint``) and commit it."""
        if self.key is None:
            raise RuntimeError("no signing key configured")
        self.lock()
        head = self.session.execute(_HEAD).first()
        if head is None:
            return None
        existing = self.session.get(LedgerCheckpoint, head.seq)
        if existing is None:
            existing = self._sign(head.seq, head.hash)
        self.session.commit()
        return existing

    def _sign(self, seq: int, hash: str) -> LedgerCheckpoint:
        signed_at = utcnow()
        checkpoint = LedgerCheckpoint(
            seq=seq,
            hash=hash,
            signed_at=signed_at,
            key_id=self.key.key_id,
            signature=self.key.sign(checkpoint_message(seq, hash, signed_at, self.key.key_id)),
        )
        self.session.add(checkpoint)
        return checkpoint

    def checkpoints(self, after: int = 0) -> list[LedgerCheckpoint]:
        """Every checkpoint after ``after``, in order."""
        return self.session.scalars(
            select(LedgerCheckpoint)
            .where(LedgerCheckpoint.seq > after)
            .order_by(LedgerCheckpoint.seq)
        ).all()

    def rows(self, batch: int = 5000, after: int = 0, where=(), columns=None) -> Iterator:
        """Events after seq ``after`` as plain rows in sequence order, fetched in batches
        by keyset pagination (constant memory). ``where``: extra SQL conditions;
        ``columns``: fetch only these (``seq`` is always included).

        Core rows rather than ORM objects, so a long walk fills no identity map.
        """
        table = AuditEvent.__table__
        selected = [table.c.seq, *(table.c[name] for name in columns)] if columns else [table]
        while True:
            chunk = self.session.execute(
                select(*selected)
                .where(table.c.seq > after, *where)
                .order_by(table.c.seq)
                .limit(batch)
            ).all()
            if not chunk:
                return
            yield from chunk
            after = chunk[-1].seq

    def _start(self, public_key) -> LedgerCheckpoint | None:
        """The newest checkpoint that is signed by ``public_key`` and matches its event."""
        newest_first = self.session.scalars(
            select(LedgerCheckpoint).order_by(LedgerCheckpoint.seq.desc())
        )
        for cp in newest_first:
            message = checkpoint_message(cp.seq, cp.hash, cp.signed_at, cp.key_id)
            row = self.session.get(AuditEvent, cp.seq)
            if (
                row is not None
                and row.hash == cp.hash
                and signature_valid(public_key, cp.signature, message)
            ):
                return cp
        return None

    def verify(self, public_key=None, since_checkpoint: bool = False) -> Verification:
        """Walk the chain and its checkpoints; report the first sequence number that is bad.

        With ``since_checkpoint`` the walk starts at the newest checkpoint that still verifies,
        so its cost does not grow with the log.
        """
        public_key = public_key or (self.key.public_key if self.key else None)
        start = self._start(public_key) if (since_checkpoint and public_key) else None
        expected_seq, prev_hash = (start.seq + 1, start.hash) if start else (1, GENESIS_HASH)
        first = expected_seq
        pending = {cp.seq: cp for cp in self.checkpoints(after=expected_seq - 1)}
        checked = cps = 0
        last_good_checkpoint = start.seq if start else 0

        def broken(seq, reason):
            return Verification(False, checked, expected_seq - 1, seq, reason, cps, first)

        for row in self.rows(after=expected_seq - 1):
            if row.seq != expected_seq:
                return broken(
                    expected_seq, f"sequence {expected_seq} is missing (next row is {row.seq})"
                )
            if row.prev_hash != prev_hash:
                return broken(row.seq, "prev_hash does not match the previous row's hash")
            if row_canonical_bytes(row) != row.canonical:
                return broken(row.seq, "columns do not match the canonical bytes")
            if chain_hash(prev_hash, row.canonical) != row.hash:
                return broken(row.seq, "hash does not match the canonical bytes")
            cp = pending.pop(row.seq, None)
            if cp is not None:
                message = checkpoint_message(cp.seq, cp.hash, cp.signed_at, cp.key_id)
                if public_key is not None and not signature_valid(
                    public_key, cp.signature, message
                ):
                    return broken(cp.seq, f"checkpoint at seq {cp.seq} has an invalid signature")
                if cp.hash != row.hash:
                    # The chain is self-consistent but not what was signed: rows after the
                    # previous good checkpoint were rewritten with recomputed hashes.
                    return broken(
                        last_good_checkpoint + 1,
                        f"chain differs from the signed checkpoint at seq {cp.seq}: "
                        f"rows after seq {last_good_checkpoint} were rewritten",
                    )
                cps += 1
                last_good_checkpoint = cp.seq
            checked += 1
            expected_seq, prev_hash = row.seq + 1, row.hash
        if pending:
            return broken(
                expected_seq,
                f"events from seq {expected_seq} are missing: "
                f"a checkpoint covers seq {max(pending)}",
            )
        return Verification(True, checked, expected_seq - 1, None, None, cps, first)
