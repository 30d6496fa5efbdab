"""The ledger event of a grant, as the consent service writes it for every grant (a consent,
a grant again, an undo)."""

from __future__ import annotations

from datetime import datetime

from sayso.coarsening import COARSENABLE, EVERYTHING, View
from sayso.ledger import Event, EventType
from sayso.models import Account, Brand
from sayso.services.accounts import actor_for


def granted_event(
    account: Account,
    brand: Brand,
    client_id: str,
    declared: dict[str, str],
    expires_at: datetime | None,
    context: dict | None = None,
    views: dict[str, View] | None = None,
) -> Event:
    """The ledger event of a grant: the fields with the purposes declared for them, the
    client, the expiry, the view granted of each field that may be coarsened (its name and
    parameter, never a value), and what else the grant says of itself (``context``)."""
    shown = {
        field: (views or {}).get(field, EVERYTHING).as_json()
        for field in declared
        if field in COARSENABLE
    }
    return Event(
        EventType.CONSENT_GRANTED,
        actor=actor_for(account),
        subject=account.pseudonym,
        brand=brand.public_id,
        fields=tuple(declared),
        details={
            "client_id": client_id,
            "purposes": declared,
            "expires_at": expires_at.isoformat() if expires_at else None,
            **({"views": shown} if shown else {}),
            **(context or {}),
        },
    )
