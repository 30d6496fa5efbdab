"""The ledger: an append-only, hash-chained log of every consent-relevant event.

Each row stores its canonical bytes (see ``canonical_bytes`` and ``docs/architecture.md``) and
``hash = SHA-256(bytes.fromhex(prev_hash) || canonical)``. Appends are serialized so the
chain cannot fork: on PostgreSQL by a transaction-scoped advisory lock on the chain head,
on SQLite because every transaction starts with ``BEGIN IMMEDIATE`` (see ``database.py``).
The caller commits: an event lands with the change it records, or not at all.
"""

from __future__ import annotations

import base64
import gc
import hashlib
import json
from bisect import bisect_right
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from sqlalchemy import Connection, func, insert, select, text
from sqlalchemy.orm import scoped_session

from sayso.database import DEFERRED
from sayso.models import AuditEvent, LedgerCheckpoint
from sayso.models._types import utcnow
from sayso.models.ledger import (
    DERIVED_COLUMNS,
    POSTGRESQL_CHECK,
    POSTGRESQL_CHECK_NAME,
    POSTGRESQL_COLUMNS,
    SQLITE_TABLE,
)

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
#: The chain head. ``max(seq)`` (both databases answer it from the primary key's last
#: entry) rather than ``ORDER BY seq DESC LIMIT :n``: with no parameter, PostgreSQL's plan
#: cache keeps one generic plan for every query that embeds the head. With a LIMIT
#: parameter the generic plan is costed for an unknown limit, on a large ledger far above
#: a custom plan, so PostgreSQL planned the profile read afresh on every execution (0.45 ms
#: of its CPU at 1M events; docs/benchmarks.md).
_HEAD_SEQ = select(func.max(_EVENTS.c.seq)).scalar_subquery()
_HEAD = select(_EVENTS.c.seq, _EVENTS.c.hash).where(_EVENTS.c.seq == _HEAD_SEQ)
_INSERT = insert(_EVENTS)


def stores_derived_columns(dialect) -> bool:
    """Whether an insert into ``audit_events`` must give the ``DERIVED_COLUMNS`` too: on
    PostgreSQL yes (they are stored, held to ``canonical``), on SQLite no (it computes them,
    and refuses a value for them)."""
    return dialect.name != "sqlite"


def stored_values(row: dict, dialect) -> dict:
    """``row`` (every column of an event) as an insert on this database takes it."""
    if stores_derived_columns(dialect):
        return row
    return {name: value for name, value in row.items() if name not in DERIVED_COLUMNS}


_ESCAPED_NUL = b"\\u0000"  # how JSON writes U+0000 (a literal backslash-u0000 also matches)


def _without_nul(event: Event) -> Event:
    """``event`` with U+0000 in its strings recorded as U+FFFD. PostgreSQL keeps no U+0000 in
    text or ``jsonb`` (the CHECK that holds the columns to ``canonical`` parses it), and an
    event must be recordable, and read the same, on both databases."""

    def clean(value):
        if isinstance(value, str):
            return value.replace("\x00", "\ufffd")
        if isinstance(value, Mapping):
            return {clean(key): clean(item) for key, item in value.items()}
        if isinstance(value, list | tuple):
            return type(value)(clean(item) for item in value)
        return value

    return Event(
        event.type,
        *(clean(getattr(event, name)) for name in ("actor", "subject", "brand", "fields")),
        clean(event.purpose),
        clean(event.details),
    )


