"""Disclosures: what a consumer volunteers, sealed by the vault, every change on the ledger."""

from __future__ import annotations

import json
from collections import defaultdict

from marshmallow import ValidationError
from sqlalchemy import select

from sayso.fields import FIELDS
from sayso.ledger import Event, EventType, Ledger
from sayso.models import Account, Brand, DataKey, Disclosure, Grant
from sayso.services.accounts import actor_for
from sayso.services.brands import BrandService
from sayso.services.vault import Vault
from sayso.services.webhooks import WebhookOutbox
from sayso.shared.clock import utcnow


def _encode(value) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":")).encode()


class DisclosureService:
    """Owns the ``disclosures`` table. Values are validated by the caller (``fields.py``)."""

    def __init__(
        self,
        session,
        vault: Vault,
        ledger: Ledger,
        outbox: WebhookOutbox | None = None,
        brands: BrandService | None = None,
    ):
        self.session = session
        self.vault = vault
        self.ledger = ledger
        # Without an outbox (and the brand service for pairwise subjects) no change
        # notifications are queued; the app's factory always passes both.
        self.outbox = outbox
        self.brands = brands

    def read(self, account: Account) -> dict[str, object]:
        """Every field the account has disclosed, decrypted, in registry order."""
        # With the account's wrapped data key in the same statement: opened one field at a
        # time, each would read it again (the session holds a loaded key only weakly).
        rows = self.session.execute(
            select(Disclosure.field, Disclosure.ciphertext, DataKey.wrapped_key)
            .outerjoin(DataKey, DataKey.account_id == Disclosure.account_id)
            .where(Disclosure.account_id == account.id)
        ).all()
        values = {
            row.field: json.loads(
                self.vault.decrypt_with(account.id, row.wrapped_key, row.field, row.ciphertext)
            )
            for row in rows
            if row.field in FIELDS
        }
        return {name: values[name] for name in FIELDS if name in values}

    def update(self, account: Account, changes: dict[str, object]) -> list[str]:
        """Set or delete (``None`` or an empty list) fields, with their events, at once.

        Returns the names of the fields that actually changed; unchanged values write
        nothing and log nothing.
        """
        unknown = set(changes) - set(FIELDS)
        if unknown:
            raise KeyError(f"unknown fields: {sorted(unknown)}")
        self._check_brand_choices(account, changes)
        current = self.read(account)
        updated, deleted = [], []
        try:
            for name, value in changes.items():
                if not value:
                    if name in current:
                        self.session.delete(self.session.get(Disclosure, (account.id, name)))
                        deleted.append(name)
                    continue
                if current.get(name) == value:
                    continue
                sealed = self.vault.encrypt_for(account.id, name, _encode(value))
                row = self.session.get(Disclosure, (account.id, name))
                if row is None:
                    self.session.add(
                        Disclosure(account_id=account.id, field=name, ciphertext=sealed)
                    )
                else:
                    row.ciphertext = sealed
                updated.append(name)
            actor = actor_for(account)
            if updated:
                self.ledger.append(
                    Event(
                        EventType.DISCLOSURE_UPDATED,
                        actor,
                        account.pseudonym,
                        fields=tuple(updated),
                    )
                )
            if deleted:
                self.ledger.append(
                    Event(
                        EventType.DISCLOSURE_DELETED,
                        actor,
                        account.pseudonym,
                        fields=tuple(deleted),
                    )
                )
            if updated or deleted:
                self._notify(account, set(updated + deleted), current, changes)
            self.session.commit()
        except Exception:
            self.session.rollback()
            raise
        return updated + deleted

    def _check_brand_choices(self, account: Account, changes: dict) -> None:
        """Refuse a per-brand choice (``hear_about``'s ``brands``) for a brand the consumer
        has never granted anything: a ``ValidationError`` under the field's name."""
        value = changes.get("hear_about") or {}
        named = set(value.get("brands") or {})
        if not named:
            return
        granted = set(
            self.session.scalars(
                select(Brand.public_id)
                .join(Grant, Grant.brand_id == Brand.id)
                .where(Grant.account_id == account.id, Brand.public_id.in_(named))
            )
        )
        strangers = sorted(named - granted)
        if strangers:
            message = "Not a brand you have granted: a choice of its own needs a grant first."
            raise ValidationError(
                {"hear_about": {"brands": {brand_id: [message] for brand_id in strangers}}}
            )

    def _notify(self, account: Account, changed: set[str], before: dict, after: dict) -> None:
        """Queue ``disclosure.updated`` for each brand with a live grant on a changed field.

        In the caller's transaction, so a brand hears of exactly the changes that
        committed. The event names fields, never values. A field read per brand
        (``hear_about``) is named only to the brands whose own view of it changed: a change
        to another brand's choice is no news to them.
        """
        if self.outbox is None or self.brands is None:
            return
        now = utcnow()
        grants = self.session.scalars(
            select(Grant).where(
                Grant.account_id == account.id,
                Grant.field.in_(changed),
                Grant.revoked_at.is_(None),
            )
        ).all()
        by_brand: dict[int, set[str]] = defaultdict(set)
        for grant in grants:
            if grant.is_live(now):
                by_brand[grant.brand_id].add(grant.field)
        if not by_brand:
            return
        for brand in self.session.scalars(select(Brand).where(Brand.id.in_(by_brand))):
            fields = {
                name
                for name in by_brand[brand.id]
                if FIELDS[name].for_brand(before.get(name) or None, brand.public_id)
                != FIELDS[name].for_brand(after.get(name) or None, brand.public_id)
            }
            if not fields:
                continue
            data = {
                "brand_id": brand.public_id,
                "sub": self.brands.pairwise_subject(brand.public_id, account.pseudonym),
                "fields": sorted(fields),
            }
            for client in brand.clients:
                self.outbox.enqueue(client, "disclosure.updated", data)

    def delete_all_uncommitted(self, account: Account) -> list[str]:
        """Delete every disclosure of the account in the caller's transaction; their names.

        No events: the caller (erasure) records the deletion in its own event.
        """
        rows = self.session.scalars(
            select(Disclosure).where(Disclosure.account_id == account.id)
        ).all()
        for row in rows:
            self.session.delete(row)
        return sorted(row.field for row in rows)

    def replace(self, account: Account, document: dict[str, list]) -> list[str]:
        """Make the account's disclosures exactly ``document``: absent fields are deleted."""
        return self.update(account, {name: document.get(name) for name in FIELDS})
