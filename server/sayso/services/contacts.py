"""Contact policy: may a brand contact a consumer on a channel now, and the contacts it reports.

:func:`decide` is the whole policy, a pure function of the consumer's ``channels``
disclosure, the brand's contacts in the last seven days, the time and, when the brand
names the kind of message, what the consumer wants to hear about from it (``hear_about``).
The service around it loads those, answers brands' checks and records their reports,
flagging each contact that went beyond the consumer's preferences as a breach.
"""

from __future__ import annotations

import json
import zoneinfo
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta

from sqlalchemy import Integer, cast, delete, func, select

from sayso.about_fields import hear_about_for_brand
from sayso.ledger import Event, EventType, Ledger
from sayso.models import Account, Brand, Contact, Disclosure
from sayso.services.vault import Vault
from sayso.shared.clock import utcnow

#: The window a weekly cap counts over: the seven days up to the moment in question.
WEEK = timedelta(days=7)

ALLOWED = "ok"
NOT_PERMITTED = "channel_not_permitted"
CAP_REACHED = "weekly_cap_reached"
QUIET_HOURS = "quiet_hours"
KIND_NOT_WANTED = "kind_not_wanted"


@dataclass(frozen=True)
class Decision:
    """Whether a contact is allowed, why, and when it next would be (``None``: not foreseeable)."""

    allowed: bool
    reason: str
    next_allowed_at: datetime | None = None

    def as_dict(self) -> dict:
        """The JSON a brand gets."""
        when = self.next_allowed_at
        return {
            "allowed": self.allowed,
            "reason": self.reason,
            "next_allowed_at": when.astimezone(UTC).isoformat().replace("+00:00", "Z")
            if when
            else None,
        }


def _hhmm(value: str) -> time:
    hours, minutes = value.split(":")
    return time(int(hours), int(minutes))


def quiet_until(quiet_hours: dict | None, moment: datetime) -> datetime | None:
    """The end of the quiet window ``moment`` falls in, in UTC, or ``None`` if it is outside.

    Windows are wall-clock times in the consumer's zone and may span midnight
    (``22:00``-``07:00``).
    """
    if not quiet_hours:
        return None
    zone = zoneinfo.ZoneInfo(quiet_hours["tz"])
    local = moment.astimezone(zone)
    start, end = _hhmm(quiet_hours["start"]), _hhmm(quiet_hours["end"])
    now = local.time().replace(tzinfo=None)
    if start < end:
        inside = start <= now < end
        end_day = local.date()
    else:
        inside = now >= start or now < end
        end_day = local.date() + timedelta(days=1) if now >= start else local.date()
    if not inside:
        return None
    # A wall-clock end that a DST change skips resolves forward (zoneinfo's fold=0).
    return datetime.combine(end_day, end, tzinfo=zone).astimezone(UTC)


def decide(
    channels: list[dict] | None,
    channel: str,
    recent: list[datetime],
    now: datetime,
    kind: str | None = None,
    wanted: list[str] | None = None,
) -> Decision:
    """May a brand use ``channel`` at ``now``, given its contacts in the seven days before?

    ``recent`` are the brand's earlier contacts on that channel (any order; ones outside
    the seven days before ``now`` are ignored). A message of a ``kind`` the consumer did not
    ask for is refused first, when they have said what they want (``wanted``, the kinds of
    their ``hear_about`` as this brand reads it; ``None``: they have not said). Then the
    cap is checked before quiet hours, and ``next_allowed_at`` is the first moment both
    allow.
    """
    if kind is not None and wanted is not None and kind not in wanted:
        return Decision(False, KIND_NOT_WANTED)
    preference = next((c for c in channels or [] if c["channel"] == channel), None)
    if preference is None or preference["max_per_week"] == 0:
        return Decision(False, NOT_PERMITTED)
    window = sorted(t for t in recent if now - WEEK < t <= now)
    cap = preference["max_per_week"]
    quiet = preference.get("quiet_hours")
    if len(window) >= cap:
        # The cap frees up when enough of the oldest contacts leave the window.
        freed = window[len(window) - cap] + WEEK
        return Decision(False, CAP_REACHED, quiet_until(quiet, freed) or freed)
    until = quiet_until(quiet, now)
    if until is not None:
        return Decision(False, QUIET_HOURS, until)
    return Decision(True, ALLOWED)