@contextmanager
def cyclic_gc_paused():
    """CPython's cyclic garbage collector off for the block, back on after (if it was on).

    For walks over millions of rows (``verify``, and the benchmark's baseline beside it):
    they allocate a tuple per row and build no reference cycles, yet the collector, run by
    allocation counts, would scan the whole heap again and again, about a fifth of a walk's
    time at 1M events. Reference counting still frees every row as the walk moves on.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


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
        if self._dialect().name == "postgresql":
            # DEFERRED: in a pipelined transaction the lock's (empty) result comes back
            # with the next statement's, which runs only once the lock is held.
            session.execute(_LOCK, {"k": _HEAD_LOCK_KEY}, execution_options=DEFERRED)
        self._locked_in = session.get_transaction()

    def _dialect(self):
        """The database's dialect, whether the ledger works on a session or a connection
        (a profile read's shared transaction, see ``database.GroupCommit``)."""
        if isinstance(self.session, Connection):
            return self.session.dialect
        return self.session.get_bind().dialect

    @staticmethod
    def head_columns() -> tuple:
        """The chain head's seq and hash as scalar subqueries, for a caller that reads the
        head in its own query (after :meth:`lock`) to save a round trip; see ``append``."""
        return (
            _HEAD_SEQ.label("ledger_head_seq"),
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
        if _ESCAPED_NUL in canonical and (cleaned := _without_nul(event)) != event:
            return self.append(cleaned, head)  # rare: found on the bytes, cleaned only then
        row_hash = chain_hash(prev_hash, canonical)
        values = {"seq": seq, "canonical": canonical, "prev_hash": prev_hash, "hash": row_hash}
        if stores_derived_columns(self._dialect()):
            values.update(
                occurred_at=occurred_at,
                type=str(event.type),
                actor=event.actor,
                subject=event.subject,
                brand=event.brand,
                fields=_dumps(fields),
                purpose=event.purpose,
                details=_dumps(dict(event.details)),
            )
        # DEFERRED: in a pipelined transaction the insert travels with the COMMIT.
        self.session.execute(_INSERT, values, execution_options=DEFERRED)
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
        values = {
            "seq": seq,
            "hash": hash,
            "signed_at": signed_at,
            "key_id": self.key.key_id,
            "signature": self.key.sign(checkpoint_message(seq, hash, signed_at, self.key.key_id)),
        }
        self.session.execute(insert(_CHECKPOINTS), values)  # Core: a session or a connection
        return LedgerCheckpoint(**values)

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

    def _start(self, public_key):
        """The newest checkpoint (a plain row) that is signed by ``public_key`` and whose
        seq still holds the signed hash, over bytes that still hash to it, or ``None``.

        Newest first, ten at a time, joined to its event in the same query: normally the
        first one is the answer, so the cost does not grow with the number of checkpoints.
        The event's own bytes are hashed too: the walk starts after it, so nothing else
        would notice them changed under an unchanged ``hash`` column (an older checkpoint
        is then the start, and the walk from it finds the row).
        """
        before = None
        while True:
            # The ten newest checkpoints first, by their primary key, then their events:
            # joined first, PostgreSQL (no statistics on the small table) planned a scan
            # of every checkpoint, and the cost grew with the log after all.
            newest = select(_CHECKPOINTS).order_by(_CHECKPOINTS.c.seq.desc()).limit(10)
            if before is not None:
                newest = newest.where(_CHECKPOINTS.c.seq < before)
            newest = newest.subquery()
            page = self.session.execute(
                select(newest, _EVENTS.c.prev_hash, _EVENTS.c.canonical)
                .outerjoin(
                    _EVENTS, (_EVENTS.c.seq == newest.c.seq) & (_EVENTS.c.hash == newest.c.hash)
                )
                .order_by(newest.c.seq.desc())
            ).all()
            if not page:
                return None
            for cp in page:
                if cp.canonical is None:
                    continue  # its seq no longer holds the signed hash
                message = checkpoint_message(cp.seq, cp.hash, cp.signed_at, cp.key_id)
                if signature_valid(public_key, cp.signature, message) and (
                    chain_hash(cp.prev_hash, bytes(cp.canonical)) == cp.hash
                ):
                    return cp
            before = page[-1].seq

    def verify(self, public_key=None, since_checkpoint: bool = False) -> Verification:
        """Walk the chain and its checkpoints; report the first sequence number that is bad.

        With ``since_checkpoint`` the walk starts at the newest checkpoint that still verifies,
        so its cost does not grow with the log.

        First the table itself: its searchable columns must still be the ones the database
        derives from, or holds to, ``canonical`` (``table_altered``). Then each batch of rows
        is checked as a whole, a few C-level operations and one hash per row; a batch where
        anything looks wrong is walked again row by row to name the first bad seq.
        """
        public_key = public_key or (self.key.public_key if self.key else None)
        start = self._start(public_key) if (since_checkpoint and public_key) else None
        walk = _Walk(self, public_key, start)
        altered = table_altered(self.session)
        if altered:
            return walk.broken_table(altered)
        batches = self.raw_batches(_VERIFIED, after=walk.expected_seq - 1)
        try:
            with cyclic_gc_paused():
                for rows in batches:
                    if not walk.batch(rows):
                        return walk.result
        finally:
            batches.close()  # now, not when collected: its cursor is on this connection
        return walk.finish()

    def raw_batches(self, columns: str, after: int = 0, batch: int | None = None) -> Iterator:
        """Events after seq ``after`` in sequence order, as lists of plain tuples straight
        from the database driver, ``batch`` seqs per round trip: the fetch ``verify`` uses
        (the benchmark's raw-hashlib baseline uses it too, to fetch the same way).

        ``columns`` is a SQL select list (code, never input) whose first item is ``seq``.
        Batches are seq ranges, which every planner answers from the primary key whatever
        its statistics; an empty range skips to the next existing seq. On PostgreSQL the
        cursor uses the binary protocol (bytea arrives as bytes, undecoded). ``batch``
        defaults to ``VERIFY_BATCH``.
        """
        batch = batch or VERIFY_BATCH
        connection = self.session.connection()
        driver = connection.connection.driver_connection
        if connection.dialect.name == "postgresql":
            cursor, mark = driver.cursor(binary=True), "%s"
        else:
            cursor, mark = driver.cursor(), "?"
        walk = (
            f"SELECT {columns} FROM audit_events "  # noqa: S608  (columns: code, not input)
            f"WHERE seq > {mark} AND seq <= {mark} ORDER BY seq"
        )
        following = f"SELECT min(seq) FROM audit_events WHERE seq > {mark}"  # noqa: S608  (mark)
        try:
            while True:
                cursor.execute(walk, (after, after + batch))
                rows = cursor.fetchall()
                if rows:
                    yield rows
                    after = rows[-1][0]
                    continue
                cursor.execute(following, (after,))
                (next_seq,) = cursor.fetchone()
                if next_seq is None:
                    return
                after = next_seq - 1
        finally:
            cursor.close()

    def _checkpoints_after(self, seq: int, limit: int) -> list:
        """Up to ``limit`` checkpoints after ``seq``, in order, as plain rows."""
        return self.session.execute(
            select(*_CHECKPOINTS.c)
            .where(_CHECKPOINTS.c.seq > seq)
            .order_by(_CHECKPOINTS.c.seq)
            .limit(limit)
        ).all()

    def _last_checkpoint_from(self, seq: int) -> int | None:
        """The highest checkpoint seq at or after ``seq``, if any."""
        return self.session.scalar(
            select(_CHECKPOINTS.c.seq)
            .where(_CHECKPOINTS.c.seq >= seq)
            .order_by(_CHECKPOINTS.c.seq.desc())
            .limit(1)
        )


# --- verification ------------------------------------------------------------------------

_CHECKPOINTS = LedgerCheckpoint.__table__
#: Seqs per round trip of ``verify``'s walk: memory stays at one batch however long the log.
VERIFY_BATCH = 5000
#: Checkpoints fetched per query as the walk reaches them.
CHECKPOINT_PAGE = 1000
# What the walk reads of each row.
_VERIFIED = "seq, prev_hash, hash, canonical"
_HEX_DIGEST_LENGTH = 64

_SQLITE_TABLE_SQL = text("SELECT sql FROM sqlite_schema WHERE type = 'table' AND name = :name")
_POSTGRESQL_TABLE = text(
    "SELECT (SELECT pg_get_constraintdef(c.oid) FROM pg_constraint c "
    "        WHERE c.conrelid = t.oid AND c.conname = :check AND c.convalidated), "
    "       (SELECT string_agg(a.attname || ' ' || format_type(a.atttypid, a.atttypmod), ', ' "
    "                          ORDER BY a.attnum) "
    "        FROM pg_attribute a WHERE a.attrelid = t.oid AND a.attnum > 0 "
    "        AND NOT a.attisdropped) "
    "FROM pg_class t WHERE t.oid = to_regclass(:name) AND t.relkind = 'r'"
)


def table_altered(session) -> str | None:
    """Why the ``audit_events`` table no longer keeps its searchable columns equal to
    ``canonical``, or ``None`` when it does.

    This is what lets ``verify`` hash ``canonical`` alone: on SQLite the columns are
    computed from it (so the table's definition must be the one Sayso created, word for
    word), on PostgreSQL a validated CHECK constraint holds them to it (so the constraint
    must be there, validated, with its definition, over columns of the types it was written
    for). A constraint dropped and added back ``NOT VALID``, a column made plain, an
    expression changed: each is a changed definition, and is reported.
    """
    name = AuditEvent.__tablename__
    dialect = session.get_bind().dialect.name
    if dialect == "sqlite":
        found = session.execute(_SQLITE_TABLE_SQL, {"name": name}).scalar()
        if found != SQLITE_TABLE:
            return "the audit_events table's definition differs from the one Sayso created"
        return None
    if dialect == "postgresql":
        found = session.execute(
            _POSTGRESQL_TABLE, {"name": name, "check": POSTGRESQL_CHECK_NAME}
        ).first()
        if found is None or found[0] != POSTGRESQL_CHECK:
            return (
                f"the audit_events table's constraint {POSTGRESQL_CHECK_NAME} is missing, "
                "not validated, or changed"
            )
        if found[1] != POSTGRESQL_COLUMNS:
            return "the audit_events table's columns differ from the ones Sayso created"
        return None
    return f"cannot check the audit_events table on {dialect}"


class _Walk:
    """One ``verify`` walk: where it is in the chain and what it has checked so far."""

    def __init__(self, ledger: Ledger, public_key, start):
        self.ledger = ledger
        self.public_key = public_key
        self.first = self.expected_seq = start.seq + 1 if start else 1
        self.prev_hash = start.hash if start else GENESIS_HASH
        self.checked = self.checkpoints = 0
        self.last_good_checkpoint = start.seq if start else 0
        # Every ``interval`` events are signed as they are appended (``Ledger.append``), so
        # two checkpoints further apart than that mean one was deleted: without it, rows
        # rewritten and rehashed (or a tail cut off) after the last checkpoint left would
        # pass. None when this ledger signs nothing.
        self.interval = ledger.checkpoint_every if ledger.key else None
        self.last_checkpoint = self.last_good_checkpoint
        self.result: Verification | None = None
        self._queued: list = []  # checkpoints fetched ahead, not yet reached by the walk
        self._fetched_to = self.expected_seq - 1
        self._all_fetched = False

    def batch(self, rows: list) -> bool:
        """Check one batch of ``(seq, prev_hash, hash, canonical)``; False, with ``result``
        set, when a row is bad."""
        checkpoints = self._checkpoints_to(rows[-1][0])
        if self._whole(rows, checkpoints) or (
            (result := self._row_by_row(rows, checkpoints)) is None
        ):
            self.result = self._missing_checkpoint([cp.seq for cp in checkpoints])
            return self.result is None
        self.result = result
        return False

    def _missing_checkpoint(self, seqs: list, head: int | None = None) -> Verification | None:
        """Broken where a checkpoint should be and is not: ``seqs`` are the checkpoints
        the walk just passed, ``head`` (at the end) the last seq walked."""
        if not self.interval:
            return None
        for seq in [*seqs, *([] if head is None else [head + 1])]:
            if seq > self.last_checkpoint + self.interval:
                return self._broken(
                    self.last_checkpoint + 1,
                    f"no signed checkpoint in the {self.interval} events after seq "
                    f"{self.last_checkpoint}, though every {self.interval}th event is signed: "
                    "checkpoints were deleted",
                )
            self.last_checkpoint = seq
        return None

    def _checkpoints_to(self, seq: int) -> list:
        """The checkpoints not yet handed out, up to ``seq``, in order. Fetched a page at a
        time as the walk reaches them: one query for most walks, not one per batch."""
        while not self._all_fetched and (not self._queued or self._queued[-1].seq < seq):
            page = self.ledger._checkpoints_after(self._fetched_to, CHECKPOINT_PAGE)
            self._all_fetched = len(page) < CHECKPOINT_PAGE
            if page:
                self._queued.extend(page)
                self._fetched_to = page[-1].seq
        reached = bisect_right(self._queued, seq, key=lambda cp: cp.seq)
        handed, self._queued = self._queued[:reached], self._queued[reached:]
        return handed

    def finish(self) -> Verification:
        """The verdict once every row has been walked: a checkpoint beyond the last row
        means the tail was cut off."""
        beyond = self.ledger._last_checkpoint_from(self.expected_seq)
        if beyond is not None:
            return self._broken(
                self.expected_seq,
                f"events from seq {self.expected_seq} are missing: "
                f"a checkpoint covers seq {beyond}",
            )
        missing = self._missing_checkpoint([], head=self.expected_seq - 1)
        if missing is not None:
            return missing
        return Verification(
            True, self.checked, self.expected_seq - 1, None, None, self.checkpoints, self.first
        )

    def broken_table(self, reason: str) -> Verification:
        """The table no longer keeps its columns equal to ``canonical``: no row's columns
        can be trusted, so the walk is broken where it would have started."""
        return self._broken(self.first, reason)

    def _broken(self, seq: int, reason: str) -> Verification:
        return Verification(
            False, self.checked, self.expected_seq - 1, seq, reason, self.checkpoints, self.first
        )

    def _signed(self, cp) -> bool:
        message = checkpoint_message(cp.seq, cp.hash, cp.signed_at, cp.key_id)
        return self.public_key is None or signature_valid(self.public_key, cp.signature, message)

    def _whole(self, rows: list, checkpoints: list) -> bool:
        """Check the batch at once, a few C-level operations and one hash per row; False
        when anything is off (the batch is then walked row by row)."""
        seqs, prevs, hashes, canonicals = zip(*rows, strict=True)
        sha256 = hashlib.sha256
        try:
            if not (
                seqs[0] == self.expected_seq
                # seq is the primary key and the rows come in its order: no gap in between.
                and seqs[-1] - seqs[0] == len(rows) - 1
                and prevs[0] == self.prev_hash
                and prevs[1:] == hashes[:-1]
            ):
                return False
            # The links are checked, so each row's prev_hash is the previous row's hash.
            digest = bytes.fromhex(self.prev_hash)
            digests = []
            append = digests.append
            for canonical in canonicals:
                digest = sha256(digest + canonical).digest()
                append(digest)
            # Joined, after checking every stored hash has a digest's length (else a short
            # hash and a long one could join up to the right string).
            if set(map(len, hashes)) != {_HEX_DIGEST_LENGTH} or (
                b"".join(digests).hex() != "".join(hashes)
            ):
                return False
        except (TypeError, ValueError):  # a column of an unexpected type
            return False
        for cp in checkpoints:
            if cp.hash != hashes[cp.seq - seqs[0]] or not self._signed(cp):
                return False
        self.checked += len(rows)
        self.expected_seq, self.prev_hash = seqs[-1] + 1, hashes[-1]
        if checkpoints:
            self.checkpoints += len(checkpoints)
            self.last_good_checkpoint = checkpoints[-1].seq
        return True

    def _row_by_row(self, rows: list, checkpoints: list) -> Verification | None:
        """The walk that names the first bad row, checks in order; ``None`` if all are good."""
        pending = {cp.seq: cp for cp in checkpoints}
        for seq, prev_hash, row_hash, canonical in rows:
            if seq != self.expected_seq:
                return self._broken(
                    self.expected_seq,
                    f"sequence {self.expected_seq} is missing (next row is {seq})",
                )
            if prev_hash != self.prev_hash:
                return self._broken(seq, "prev_hash does not match the previous row's hash")
            if not isinstance(canonical, bytes) or chain_hash(prev_hash, canonical) != row_hash:
                return self._broken(seq, "hash does not match the canonical bytes")
            cp = pending.pop(seq, None)
            if cp is not None:
                if not self._signed(cp):
                    return self._broken(
                        cp.seq, f"checkpoint at seq {cp.seq} has an invalid signature"
                    )
                if cp.hash != row_hash:
                    # The chain is self-consistent but not what was signed: rows after the
                    # previous good checkpoint were rewritten with recomputed hashes.
                    return self._broken(
                        self.last_good_checkpoint + 1,
                        f"chain differs from the signed checkpoint at seq {cp.seq}: "
                        f"rows after seq {self.last_good_checkpoint} were rewritten",
                    )
                self.checkpoints += 1
                self.last_good_checkpoint = cp.seq
            self.checked += 1
            self.expected_seq, self.prev_hash = seq + 1, row_hash
        return None
