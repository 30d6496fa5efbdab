"""What a brand needs to run its integration, per client: reads and errors per day, how its
webhook deliveries go, and how consumers decide on its consent page.

All of it is counted from what Sayso records anyway (ledger events, webhook deliveries), by
day and by field: never a consumer's value, never who a consumer is. It reads
``audit_events`` and ``webhook_deliveries`` and writes nothing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import Date, cast, func, select

from sayso.ledger import EventType
from sayso.models import AuditEvent, OAuthClient, WebhookDelivery
from sayso.shared.forms import N_

#: The days the dashboard covers, today included.
DASHBOARD_DAYS = 14
#: What counts as an error of a client's: each is recorded on the ledger with the client as
#: its actor. Refused API calls (an expired token, a field no longer granted) are answered
#: and not recorded, so they are not counted.
ERROR_TYPES: dict[str, str] = {
    str(EventType.CODE_REPLAYED): N_("an authorization code used twice"),
    str(EventType.REFRESH_REUSED): N_("a refresh token used twice"),
    str(EventType.TOKEN_EXPOSED): N_("a token exposed"),
    str(EventType.CONTACT_BREACHED): N_("a contact against a consumer's preferences"),
}
#: The chart's series: (kind, legend label, colour), as ``sayso.charts`` draws them.
#: Labels are English data (``N_``), translated where shown.
SERIES = (("reads", N_("reads"), "#2350b5"), ("errors", N_("errors"), "#a61b1b"))


@dataclass
class ClientActivity:
    """One client's reads and errors per day."""

    per_day: dict[date, dict[str, int]] = field(default_factory=dict)
    errors_by_kind: dict[str, int] = field(default_factory=dict)

    def count(self, day: date, kind: str) -> int:
        """How many ``reads`` or ``errors`` on ``day``."""
        return self.per_day.get(day, {}).get(kind, 0)

    def total(self, kind: str) -> int:
        """How many ``reads`` or ``errors`` over the days shown."""
        return sum(counts.get(kind, 0) for counts in self.per_day.values())


@dataclass(frozen=True)
class WebhookHealth:
    """How the client's webhook deliveries stand (every delivery still kept)."""

    delivered: int
    failed: int
    pending: int
    last_delivered_at: datetime | None
    last_failure_at: datetime | None
    #: The last failed attempt's HTTP status, or what went wrong (never a payload).
    last_failure: str | None

    @property
    def total(self) -> int:
        """Every delivery kept."""
        return self.delivered + self.failed + self.pending


@dataclass(frozen=True)
class FieldDecisions:
    """How consumers decided on one field the consent page asked for."""

    field: str
    allowed: int
    declined: int

    @property
    def decided(self) -> int:
        """Decisions on this field: allowed or declined."""
        return self.allowed + self.declined

    @property
    def rate(self) -> int | None:
        """The share allowed, in whole percent (``None`` before any decision)."""
        return round(100 * self.allowed / self.decided) if self.decided else None


@dataclass(frozen=True)
class ConsentRate:
    """Decisions taken on the client's consent page over the days shown."""

    allowed: int
    denied: int
    fields: list[FieldDecisions]

    @property
    def decided(self) -> int:
        """Consent pages answered, with Allow or Deny."""
        return self.allowed + self.denied

    @property
    def rate(self) -> int | None:
        """The share of answered pages that granted something, in whole percent."""
        return round(100 * self.allowed / self.decided) if self.decided else None


@dataclass(frozen=True)
class ClientDashboard:
    """Everything on one client's dashboard."""

    start: date
    end: date
    activity: ClientActivity
    webhooks: WebhookHealth | None
    consent: ConsentRate

    @property
    def days(self) -> list[date]:
        """Every day shown, in order."""
        return [self.start + timedelta(days=i) for i in range((self.end - self.start).days + 1)]


