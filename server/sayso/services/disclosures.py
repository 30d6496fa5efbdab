"""Disclosures: what a consumer volunteers, sealed by the vault, every change on the ledger."""

from __future__ import annotations

import json

from sqlalchemy import select

from sayso.fields import FIELDS
from sayso.models import Account, Disclosure
from sayso.services.accounts import actor_for
from sayso.services.ledger import Event, EventType, Ledger
from sayso.services.vault import Vault


def _encode(value) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":")).encode()


class DisclosureService:
    """Owns the ``disclosures`` table. Values are validated by the caller (``fields.py``)."""

    def __init__(self, session, vault: Vault, ledger: Ledger):
        self.session = session
        self.vault = vault
        self.ledger = ledger

    def read(self, account: Account) -> dict[str, list]:
        """Every field the account has disclosed, decrypted, in registry order."""
        rows = self.session.scalars(
            select(Disclosure).where(Disclosure.account_id == account.id)
        ).all()
        values = {
            row.field: json.loads(self.vault.decrypt_for(account.id, row.field, row.ciphertext))
            for row in rows
            if row.field in FIELDS
        }
        return {name: values[name] for name in FIELDS if name in values}

    def update(self, account: Account, changes: dict[str, list | None]) -> list[str]:
        """Set (a list) or delete (``None`` or an empty list) fields, with their events, at once.

        Returns the names of the fields that actually changed; unchanged values write
        nothing and log nothing.
        """
        unknown = set(changes) - set(FIELDS)
        if unknown:
            raise KeyError(f"unknown fields: {sorted(unknown)}")
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
            self.session.commit()
        except Exception:
            self.session.rollback()
            raise
        return updated + deleted

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
