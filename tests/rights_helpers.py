"""Helpers for the consumer-rights tests: consumers with marker values, the published key."""

from __future__ import annotations

import base64
import json

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import select

from sayso.extensions import db
from sayso.ledger.encoding import entry_leaf_hash
from sayso.models import Account, AuditEvent
from tests.helpers import api_headers, sign_up


def disclosures_with(marker: str) -> dict:
    """A disclosure document whose free text is ``marker`` (so it can be searched for)."""
    return {
        "interests": [{"topic_id": 100}, {"text": marker}],
        "browsing_categories": [{"topic_id": 332, "weight": 0.5}],
        "channels": [{"channel": "email", "max_per_week": 2}],
    }


def consumer_with(client, email: str, marker: str) -> dict:
    """Sign ``email`` up on ``client`` and disclose a document carrying ``marker``."""
    response = sign_up(client, email)
    assert response.status_code == 302, response.get_data(as_text=True)
    document = disclosures_with(marker)
    response = client.put("/api/v1/me/disclosures", json=document, headers=api_headers(client))
    assert response.status_code == 200
    return document


def published_key(client) -> Ed25519PublicKey:
    """The ledger key as anyone gets it: from ``/.well-known/sayso-ledger-key.json``."""
    document = client.get("/.well-known/sayso-ledger-key.json").get_json()
    raw = document["public_key"]
    return Ed25519PublicKey.from_public_bytes(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)))


def consumer_pseudonyms(app) -> list[str]:
    """The ledger pseudonyms of the consumers, in the order they signed up."""
    with app.app_context():
        return list(
            db.session.scalars(
                select(Account.pseudonym).where(Account.role == "consumer").order_by(Account.id)
            )
        )


def events(app, type_: str, subject: str | None = None) -> list[dict]:
    """Ledger events of one type (and subject), oldest first, as plain dicts."""
    with app.app_context():
        query = select(AuditEvent).where(AuditEvent.type == type_).order_by(AuditEvent.seq)
        if subject is not None:
            query = query.where(AuditEvent.subject == subject)
        return [
            {
                "seq": row.seq,
                "leaf_hash": entry_leaf_hash(row.salt, row.canonical).hex(),
                "subject": row.subject,
                "brand": row.brand,
                "fields": json.loads(row.fields),
                "details": json.loads(row.details),
                "canonical": row.canonical,
            }
            for row in db.session.scalars(query)
        ]
