"""Webhooks: signed events to brands, queued in a durable outbox.

``enqueue`` writes a delivery row in the caller's transaction, so the event exists
if and only if the change it announces committed. A worker (``sayso webhooks deliver``)
sends due rows and retries failures with backoff; see ``docs/brands.md`` for how a brand
verifies the ``Sayso-Signature`` header.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import secrets
import time

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from sayso.models import OAuthClient, WebhookDelivery
from sayso.shared.clock import utcnow

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "Sayso-Signature"
SIGNATURE_VERSION = "v1"
EVENT_ID_HEADER = "Sayso-Event-Id"
EVENT_TYPE_HEADER = "Sayso-Event-Type"
USER_AGENT = "Sayso-Webhooks/1"

STATUSES = ("pending", "delivered", "failed")

#: How many numbers an event may try before its transaction gives up: each refusal means
#: another transaction committed an event for the client meanwhile.
SEQUENCE_ATTEMPTS = 100


def sign(secret: str, body: bytes, timestamp: int | None = None) -> str:
    """The ``Sayso-Signature`` value: ``t=<unix seconds>,v1=<hex HMAC-SHA256>``.

    The MAC covers ``f"{t}." + body``, so a captured delivery cannot be replayed later
    with a fresh timestamp.
    """
    t = int(time.time()) if timestamp is None else timestamp
    mac = hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={t},{SIGNATURE_VERSION}={mac}"


def verify(
    secret: str, body: bytes, header: str, tolerance: int = 300, now: int | None = None
) -> bool:
    """Check a ``Sayso-Signature`` header (what a brand does on receipt)."""
    try:
        parts = dict(item.split("=", 1) for item in header.split(","))
        t = int(parts["t"])
        given = parts[SIGNATURE_VERSION].encode("ascii")
    except (KeyError, ValueError):  # UnicodeEncodeError too: a MAC is hex
        return False
    current = int(time.time()) if now is None else now
    if abs(current - t) > tolerance:
        return False
    expected = sign(secret, body, t).split(f"{SIGNATURE_VERSION}=", 1)[1]
    return hmac.compare_digest(expected.encode("ascii"), given)


class WebhookOutbox:
    """Queues events for clients' webhook URLs (the ``webhook_deliveries`` table)."""

    def __init__(self, session):
        self.session = session

    def enqueue(self, client: OAuthClient, event_type: str, data: dict) -> WebhookDelivery | None:
        """Queue ``event_type`` with ``data`` for ``client``, in the caller's transaction,
        numbered with the client's next ``sequence``.

        Two transactions may enqueue for one client at once (two consumers revoking the
        same brand hold no lock in common), and both read the same last number. The
        unique constraint on (client, sequence) settles it: the second one's row is
        refused once the first commits (on PostgreSQL its ``INSERT`` waits for the first
        transaction to end), and it takes the number after, in a savepoint, so the rest of
        its transaction stands. Numbers follow the order in which the rows commit.

        Nothing in the body is shared with another brand's copy of the same change: the
        ``sequence`` is the client's own count, and ``created_at`` is to the second (a
        number from one counter for everyone, or a microsecond, would be a key on which
        two brands could join their pseudonyms for one consumer)."""
        if not client.webhook_url:
            return None
        event_id = "evt_" + secrets.token_hex(16)
        attempt = 0
        while True:
            attempt += 1
            sequence = 1 + (
                self.session.scalar(
                    select(func.max(WebhookDelivery.sequence)).where(
                        WebhookDelivery.client_id == client.client_id
                    )
                )
                or 0
            )
            body = {
                "id": event_id,
                "type": event_type,
                "created_at": _now_iso(),
                "data": {**data, "sequence": sequence},
            }
            delivery = WebhookDelivery(
                client_id=client.client_id,
                event_id=event_id,
                event_type=event_type,
                sequence=sequence,
                payload=json.dumps(body, sort_keys=True, separators=(",", ":")),
            )
            try:
                with self.session.begin_nested():
                    self.session.add(delivery)
            except IntegrityError as error:
                if attempt >= SEQUENCE_ATTEMPTS or not _sequence_taken(error):
                    raise
                continue  # another transaction committed this number first: the next one
            return delivery

    def deliveries(
        self, status: str | None = None, client_ids: list[str] | None = None, limit: int = 50
    ) -> list[WebhookDelivery]:
        """The most recent deliveries, newest first (for operators and the brand portal)."""
        query = select(WebhookDelivery).order_by(WebhookDelivery.id.desc()).limit(limit)
        if status is not None:
            query = query.where(WebhookDelivery.status == status)
        if client_ids is not None:
            query = query.where(WebhookDelivery.client_id.in_(client_ids))
        return list(self.session.scalars(query))


def _sequence_taken(error: IntegrityError) -> bool:
    # PostgreSQL names the constraint; SQLite names its columns.
    message = str(error.orig)
    return (
        "uq_webhook_deliveries_client_sequence" in message
        or "webhook_deliveries.client_id, webhook_deliveries.sequence" in message
    )


def _now_iso() -> str:
    return utcnow().strftime("%Y-%m-%dT%H:%M:%SZ")
