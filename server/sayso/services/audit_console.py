"""What the officer console asks of the ledger: searches, one event in full with its place
in the log, the log's status (its tree, checkpoints and witnesses), activity per brand per
day, and the per-brand check that every read had a live grant.

It reads ``audit_events`` and the log's tables (``ledger_leaves``, ``ledger_state``,
``ledger_pending``, ``ledger_checkpoints``, ``ledger_cosignatures``, ``ledger_witnesses``,
``ledger_tiles`` through the proofs) and brand names, and writes nothing but the console's
own ledger events (through the ledger). It never touches disclosures: the console shows
who read which field, never what the field said.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import Date, cast, func, select

from sayso.ledger import Event, EventType, Ledger, LedgerKey, proofs
from sayso.ledger.encoding import entry_leaf_hash
from sayso.ledger.legacy import chain_hash
from sayso.ledger.notes import Checkpoint, NoteError, NoteVerifier, open_note
from sayso.ledger.sequencer import tree_state
from sayso.ledger.tiles import MissingHash
from sayso.ledger.tree import verify_inclusion
from sayso.ledger.verify import LogVerifier, Verification
from sayso.ledger.witnesses import Witness
from sayso.models import (
    AuditEvent,
    Brand,
    LedgerCheckpoint,
    LedgerCosignature,
    LedgerLeaf,
    LedgerWitness,
)
from sayso.models._types import utcnow
from sayso.services.ledger_export import ExportFilter, event_record, export_csv, export_jsonl

PAGE_SIZE = 50
#: The event types the charts and the per-brand view count, and what they are called there.
ACTIVITY_TYPES: dict[str, str] = {
    str(EventType.CONSENT_GRANTED): "grants",
    str(EventType.CONSENT_REVOKED): "revokes",
    str(EventType.PROFILE_READ): "reads",
}
#: The longest range the charts draw, in days.
MAX_CHART_DAYS = 366
#: Flagged reads listed by the check at most (all are counted).
MAX_FLAGGED_LISTED = 500


@dataclass(frozen=True)
class EventPage:
    """One page of a search, newest first; ``next_cursor`` fetches the older events."""

    events: list[dict]
    next_cursor: int | None


@dataclass(frozen=True)
class Inclusion:
    """Whether an event is in the tree the newest checkpoint signs, in plain words.

    ``state`` is ``waiting`` (not yet given a place by the sequencer), ``unsigned`` (in the
    tree, no checkpoint covers it yet), ``verified`` (its inclusion proof verifies against
    the checkpoint's signed root) or ``failed`` (it does not: ``message`` says why).
    """

    state: str
    message: str
    checkpoint_size: int | None = None
    proof_length: int | None = None


@dataclass(frozen=True)
class ChainColumns:
    """The hash chain's columns of an event carried over from it (canonical version 1)."""

    prev_hash: str
    hash: str
    hash_matches: bool


@dataclass(frozen=True)
class EventDetail:
    """One event with everything needed to check it by hand."""

    record: dict
    canonical: str
    salt: str
    leaf_hash: str
    leaf_index: int | None
    inclusion: Inclusion
    chain: ChainColumns | None
    previous_seq: int | None
    next_seq: int | None

    @property
    def details_text(self) -> str:
        """The details object, indented for reading."""
        return json.dumps(self.record["details"], indent=2, sort_keys=True, ensure_ascii=False)


@dataclass(frozen=True)
class CheckpointInfo:
    """The newest signed checkpoint, as the console shows it."""

    size: int
    root: str
    signed_at: datetime
    cosigned_by: list[str]
    #: Whether its note verifies with this log's key, for this log, over the root stored.
    signature_ok: bool

    @property
    def cosignatures(self) -> int:
        """How many witnesses have cosigned it."""
        return len(self.cosigned_by)


@dataclass(frozen=True)
class WitnessStatus:
    """One configured witness: what it last cosigned, and whether it keeps up."""

    name: str
    url: str
    last_size: int
    last_cosigned_at: datetime | None
    last_attempt_at: datetime | None
    last_error: str | None
    #: When the log first grew past ``last_size`` (the oldest checkpoint it has not
    #: cosigned was signed), or ``None`` when it has cosigned the newest.
    behind_since: datetime | None
    stale: bool
    now: datetime

    @property
    def refusing(self) -> bool:
        """Its last answer was not a cosignature (it refused, or could not be reached)."""
        return self.last_error is not None

    @property
    def state(self) -> str:
        """``refusing``, ``stale``, ``behind`` (not for long yet) or ``current``."""
        if self.refusing:
            return "refusing"
        if self.stale:
            return "stale"
        return "behind" if self.behind_since is not None else "current"

    @property
    def cosigned_age(self) -> str | None:
        """How long ago it last cosigned, in words."""
        if self.last_cosigned_at is None:
            return None
        return plain_duration(self.now - self.last_cosigned_at)

    @property
    def behind_for(self) -> str | None:
        """How long the log has been past what it last cosigned, in words."""
        if self.behind_since is None:
            return None
        return plain_duration(self.now - self.behind_since)


@dataclass(frozen=True)
class LogStatus:
    """The log as the console shows it: its tree, what waits for it, its newest checkpoint
    and its witnesses."""

    size: int
    root: str
    pending: int
    newest: CheckpointInfo | None
    witnesses: list[WitnessStatus]
    stale_after: timedelta
    origin: str
    verifier_key: str

    @property
    def stale_after_text(self) -> str:
        """The staleness threshold, in words."""
        return plain_duration(self.stale_after)


@dataclass(frozen=True)
class FullCheck:
    """The outcome of ``LogVerifier.verify`` and, when it names a leaf, that leaf's event."""

    verification: Verification
    bad_seq: int | None


def plain_duration(span: timedelta) -> str:
    """A duration as a person says it: ``45 s``, ``3 min 5 s``, ``2 h 10 min``, ``4 days``."""
    seconds = max(0, int(span.total_seconds()))
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds} s" if seconds else f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    return f"{hours // 24} days"


@dataclass
class BrandActivity:
    """One brand's grants, revokes and reads per day."""

    brand: str
    name: str | None
    per_day: dict[date, dict[str, int]] = field(default_factory=dict)

    def count(self, day: date, kind: str) -> int:
        """How many events of ``kind`` (grants, revokes, reads) on ``day``."""
        return self.per_day.get(day, {}).get(kind, 0)

    def total(self, kind: str) -> int:
        """How many events of ``kind`` over the whole range."""
        return sum(counts.get(kind, 0) for counts in self.per_day.values())


@dataclass(frozen=True)
class Activity:
    """Grants, revokes and reads per brand per day, from ``start`` to ``end`` inclusive."""

    start: date
    end: date
    brands: list[BrandActivity]

    @property
    def days(self) -> list[date]:
        """Every day of the range, in order."""
        return [self.start + timedelta(days=i) for i in range((self.end - self.start).days + 1)]


@dataclass(frozen=True)
class FlaggedRead:
    """A field read with no live grant behind it."""

    seq: int
    occurred_at: datetime
    subject: str | None
    field: str
    reason: str


@dataclass(frozen=True)
class ReadCheck:
    """The outcome of replaying a brand's grants, revokes and reads."""

    reads_checked: int
    fields_checked: int
    flagged_total: int
    flagged: list[FlaggedRead]

    @property
    def ok(self) -> bool:
        """True when every field read had a live grant."""
        return self.flagged_total == 0


@dataclass
class _GrantState:
    """The latest grant of one field to the brand by one subject, as the ledger tells it."""

    granted_seq: int
    expires_at: datetime | None
    revoked_seq: int | None = None


def _expiry(details: Mapping) -> datetime | None:
    raw = details.get("expires_at")
    if not raw:
        return None
    moment = datetime.fromisoformat(raw)
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def check_reads(rows: Iterable) -> ReadCheck:
    """Replay grant, revoke and read events (in seq order) and flag every field read that
    had no live grant: none before it, revoked since, or expired by the time of the read.

    A grant replaces the previous one for its fields (as ``ConsentService.grant`` does),
    so only the latest grant per (subject, field) is kept: memory grows with the brand's
    consumers and fields, not with the log.
    """
    grants: dict[tuple[str | None, str], _GrantState] = {}
    reads = fields_checked = flagged_total = 0
    flagged: list[FlaggedRead] = []
    for row in rows:
        names = json.loads(row.fields)
        if row.type == EventType.CONSENT_GRANTED:
            expires_at = _expiry(json.loads(row.details))
            for name in names:
                grants[(row.subject, name)] = _GrantState(row.seq, expires_at)
        elif row.type == EventType.CONSENT_REVOKED:
            for name in names:
                state = grants.get((row.subject, name))
                if state is not None and state.revoked_seq is None:
                    state.revoked_seq = row.seq
        elif row.type == EventType.PROFILE_READ:
            reads += 1
            for name in names:
                fields_checked += 1
                reason = _why_not_live(grants.get((row.subject, name)), row.occurred_at)
                if reason is None:
                    continue
                flagged_total += 1
                if len(flagged) < MAX_FLAGGED_LISTED:
                    flagged.append(FlaggedRead(row.seq, row.occurred_at, row.subject, name, reason))
    return ReadCheck(reads, fields_checked, flagged_total, flagged)


def _why_not_live(state: _GrantState | None, at: datetime) -> str | None:
    if state is None:
        return "no grant of this field before the read"
    if state.revoked_seq is not None:
        return f"the grant at seq {state.granted_seq} was revoked at seq {state.revoked_seq}"
    if state.expires_at is not None and state.expires_at <= at:
        return (
            f"the grant at seq {state.granted_seq} expired at "
            f"{state.expires_at.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC"
        )
    return None


class AuditConsole:
    """The officer console's queries over the ledger, and its own ledger events."""

    def __init__(
        self,
        session,
        ledger: Ledger,
        key: LedgerKey,
        witnesses: Sequence[Witness] = (),
        checkpoint_seconds: float = 1.0,
    ):
        self.session = session
        self.ledger = ledger
        self.key = key
        self.witnesses = tuple(witnesses)
        #: A witness is stale once the log has been past what it last cosigned this long:
        #: five of the sequencer's rounds, and a minute for a witness that answers slowly.
        self.stale_after = timedelta(seconds=5 * checkpoint_seconds + 60)

    # Searching --------------------------------------------------------------

    def search(
        self, filters: ExportFilter, cursor: int | None = None, limit: int = PAGE_SIZE
    ) -> EventPage:
        """Events matching ``filters``, newest first, with seq below ``cursor`` if given.

        Keyset pagination on ``seq``: a page costs the same however deep it is, and events
        appended meanwhile do not shift the pages an officer is reading.
        """
        table = AuditEvent.__table__
        conditions = filters.conditions()
        if cursor is not None:
            conditions.append(table.c.seq < cursor)
        rows = self.session.execute(
            select(table).where(*conditions).order_by(table.c.seq.desc()).limit(limit + 1)
        ).all()
        more = len(rows) > limit
        rows = rows[:limit]
        return EventPage([event_record(r) for r in rows], rows[-1].seq if more else None)

    def event(self, seq: int) -> EventDetail | None:
        """One event in full: its place in the log, its leaf hash recomputed from its bytes,
        and whether its inclusion proof verifies against the newest checkpoint."""
        table = AuditEvent.__table__
        row = self.session.execute(select(table).where(table.c.seq == seq)).first()
        if row is None:
            return None
        previous = self.session.scalar(
            select(table.c.seq).where(table.c.seq < seq).order_by(table.c.seq.desc()).limit(1)
        )
        following = self.session.scalar(
            select(table.c.seq).where(table.c.seq > seq).order_by(table.c.seq).limit(1)
        )
        leaf_hash = entry_leaf_hash(row.salt, row.canonical)
        leaf_index = self.ledger.leaf_index(seq)
        chain = None
        if row.hash is not None and row.prev_hash is not None:
            chain = ChainColumns(
                row.prev_hash, row.hash, chain_hash(row.prev_hash, bytes(row.canonical)) == row.hash
            )
        return EventDetail(
            record=event_record(row),
            canonical=bytes(row.canonical).decode("utf-8", errors="replace"),
            salt=bytes(row.salt).hex(),
            leaf_hash=leaf_hash.hex(),
            leaf_index=leaf_index,
            inclusion=self._inclusion(leaf_hash, leaf_index),
            chain=chain,
            previous_seq=previous,
            next_seq=following,
        )

    def _signed(self, note: str) -> Checkpoint:
        """The checkpoint a note holds, once its signature by this log's key verifies."""
        opened = open_note(note, [NoteVerifier.from_vkey(self.key.verifier_key)])
        checkpoint = Checkpoint.parse(opened.text)
        if checkpoint.origin != self.key.origin:
            raise NoteError(f"it names the log {checkpoint.origin!r}")
        return checkpoint

    def _inclusion(self, leaf_hash: bytes, leaf_index: int | None) -> Inclusion:
        if leaf_index is None:
            return Inclusion(
                "waiting",
                "Waiting for the sequencer: this event is committed and queued, and has no "
                "place in the tree yet.",
            )
        try:
            served = proofs.latest_checkpoint(self.session)
        except proofs.NoCheckpoint:
            return Inclusion("unsigned", "No checkpoint has been signed yet.")
        try:
            checkpoint = self._signed(served.note)
        except NoteError as error:
            return Inclusion(
                "failed",
                f"The newest checkpoint (size {served.size}) does not verify with this log's "
                f"key: {error}.",
                served.size,
            )
        if leaf_index >= checkpoint.size:
            return Inclusion(
                "unsigned",
                f"The newest checkpoint covers {checkpoint.size} entries, not yet this one; "
                "the next checkpoint will.",
                checkpoint.size,
            )
        try:
            proof = proofs.inclusion(self.session, leaf_index, checkpoint.size)
        except MissingHash as error:
            return Inclusion(
                "failed",
                f"The tree's stored hashes cannot prove it: {error}.",
                checkpoint.size,
            )
        if not verify_inclusion(
            leaf_hash, leaf_index, checkpoint.size, proof, checkpoint.root_hash
        ):
            return Inclusion(
                "failed",
                f"Its inclusion proof does NOT verify against the newest checkpoint (size "
                f"{checkpoint.size}): its bytes, or the tree's stored hashes, were changed "
                "after the checkpoint was signed.",
                checkpoint.size,
                len(proof),
            )
        return Inclusion(
            "verified",
            f"Its inclusion proof ({len(proof)} hashes) verifies against the newest checkpoint "
            f"(size {checkpoint.size}): these are the bytes the log signed.",
            checkpoint.size,
            len(proof),
        )

    def seq_at_leaf(self, leaf_index: int) -> int | None:
        """The event at leaf ``leaf_index`` of the tree, if the tree has one there."""
        return self.session.scalar(
            select(LedgerLeaf.seq).where(LedgerLeaf.leaf_index == leaf_index)
        )

    # The log ----------------------------------------------------------------

    def log_status(self) -> LogStatus:
        """The tree's size, what waits for it, the newest checkpoint (does it verify, who
        cosigned it) and how each configured witness keeps up. Cheap: no walk."""
        now = utcnow()
        state = tree_state(self.session)
        newest = self.session.scalar(
            select(LedgerCheckpoint).order_by(LedgerCheckpoint.size.desc()).limit(1)
        )
        info = None
        if newest is not None:
            cosigned_by = self.session.scalars(
                select(LedgerCosignature.witness)
                .where(LedgerCosignature.size == newest.size)
                .order_by(LedgerCosignature.witness)
            ).all()
            try:
                signed = self._signed(newest.note)
                signature_ok = signed.size == newest.size and signed.root_hash == bytes(newest.root)
            except NoteError:
                signature_ok = False
            info = CheckpointInfo(
                newest.size, bytes(newest.root).hex(), newest.signed_at, list(cosigned_by),
                signature_ok,
            )  # fmt: skip
        return LogStatus(
            size=state.size,
            root=state.root.hex(),
            pending=self.ledger.pending(),
            newest=info,
            witnesses=[self._witness(w, now) for w in self.witnesses],
            stale_after=self.stale_after,
            origin=self.key.origin,
            verifier_key=self.key.verifier_key,
        )

    def _witness(self, witness: Witness, now: datetime) -> WitnessStatus:
        row = self.session.get(LedgerWitness, witness.name)
        last_size = row.last_size if row is not None else 0
        # The log grew past what the witness cosigned when the oldest checkpoint beyond it
        # was signed: stale is being behind for long, not being quiet while the log is.
        behind_since = self.session.scalar(
            select(func.min(LedgerCheckpoint.signed_at)).where(LedgerCheckpoint.size > last_size)
        )
        return WitnessStatus(
            name=witness.name,
            url=witness.url,
            last_size=last_size,
            last_cosigned_at=row.last_cosigned_at if row is not None else None,
            last_attempt_at=row.last_attempt_at if row is not None else None,
            last_error=row.last_error if row is not None else None,
            behind_since=behind_since,
            stale=behind_since is not None and now - behind_since > self.stale_after,
            now=now,
        )

    def verify_everything(self) -> FullCheck:
        """Rebuild the tree from every stored entry and check every tile, checkpoint and
        the table's definition (``sayso audit verify``)."""
        result = LogVerifier(self.session, self.key).verify()
        bad = result.first_bad_index
        return FullCheck(result, self.seq_at_leaf(bad) if bad is not None else None)

    # Activity ---------------------------------------------------------------

    def activity(self, start: date, end: date, brand: str | None = None) -> Activity:
        """Grants, revokes and reads per brand per day from ``start`` to ``end`` (inclusive),
        counted by one GROUP BY over the ledger."""
        table = AuditEvent.__table__
        # Times are stored as naive UTC on both backends, so the date is the UTC date.
        if self.session.get_bind().dialect.name == "sqlite":
            day = func.date(table.c.occurred_at)
        else:
            day = cast(table.c.occurred_at, Date)
        conditions = [
            table.c.type.in_(ACTIVITY_TYPES),
            table.c.brand.is_not(None),
            table.c.occurred_at >= datetime.combine(start, time(), UTC),
            table.c.occurred_at < datetime.combine(end + timedelta(days=1), time(), UTC),
        ]
        if brand is not None:
            conditions.append(table.c.brand == brand)
        counts = self.session.execute(
            select(table.c.brand, table.c.type, day.label("day"), func.count().label("n"))
            .where(*conditions)
            .group_by(table.c.brand, table.c.type, day)
        ).all()
        by_brand: dict[str, BrandActivity] = {}
        for row in counts:
            entry = by_brand.setdefault(row.brand, BrandActivity(row.brand, None))
            when = date.fromisoformat(row.day) if isinstance(row.day, str) else row.day
            per_kind = entry.per_day.setdefault(when, {})
            kind = ACTIVITY_TYPES[row.type]
            per_kind[kind] = per_kind.get(kind, 0) + row.n
        names = self.brand_names(by_brand)
        for entry in by_brand.values():
            entry.name = names.get(entry.brand)
        ordered = sorted(by_brand.values(), key=lambda b: ((b.name or b.brand).casefold(), b.brand))
        return Activity(start, end, ordered)

    def brand_totals(self, brand: str) -> dict[str, int]:
        """The brand's grants, revokes and reads over the whole ledger."""
        table = AuditEvent.__table__
        rows = self.session.execute(
            select(table.c.type, func.count())
            .where(table.c.brand == brand, table.c.type.in_(ACTIVITY_TYPES))
            .group_by(table.c.type)
        ).all()
        totals = dict.fromkeys(ACTIVITY_TYPES.values(), 0)
        for type_, n in rows:
            totals[ACTIVITY_TYPES[type_]] = n
        return totals

    def brand_has_events(self, brand: str) -> bool:
        """Whether the ledger mentions this brand at all."""
        table = AuditEvent.__table__
        return (
            self.session.scalar(select(table.c.seq).where(table.c.brand == brand).limit(1))
            is not None
        )

    def brands(self) -> list[tuple[str, str]]:
        """Every registered brand as (public id, name), by name."""
        return [
            (row.public_id, row.name)
            for row in self.session.execute(
                select(Brand.public_id, Brand.name).order_by(Brand.name, Brand.public_id)
            )
        ]

    def brand_names(self, public_ids: Iterable[str]) -> dict[str, str]:
        """Names of the brands with these public ids (brands the ledger names may be gone)."""
        ids = list(public_ids)
        if not ids:
            return {}
        return dict(
            self.session.execute(
                select(Brand.public_id, Brand.name).where(Brand.public_id.in_(ids))
            ).all()
        )

    def check_brand_reads(self, brand: str) -> ReadCheck:
        """The per-brand check: every field the brand read had a live grant at that moment."""
        table = AuditEvent.__table__
        rows = self.ledger.rows(
            where=(table.c.brand == brand, table.c.type.in_(ACTIVITY_TYPES)),
            columns=("occurred_at", "type", "subject", "fields", "details"),
        )
        return check_reads(rows)

    # Exports ----------------------------------------------------------------

    def export(self, filters: ExportFilter, fmt: str) -> Iterator[str]:
        """The export as chunks of text (``jsonl`` or ``csv``), in constant memory."""
        if fmt == "jsonl":
            chunks = export_jsonl(self.ledger, filters, self.key)
        else:
            chunks = export_csv(self.ledger, filters)
        for chunk in chunks:
            yield chunk
            # End the read transaction while the client downloads: on SQLite every
            # transaction holds the write lock (BEGIN IMMEDIATE), and a slow download must
            # not stall sign-ins and grants. The keyset walk resumes from the last seq.
            self.session.rollback()

    # The console's own events ----------------------------------------------

    def record_view(self, actor: str, view: str, filters: Mapping) -> None:
        """Record that an officer looked at ``view`` with ``filters``; committed here."""
        self._record(
            Event(
                EventType.CONSOLE_VIEWED,
                actor=actor,
                details={"view": view, "filters": _plain(filters)},
            )
        )

    def record_export(self, actor: str, filters: ExportFilter, fmt: str) -> None:
        """Record that an officer downloaded an export; committed here, before it streams."""
        self._record(
            Event(
                EventType.CONSOLE_EXPORTED,
                actor=actor,
                details={"format": fmt, "filters": _plain(filters.describe())},
            )
        )

    def _record(self, event: Event) -> None:
        try:
            self.ledger.append(event)
            self.session.commit()
        except Exception:
            self.session.rollback()
            raise


def _plain(filters: Mapping) -> dict:
    """Filters as JSON-friendly values (times in the ledger's format), unset ones left out."""
    plain = {}
    for key, value in filters.items():
        if value is None:
            continue
        if isinstance(value, datetime):
            value = value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        elif isinstance(value, date):
            value = value.isoformat()
        plain[key] = value
    return plain
