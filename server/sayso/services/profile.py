"""The profile read: what a brand's token may see right now, and the ledger record of it."""

from __future__ import annotations

import json
from dataclasses import dataclass

from sqlalchemy import select

from sayso.models import Account, Brand, Disclosure, Grant, Token
from sayso.models._types import utcnow
from sayso.services.brands import BrandService
from sayso.services.consent import field_of
from sayso.services.ledger import Event, EventType, Ledger
from sayso.services.vault import Vault


class NothingGranted(Exception):
    """The token is valid but the consumer has revoked (or let expire) all it covers."""


@dataclass(frozen=True)
class ProfileRead:
    """What one read returned."""

    document: dict
    fields: list[str]


class ProfileService:
    """Reads a consumer's granted disclosures for a brand's token, recording every read."""

    def __init__(self, session, vault: Vault, ledger: Ledger, brands: BrandService):
        self.session = session
        self.vault = vault
        self.ledger = ledger
        self.brands = brands

    def read(self, token: Token) -> ProfileRead:
        """The token's scope intersected with the live grants, checked now, no cache.

        The read is a ledger event committed before anything is returned: if it cannot be
        recorded, this raises and nothing is disclosed (fail closed).
        """
        now = utcnow()
        wanted = {f for f in (field_of(s) for s in token.scope.split()) if f}
        grants = self.session.scalars(
            select(Grant).where(
                Grant.account_id == token.account_id,
                Grant.brand_id == token.brand_id,
                Grant.field.in_(wanted),
                Grant.revoked_at.is_(None),
            )
        ).all()
        live = sorted(g.field for g in grants if g.is_live(now))
        if not live:
            raise NothingGranted
        account = self.session.get(Account, token.account_id)
        if not account.is_active:
            raise NothingGranted  # erased: nothing of theirs is readable any more
        brand = self.session.get(Brand, token.brand_id)
        rows = self.session.scalars(
            select(Disclosure).where(
                Disclosure.account_id == account.id, Disclosure.field.in_(live)
            )
        ).all()
        values = {
            row.field: json.loads(self.vault.decrypt_for(account.id, row.field, row.ciphertext))
            for row in rows
        }
        document = {"sub": self.brands.pairwise_subject(brand.public_id, account.pseudonym)}
        document.update({field: values.get(field) for field in live})
        purposes = {g.field: g.purpose for g in grants if g.field in live}
        self.ledger.append(
            Event(
                EventType.PROFILE_READ,
                actor=f"client:{token.client_id}",
                subject=account.pseudonym,
                brand=brand.public_id,
                fields=tuple(live),
                details={"purposes": purposes},
            )
        )
        self.session.commit()
        return ProfileRead(document, live)