@dataclass(frozen=True)
class ContactTally:
    """A brand's contacts with a consumer on one channel in the last seven days, and the cap."""

    channel: str
    count: int
    cap: int | None
    breaches: int


@dataclass(frozen=True)
class BreachSummary:
    """A brand's breaches, for the officer console."""

    brand: Brand
    breaches: int
    last_breach_at: datetime


class ContactPolicyService:
    """Owns the ``contacts`` table."""

    def __init__(self, session, vault: Vault, ledger: Ledger):
        self.session = session
        self.vault = vault
        self.ledger = ledger

    def _disclosed(self, account: Account, field: str):
        row = self.session.get(Disclosure, (account.id, field))
        if row is None:
            return None
        return json.loads(self.vault.decrypt_for(account.id, field, row.ciphertext))

    def channels_of(self, account: Account) -> list[dict] | None:
        """The consumer's ``channels`` disclosure, decrypted, or ``None``."""
        return self._disclosed(account, "channels")

    def wanted_kinds(self, account: Account, brand: Brand, kind: str | None) -> list[str] | None:
        """The kinds of message the consumer wants from this brand (its own choice, else
        the general one), or ``None`` if they have not said or ``kind`` is ``None``."""
        if kind is None:
            return None
        value = self._disclosed(account, "hear_about")
        return hear_about_for_brand(value, brand.public_id)["kinds"] if value else None

    def _recent(self, account: Account, brand: Brand, channel: str, now: datetime) -> list:
        return list(
            self.session.scalars(
                select(Contact.sent_at).where(
                    Contact.account_id == account.id,
                    Contact.brand_id == brand.id,
                    Contact.channel == channel,
                    Contact.sent_at > now - WEEK,
                    Contact.sent_at <= now,
                )
            )
        )

    def check(
        self,
        account: Account,
        brand: Brand,
        channel: str,
        actor: str,
        now: datetime | None = None,
        kind: str | None = None,
    ) -> Decision:
        """The decision for a brand about to contact the consumer (about a ``kind`` of
        message, if it says), recorded as a read."""
        now = now or utcnow()
        decision = decide(
            self.channels_of(account),
            channel,
            self._recent(account, brand, channel, now),
            now,
            kind,
            self.wanted_kinds(account, brand, kind),
        )
        self._verdict_read(account, brand, channel, decision, actor, kind)
        self.session.commit()
        return decision

    def _verdict_read(
        self,
        account: Account,
        brand: Brand,
        channel: str,
        decision: Decision,
        actor: str,
        kind: str | None = None,
    ) -> None:
        """Record that the brand is told a decision, a read of ``channels`` (and of
        ``hear_about`` when it named a kind), without their values."""
        details = {"channel": channel, "allowed": decision.allowed}
        if kind is not None:
            details["kind"] = kind
        self.ledger.append(
            Event(
                EventType.CONTACT_POLICY_CHECKED,
                actor=actor,
                subject=account.pseudonym,
                brand=brand.public_id,
                fields=("channels",) if kind is None else ("channels", "hear_about"),
                details=details,
            )
        )

    def record(
        self,
        account: Account,
        brand: Brand,
        channel: str,
        sent_at: datetime,
        actor: str,
        verdict_read: bool = False,
        kind: str | None = None,
    ) -> Contact:
        """Record a contact the brand reports; a breach if the policy would have refused it
        (a message of a ``kind`` the consumer did not ask for included).

        The breach is worked out whatever the brand may read (the consumer and officers
        see it). ``verdict_read``: the brand is told the verdict, which tells of the
        consumer's ``channels`` (and ``hear_about``, for a kind), so it is recorded as a
        read of them, in the same transaction as the contact.
        """
        decision = decide(
            self.channels_of(account),
            channel,
            self._recent(account, brand, channel, sent_at),
            sent_at,
            kind,
            self.wanted_kinds(account, brand, kind),
        )
        contact = Contact(
            account_id=account.id,
            brand_id=brand.id,
            channel=channel,
            sent_at=sent_at,
            breach=not decision.allowed,
            reason=decision.reason,
            kind=kind,
        )
        details = {"channel": channel, "reason": decision.reason}
        if kind is not None:
            details["kind"] = kind
        try:
            self.session.add(contact)
            self.ledger.append(
                Event(
                    EventType.CONTACT_BREACHED if contact.breach else EventType.CONTACT_RECORDED,
                    actor=actor,
                    subject=account.pseudonym,
                    brand=brand.public_id,
                    details=details,
                )
            )
            if verdict_read:
                self._verdict_read(account, brand, channel, decision, actor, kind)
            self.session.commit()
        except Exception:
            self.session.rollback()
            raise
        return contact

    def delete_uncommitted(self, account: Account) -> int:
        """Delete the account's contacts that broke no preference (erasure), in the caller's
        transaction. Breaches stay, as the ledger's events of them do: they are the record
        of what a brand did wrong, and name the consumer only by the account's row."""
        return self.session.execute(
            delete(Contact).where(Contact.account_id == account.id, Contact.breach.is_(False))
        ).rowcount

    def this_week_by_brand(
        self, account: Account, now: datetime | None = None
    ) -> dict[int, list[ContactTally]]:
        """Per brand id and channel, contacts in the last seven days against the consumer's cap."""
        now = now or utcnow()
        caps = {c["channel"]: c["max_per_week"] for c in self.channels_of(account) or []}
        rows = self.session.execute(
            select(
                Contact.brand_id,
                Contact.channel,
                func.count(),
                func.sum(cast(Contact.breach, Integer)),
            )
            .where(
                Contact.account_id == account.id,
                Contact.sent_at > now - WEEK,
                Contact.sent_at <= now,
            )
            .group_by(Contact.brand_id, Contact.channel)
        ).all()
        tallies: dict[int, list[ContactTally]] = {}
        for brand_id, channel, count, breaches in sorted(rows):
            tallies.setdefault(brand_id, []).append(
                ContactTally(channel, count, caps.get(channel), int(breaches or 0))
            )
        return tallies

    def history_of(self, account: Account) -> list[dict]:
        """Every contact brands reported for the account, oldest first (export)."""
        rows = self.session.execute(
            select(Contact, Brand.public_id, Brand.name)
            .join(Brand, Brand.id == Contact.brand_id)
            .where(Contact.account_id == account.id)
            .order_by(Contact.sent_at, Contact.id)
        ).all()
        return [
            {
                "brand_id": public_id,
                "brand_name": name,
                "channel": contact.channel,
                "sent_at": contact.sent_at.isoformat(),
                "breach": contact.breach,
                "reason": contact.reason,
                "kind": contact.kind,
            }
            for contact, public_id, name in rows
        ]

    def brands_with_breaches(self) -> list[BreachSummary]:
        """Every brand that has breached a consumer's preferences, most breaches first."""
        rows = self.session.execute(
            select(Contact.brand_id, func.count(), func.max(Contact.sent_at))
            .where(Contact.breach.is_(True))
            .group_by(Contact.brand_id)
        ).all()
        brands = {
            b.id: b
            for b in self.session.scalars(select(Brand).where(Brand.id.in_([r[0] for r in rows])))
        }
        summaries = [BreachSummary(brands[b], n, last) for b, n, last in rows]
        return sorted(summaries, key=lambda s: (-s.breaches, s.brand.name.casefold()))
