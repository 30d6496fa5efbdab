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

from sqlalchemy import Date, cast, func, or_, select

from sayso.ledger import Event, EventType, Ledger, LedgerKey
from sayso.ledger.encoding import entry_leaf_hash
from sayso.ledger.legacy import chain_hash
from sayso.ledger.witnesses import Witness
from sayso.models import (
    AuditEvent,
    Brand,
)
from sayso.services.ledger_export import ExportFilter, event_record, export_csv, export_jsonl
from sayso.services.log_inspection import FullCheck, Inclusion, LogInspector, LogStatus
from sayso.services.read_check import ReadCheck, check_reads

PAGE_SIZE = 50
#: The event types the charts and the per-brand view count, and what they are called there.
ACTIVITY_TYPES: dict[str, str] = {
    str(EventType.CONSENT_GRANTED): "grants",
    str(EventType.CONSENT_REVOKED): "revokes",
    str(EventType.PROFILE_READ): "reads",
}
#: The longest range the charts draw, in days.
MAX_CHART_DAYS = 366


@dataclass(frozen=True)
class EventPage:
    """One page of a search, newest first; ``next_cursor`` fetches the older events."""

    events: list[dict]
    next_cursor: int | None


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
        self.log = LogInspector(session, ledger, key, witnesses, checkpoint_seconds)

    # Searching --------------------------------------------------------------

    def search(
        self,
        filters: ExportFilter,
        cursor: int | None = None,
        limit: int = PAGE_SIZE,
        hide_views_of: str | None = None,
    ) -> EventPage:
        """Events matching ``filters``, newest first, with seq below ``cursor`` if given,
        without the console page views of the officer ``hide_views_of`` if given (their own
        searches, which would otherwise top every page).

        Keyset pagination on ``seq``: a page costs the same however deep it is, and events
        appended meanwhile do not shift the pages an officer is reading.
        """
        table = AuditEvent.__table__
        conditions = filters.conditions()
        if cursor is not None:
            conditions.append(table.c.seq < cursor)
        if hide_views_of is not None:
            conditions.append(
                or_(table.c.type != str(EventType.CONSOLE_VIEWED), table.c.actor != hide_views_of)
            )
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
            inclusion=self.log.inclusion(leaf_hash, leaf_index),
            chain=chain,
            previous_seq=previous,
            next_seq=following,
        )

    # The log (services/log_inspection.py) ----------------------------------

    def log_status(self) -> LogStatus:
        """See :meth:`LogInspector.status`."""
        return self.log.status()

    def verify_everything(self) -> FullCheck:
        """See :meth:`LogInspector.verify_everything`."""
        return self.log.verify_everything()

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
