"""Who read what: the brands' reads of a consumer, from the ledger (``api:profile:read``
events name the fields read, never the values), page by page or grouped by day, brand
and field in the consumer's own time zone."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import select

from sayso.fields import FIELDS, PERMISSIONS, label_of
from sayso.ledger import EventType
from sayso.models import Account, AuditEvent, Brand
from sayso.shared.clock import utcnow


@dataclass(frozen=True)
class ProfileRead:
    """One read of the consumer's profile by a brand, as the ledger recorded it."""

    seq: int
    occurred_at: datetime
    brand_id: str
    brand_name: str | None
    client_id: str | None
    fields: list[str]
    purposes: dict[str, str]


@dataclass(frozen=True)
class AccessPage:
    """A page of reads, newest first; ``next_before`` continues it (``None``: no more)."""

    reads: list[ProfileRead]
    next_before: int | None


@dataclass(frozen=True)
class ReadTally:
    """How often one brand read one field on one day of the consumer's calendar."""

    brand_id: str
    brand_name: str
    field: str
    label: str
    #: The reads, newest first, each at its time in the consumer's zone.
    times: list[datetime]
    #: The purposes the brand gave for these reads (usually one).
    purposes: list[str]

    @property
    def count(self) -> int:
        """How many reads."""
        return len(self.times)

    @property
    def moments(self) -> list[tuple[datetime, int]]:
        """The reads' times to the second, newest first, each with how many reads then
        (seven reads in one second are one moment, said once)."""
        found: list[tuple[datetime, int]] = []
        for time in self.times:
            second = time.replace(microsecond=0)
            if found and found[-1][0] == second:
                found[-1] = (second, found[-1][1] + 1)
            else:
                found.append((second, 1))
        return found


@dataclass(frozen=True)
class HistoryDay:
    """One day (in the consumer's time zone) of reads, one tally per brand and field."""

    day: date
    tallies: list[ReadTally]


@dataclass(frozen=True)
class AccessSummary:
    """A page of reads grouped by day, brand and field, in the consumer's time zone.

    ``zone`` is the consumer's IANA zone, or ``None`` when they have not set one (times are
    then in UTC); ``today`` is the date now in that zone; ``next_before`` as in
    :class:`AccessPage`.
    """

    zone: str | None
    today: date
    days: list[HistoryDay]
    next_before: int | None


def zone_of(account: Account) -> ZoneInfo | None:
    """The account's own time zone, or ``None`` if it has none (or one the tz database no
    longer knows)."""
    if not account.time_zone:
        return None
    try:
        return ZoneInfo(account.time_zone)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return None


def group_reads(reads: Iterable[ProfileRead], zone: ZoneInfo | None) -> list[HistoryDay]:
    """``reads`` (newest first) as days, newest first, each with one tally per brand and
    field (by brand name, then in the registry's order of fields)."""
    tz = zone or UTC
    days: dict[date, dict[tuple[str, str], tuple[list, list]]] = {}
    names: dict[str, str] = {}
    for read in reads:
        local = read.occurred_at.astimezone(tz)
        names[read.brand_id] = read.brand_name or read.brand_id
        tallies = days.setdefault(local.date(), {})
        for name in read.fields:
            times, purposes = tallies.setdefault((read.brand_id, name), ([], []))
            times.append(local)
            purpose = read.purposes.get(name)
            if purpose and purpose not in purposes:
                purposes.append(purpose)
    order = {name: i for i, name in enumerate([*FIELDS, *PERMISSIONS])}
    return [
        HistoryDay(
            day,
            [
                ReadTally(brand, names[brand], name, label_of(name), times, purposes)
                for (brand, name), (times, purposes) in sorted(
                    tallies.items(),
                    key=lambda item: (
                        names[item[0][0]].casefold(),
                        item[0][0],
                        order.get(item[0][1], len(order)),
                        item[0][1],
                    ),
                )
            ],
        )
        for day, tallies in sorted(days.items(), reverse=True)
    ]


class AccessHistory:
    """Reads ``audit_events`` (the brands' reads of one consumer at a time); writes nothing."""

    def __init__(self, session):
        self.session = session

    def page(
        self,
        account: Account,
        brand_public_id: str | None = None,
        before: int | None = None,
        limit: int = 50,
    ) -> AccessPage:
        """The brands' reads of the account, newest first, ``limit`` at a time.

        ``before`` is the ``next_before`` of the previous page (a ledger sequence number).
        """
        query = self._reads(account, brand_public_id).order_by(AuditEvent.seq.desc())
        if before is not None:
            query = query.where(AuditEvent.seq < before)
        rows = self.session.scalars(query.limit(limit + 1)).all()
        reads = self._as_reads(rows[:limit])
        return AccessPage(reads, reads[-1].seq if len(rows) > limit else None)

    def summary(
        self,
        account: Account,
        brand_public_id: str | None = None,
        before: int | None = None,
        limit: int = 500,
    ) -> AccessSummary:
        """The brands' reads of the account (or of one brand), ``limit`` at a time, grouped
        by day, brand and field in the account's own time zone: what a person reads."""
        page = self.page(account, brand_public_id, before, limit)
        zone = zone_of(account)
        return AccessSummary(
            zone=zone.key if zone else None,
            today=utcnow().astimezone(zone or UTC).date(),
            days=group_reads(page.reads, zone),
            next_before=page.next_before,
        )

    def all_reads(self, account: Account, batch: int = 1000) -> Iterator[ProfileRead]:
        """Every read of the account, oldest first, fetched in batches."""
        after = 0
        while True:
            rows = self.session.scalars(
                self._reads(account, None)
                .where(AuditEvent.seq > after)
                .order_by(AuditEvent.seq)
                .limit(batch)
            ).all()
            if not rows:
                return
            yield from self._as_reads(rows)
            after = rows[-1].seq

    def _reads(self, account: Account, brand_public_id: str | None):
        query = select(AuditEvent).where(
            AuditEvent.subject == account.pseudonym,
            AuditEvent.type == str(EventType.PROFILE_READ),
        )
        if brand_public_id is not None:
            query = query.where(AuditEvent.brand == brand_public_id)
        return query

    def _as_reads(self, rows) -> list[ProfileRead]:
        names = dict(
            self.session.execute(
                select(Brand.public_id, Brand.name).where(
                    Brand.public_id.in_({r.brand for r in rows})
                )
            ).all()
        )
        reads = []
        for row in rows:
            actor_kind, _, actor_id = row.actor.partition(":")
            reads.append(
                ProfileRead(
                    seq=row.seq,
                    occurred_at=row.occurred_at,
                    brand_id=row.brand,
                    brand_name=names.get(row.brand),
                    client_id=actor_id if actor_kind == "client" else None,
                    fields=json.loads(row.fields),
                    purposes=json.loads(row.details).get("purposes") or {},
                )
            )
        return reads