class IntegrationDashboard:
    """Counts per client from the ledger and the webhook outbox."""

    def __init__(self, session):
        self.session = session

    def for_client(
        self, client: OAuthClient, today: date, days: int = DASHBOARD_DAYS
    ) -> ClientDashboard:
        """The client's dashboard over the ``days`` days ending ``today`` (UTC)."""
        start = today - timedelta(days=days - 1)
        since = datetime.combine(start, time(), UTC)
        until = datetime.combine(today + timedelta(days=1), time(), UTC)
        return ClientDashboard(
            start=start,
            end=today,
            activity=self._activity(client, since, until),
            webhooks=self._webhooks(client) if client.webhook_url else None,
            consent=self._consent(client, since, until),
        )

    def _day(self):
        # Times are stored as naive UTC on both backends, so the date is the UTC date.
        occurred = AuditEvent.__table__.c.occurred_at
        if self.session.get_bind().dialect.name == "sqlite":
            return func.date(occurred)
        return cast(occurred, Date)

    def _activity(self, client: OAuthClient, since: datetime, until: datetime) -> ClientActivity:
        table = AuditEvent.__table__
        day = self._day()
        kinds = {str(EventType.PROFILE_READ): "reads", **dict.fromkeys(ERROR_TYPES, "errors")}
        rows = self.session.execute(
            select(table.c.type, day.label("day"), func.count().label("n"))
            .where(
                table.c.actor == f"client:{client.client_id}",
                table.c.type.in_(kinds),
                table.c.occurred_at >= since,
                table.c.occurred_at < until,
            )
            .group_by(table.c.type, day)
        ).all()
        activity = ClientActivity()
        for row in rows:
            when = date.fromisoformat(row.day) if isinstance(row.day, str) else row.day
            counts = activity.per_day.setdefault(when, {})
            kind = kinds[row.type]
            counts[kind] = counts.get(kind, 0) + row.n
            if kind == "errors":
                label = ERROR_TYPES[row.type]
                activity.errors_by_kind[label] = activity.errors_by_kind.get(label, 0) + row.n
        return activity

    def _webhooks(self, client: OAuthClient) -> WebhookHealth:
        counts = dict(
            self.session.execute(
                select(WebhookDelivery.status, func.count())
                .where(WebhookDelivery.client_id == client.client_id)
                .group_by(WebhookDelivery.status)
            ).all()
        )
        last_delivered = self.session.scalar(
            select(func.max(WebhookDelivery.delivered_at)).where(
                WebhookDelivery.client_id == client.client_id
            )
        )
        # A failure is any attempt that did not deliver: given up on, or pending a retry.
        failure = self.session.execute(
            select(
                WebhookDelivery.last_attempt_at,
                WebhookDelivery.last_status_code,
                WebhookDelivery.last_error,
            )
            .where(
                WebhookDelivery.client_id == client.client_id,
                WebhookDelivery.status != "delivered",
                WebhookDelivery.last_attempt_at.is_not(None),
            )
            .order_by(WebhookDelivery.last_attempt_at.desc())
            .limit(1)
        ).first()
        last_failure = None
        if failure is not None:
            if failure.last_status_code is not None:
                last_failure = f"your endpoint answered HTTP {failure.last_status_code}"
            else:
                last_failure = failure.last_error or "no answer"
        return WebhookHealth(
            delivered=counts.get("delivered", 0),
            failed=counts.get("failed", 0),
            pending=counts.get("pending", 0),
            last_delivered_at=last_delivered,
            last_failure_at=failure.last_attempt_at if failure is not None else None,
            last_failure=last_failure,
        )

    def _consent(self, client: OAuthClient, since: datetime, until: datetime) -> ConsentRate:
        """Allow and Deny on the client's consent page: grants made on it (not the
        extension's switches, which say ``via``) and denials, by field asked for."""
        table = AuditEvent.__table__
        rows = self.session.execute(
            select(table.c.type, table.c.fields, table.c.details).where(
                table.c.brand == client.brand.public_id,
                table.c.type.in_([str(EventType.CONSENT_GRANTED), str(EventType.CONSENT_DENIED)]),
                table.c.occurred_at >= since,
                table.c.occurred_at < until,
            )
        )
        allowed = denied = 0
        per_field: dict[str, list[int]] = {}
        for row in rows:
            details = json.loads(row.details)
            if details.get("client_id") != client.client_id or "via" in details:
                continue
            names = json.loads(row.fields)
            if row.type == EventType.CONSENT_GRANTED:
                allowed += 1
                for name in names:
                    per_field.setdefault(name, [0, 0])[0] += 1
                for name in details.get("declined") or ():
                    per_field.setdefault(name, [0, 0])[1] += 1
            else:
                denied += 1
                for name in names:
                    per_field.setdefault(name, [0, 0])[1] += 1
        fields = [FieldDecisions(name, a, d) for name, (a, d) in sorted(per_field.items())]
        return ConsentRate(allowed, denied, fields)
