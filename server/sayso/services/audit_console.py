"""What the officer console asks of the ledger: searches, one event in full, chain status,
activity per brand per day, and the per-brand check that every read had a live grant.

It reads ``audit_events``, ``ledger_checkpoints`` and brand names, and writes nothing but
the console's own ledger events (through the ledger). It never touches disclosures: the
console shows who read which field, never what the field said.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import Date, cast, func, select

from sayso.models import AuditEvent, Brand, LedgerCheckpoint
from sayso.services.ledger import (
    GENESIS_HASH,
    Event,
    EventType,
    Ledger,
    Verification,
    chain_hash,
)
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
class EventDetail:
    """One event with everything needed to check it by hand."""

    record: dict
    canonical: str
    hash_matches: bool
    links_to_previous: bool
    previous_hash_found: str | None
    previous_seq: int | None
    next_seq: int | None

    @property
    def details_text(self) -> str:
        """The details object, indented for reading."""
        return json.dumps(self.record["details"], indent=2, sort_keys=True, ensure_ascii=False)

    @property
    def ok(self) -> bool:
        """Whether this row, on its own, is what its hash says."""
        return self.hash_matches and self.links_to_previous


@dataclass(frozen=True)
class CheckpointInfo:
    """A signed checkpoint, as the console shows it."""

    seq: int
    hash: str
    signed_at: datetime
    key_id: str


@dataclass(frozen=True)
class ChainStatus:
    """The cheap verification (from the newest good checkpoint) and the newest checkpoint."""

    verification: Verification
    last_checkpoint: CheckpointInfo | None
    key_id: str | None


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

    def __init__(self, session, ledger: Ledger):
        self.session = session
        self.ledger = ledger

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
        """One event in full, with its hash recomputed and its link to the previous row."""
        table = AuditEvent.__table__
        row = self.session.execute(select(table).where(table.c.seq == seq)).first()
        if row is None:
            return None
        previous = self.session.execute(
            select(table.c.seq, table.c.hash)
            .where(table.c.seq < seq)
            .order_by(table.c.seq.desc())
            .limit(1)
        ).first()
        following = self.session.scalar(
            select(table.c.seq).where(table.c.seq > seq).order_by(table.c.seq).limit(1)
        )
        expected_prev = previous.hash if previous else GENESIS_HASH
        return EventDetail(
            record=event_record(row),
            canonical=row.canonical.decode("utf-8", errors="replace"),
            hash_matches=chain_hash(row.prev_hash, row.canonical) == row.hash,
            links_to_previous=row.prev_hash == expected_prev
            and (previous.seq == seq - 1 if previous else seq == 1),
            previous_hash_found=expected_prev,
            previous_seq=previous.seq if previous else None,
            next_seq=following,
        )

    # The chain --------------------------------------------------------------

    def chain_status(self) -> ChainStatus:
        """Verify from the newest checkpoint that still verifies (cheap), and name the newest
        checkpoint."""
        newest = self.session.scalar(
            select(LedgerCheckpoint).order_by(LedgerCheckpoint.seq.desc()).limit(1)
        )
        info = (
            CheckpointInfo(newest.seq, newest.hash, newest.signed_at, newest.key_id)
            if newest
            else None
        )
        return ChainStatus(
            self.ledger.verify(since_checkpoint=True),
            info,
            self.ledger.key.key_id if self.ledger.key else None,
        )

    def verify_everything(self) -> Verification:
        """Walk the whole chain from seq 1 and every checkpoint signature."""
        return self.ledger.verify()

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
        writer = export_jsonl if fmt == "jsonl" else export_csv
        for chunk in writer(self.ledger, filters):
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
