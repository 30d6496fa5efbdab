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
import secrets
import time

from sayso.models import OAuthClient, WebhookDelivery
from sayso.models._types import utcnow

SIGNATURE_HEADER = "Sayso-Signature"
SIGNATURE_VERSION = "v1"


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
        given = parts[SIGNATURE_VERSION]
    except (KeyError, ValueError):
        return False
    current = int(time.time()) if now is None else now
    if abs(current - t) > tolerance:
        return False
    expected = sign(secret, body, t).split(f"{SIGNATURE_VERSION}=", 1)[1]
    return hmac.compare_digest(expected, given)


class WebhookOutbox:
    """Queues events for clients' webhook URLs (the ``webhook_deliveries`` table)."""

    def __init__(self, session):
        self.session = session

    def enqueue(self, client: OAuthClient, event_type: str, data: dict) -> WebhookDelivery | None:
        """Queue ``event_type`` with ``data`` for ``client``, in the caller's transaction."""
        if not client.webhook_url:
            return None
        event_id = "evt_" + secrets.token_hex(16)
        body = {"id": event_id, "type": event_type, "created_at": _now_iso(), "data": data}
        delivery = WebhookDelivery(
            client_id=client.client_id,
            event_id=event_id,
            event_type=event_type,
            payload=json.dumps(body, sort_keys=True, separators=(",", ":")),
        )
        self.session.add(delivery)
        return delivery


def _now_iso() -> str:
    return utcnow().strftime("%Y-%m-%dT%H:%M:%S.%fZ")
