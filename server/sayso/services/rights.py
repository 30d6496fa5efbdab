"""A consumer's rights over their own data: who read what, a full export, and erasure.

Reads come from the ledger (``api:profile:read`` events name the fields read, never the
values). Erasure is one transaction across the services that own each table: revokes (with
their events and webhooks), token revocation, deleting disclosures, shredding the data key,
closing the account and the erasure event all land together, or nothing does.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import select

from sayso.fields import FIELDS, PERMISSIONS, label_of
from sayso.ledger import Event, EventType, Ledger
from sayso.models import Account, AuditEvent, Brand
from sayso.services.accounts import AccountService, WrongPassword, actor_for
from sayso.services.consent import BrandGrants, ConsentService
from sayso.services.contacts import ContactPolicyService
from sayso.services.disclosures import DisclosureService
from sayso.services.questions import QuestionService
from sayso.services.receipts import ERASURE_REASON, ReceiptService
from sayso.services.tokens import TokenService
from sayso.services.vault import Vault
from sayso.shared.clock import utcnow


class AccountErased(Exception):
    """The account is already erased: there is nothing left to export or erase."""


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


@dataclass(frozen=True)
class ExportedAccount:
    """The account itself, as exported."""

    email: str
    created_at: datetime


@dataclass(frozen=True)
class DataExport:
    """Everything Sayso holds about one consumer, decrypted, at one moment."""

    exported_at: datetime
    account: ExportedAccount
    disclosures: dict
    grants: list[BrandGrants]
    receipts: list[dict]
    access_history: list[ProfileRead]
    ledger_seq: int
    answers: list[dict] = field(default_factory=list)
    contacts: list[dict] = field(default_factory=list)

    @property
    def filename(self) -> str:
        """What the export is called when saved."""
        return f"sayso-my-data-{self.exported_at:%Y%m%d}.json"


@dataclass(frozen=True)
class Erasure:
    """What erasing an account did."""

    revoked: dict[str, list[str]]
    brand_names: dict[str, str]
    disclosures_deleted: list[str]
    tokens_revoked: int
    ledger_seq: int


class DataRightsService:
    """Access history, export and erasure for one consumer at a time."""

    def __init__(
        self,
        session,
        ledger: Ledger,
        vault: Vault,
        accounts: AccountService,
        consent: ConsentService,
        disclosures: DisclosureService,
        tokens: TokenService,
        receipts: ReceiptService,
        questions: QuestionService,
        contacts: ContactPolicyService,
    ):
        self.session = session
        self.ledger = ledger
        self.vault = vault
        self.accounts = accounts
        self.consent = consent
        self.disclosures = disclosures
        self.tokens = tokens
        self.receipts = receipts
        self.questions = questions
        self.contacts = contacts

    # Access history ------------------------------------------------------------

    def access_history(
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

    def access_summary(
        self,
        account: Account,
        brand_public_id: str | None = None,
        before: int | None = None,
        limit: int = 500,
    ) -> AccessSummary:
        """The brands' reads of the account (or of one brand), ``limit`` at a time, grouped
        by day, brand and field in the account's own time zone: what a person reads."""
        page = self.access_history(account, brand_public_id, before, limit)
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

    # Export ----------------------------------------------------------------------

    def export(self, account: Account) -> DataExport:
        """Everything about the account, decrypted; the export is a ledger event, committed
        before anything is returned (if it cannot be recorded, nothing is handed out)."""
        if not account.is_active:
            raise AccountErased
        document = DataExport(
            exported_at=utcnow(),
            account=ExportedAccount(self.accounts.email_of(account), account.created_at),
            disclosures=self.disclosures.read(account),
            grants=self.consent.overview(account),
            receipts=self.receipts.for_account(account),
            access_history=list(self.all_reads(account)),
            ledger_seq=0,
            answers=self.questions.all_answers_of(account),
            contacts=self.contacts.history_of(account),
        )
        try:
            event = self.ledger.append(
                Event(
                    EventType.DATA_EXPORTED,
                    actor=actor_for(account),
                    subject=account.pseudonym,
                    fields=tuple(document.disclosures),
                    details={
                        "receipts": len(document.receipts),
                        "answers": len(document.answers),
                        "contacts": len(document.contacts),
                        "reads": len(document.access_history),
                    },
                )
            )
            self.session.commit()
        except Exception:
            self.session.rollback()
            raise
        return replace(document, ledger_seq=event.seq)

    # Erasure ---------------------------------------------------------------------

    def erase(self, account: Account, password: str) -> Erasure:
        """Erase the account, confirmed by its password; raise :class:`WrongPassword`.

        Every live grant is revoked (each with its ledger event and ``consent.revoked``
        webhooks), every token revoked, every disclosure, answer and contact a brand
        reported deleted (breaches stay: ``ContactPolicyService.delete_uncommitted``) and
        the data key shredded, so any copy of the ciphertexts (backups included) is
        unreadable for good. The email
        and password go; the account row and its pseudonym stay, because the ledger's events
        name it, and they hold no values. One transaction: all of it lands, or none.
        """
        if not account.is_active:
            raise AccountErased
        if not self.accounts.confirm_password(account, password):
            raise WrongPassword
        now = utcnow()
        try:
            # Tokens first, so the count covers all of them (a brand's revoke ends its own).
            tokens = self.tokens.revoke_all_of_account(account.id, now)
            revoked = self.consent.revoke_all_uncommitted(account, now, reason=ERASURE_REASON)
            deleted = self.disclosures.delete_all_uncommitted(account)
            answers = self.questions.delete_answers_uncommitted(account)
            contacts = self.contacts.delete_uncommitted(account)
            self.vault.shred(account.id)
            self.accounts.close_uncommitted(account, now)
            event = self.ledger.append(
                Event(
                    EventType.ACCOUNT_ERASED,
                    actor=actor_for(account),
                    subject=account.pseudonym,
                    fields=tuple(deleted),
                    details={
                        "brands_revoked": len(revoked),
                        "answers_deleted": answers,
                        "contacts_deleted": contacts,
                        "tokens_revoked": tokens,
                        "data_key": "shredded",
                    },
                )
            )
            self.session.commit()
        except Exception:
            self.session.rollback()
            raise
        names = dict(
            self.session.execute(
                select(Brand.public_id, Brand.name).where(Brand.public_id.in_(revoked))
            ).all()
        )
        return Erasure(revoked, names, deleted, tokens, event.seq)
