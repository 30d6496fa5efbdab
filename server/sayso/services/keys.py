"""Master key rotation: what each master key still wraps, and re-wrapping it all under the
current one (``sayso keys status`` and ``sayso keys rotate``).

Rotation re-wraps the two things sealed under the master key that live on: every account's
data key (the vault's, with the account's email index, which follows it) and every
client's webhook signing secret (the brand service's). No value is re-encrypted: values
are sealed with data keys, which do not change. Authorization codes and refresh retries,
sealed for a minute at most, open under any configured master key until they expire.
Pairwise subjects come from the subject key, which does not rotate.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from sayso.services.brands import BrandService
from sayso.services.vault import Vault
from sayso.shared.crypto import MasterKeys


@dataclass(frozen=True)
class KeyStatus:
    """What each master key wraps now."""

    current: bytes
    retired: tuple[bytes, ...]
    #: Data keys by the id of the master key that wraps them (``None``: wrapped before
    #: master keys had ids, by one of the configured keys or by one that is missing).
    data_keys: dict
    #: Webhook secrets by the id of the configured master key that opens them.
    webhook_secrets: Counter
    #: Webhook secrets no configured key opens, by the id they name (``None``: none).
    webhook_secrets_missing: Counter

    @property
    def untagged(self) -> int:
        """Data keys wrapped before master keys had ids (the next rotation tags them)."""
        return self.data_keys.get(None, 0)

    def wraps(self, key_id: bytes) -> tuple[int, int]:
        """How many data keys and webhook secrets the key with this id wraps."""
        return (
            self.data_keys.get(key_id, 0),
            self.webhook_secrets.get(key_id, 0) + self.webhook_secrets_missing.get(key_id, 0),
        )

    @property
    def missing(self) -> list[bytes]:
        """Ids of master keys that wrap something but are not configured."""
        configured = {self.current, *self.retired}
        named = {k for k in (*self.data_keys, *self.webhook_secrets_missing) if k is not None}
        return sorted(named - configured)

    @property
    def unopened(self) -> int:
        """Webhook secrets from before ids that no configured master key opens."""
        return self.webhook_secrets_missing.get(None, 0)

    def droppable(self, key_id: bytes) -> bool:
        """Whether the retired key with this id wraps nothing any more."""
        return self.wraps(key_id) == (0, 0) and self.untagged == 0


@dataclass
class RotationResult:
    """What a run of :meth:`KeyRotation.rotate` did."""

    data_keys: int = 0
    webhook_secrets: int = 0
    #: Whether it went through every row (not stopped by ``limit`` or a signal).
    complete: bool = False
    #: Rows it could not re-wrap, by the id of the missing master key that wraps them.
    missing: Counter = field(default_factory=Counter)
    #: Where each missing key was first met ("account 12", "client sayso_...").
    first_missing: dict = field(default_factory=dict)
    #: Accounts whose email does not open with their data key (left as they were).
    unreadable: list = field(default_factory=list)
    #: Accounts whose address another account took while their key was missing (left).
    conflicting: list = field(default_factory=list)


class KeyRotation:
    """Reports and rotates what the master keys wrap. Each batch is its own transaction."""

    def __init__(self, session, keys: MasterKeys, vault: Vault, brands: BrandService):
        self.session = session
        self.keys = keys
        self.vault = vault
        self.brands = brands

    def status(self) -> KeyStatus:
        """What each master key wraps, counted now."""
        try:
            data_keys = self.vault.data_keys_by_master_key()
            sealed, missing = self.brands.webhook_secrets.by_master_key()
        finally:
            self.session.rollback()  # read only: hold no transaction while the report prints
        return KeyStatus(
            current=self.keys.current.key_id,
            retired=tuple(k.key_id for k in self.keys.retired),
            data_keys=data_keys,
            webhook_secrets=sealed,
            webhook_secrets_missing=missing,
        )

    def rotate(
        self,
        batch: int = 500,
        limit: int | None = None,
        pause: float = 0.0,
        stop: threading.Event | None = None,
        report: Callable[[str], None] = lambda line: None,
    ) -> RotationResult:
        """Re-wrap under the current master key, ``batch`` rows per committed transaction,
        every data key and webhook secret that another key (or none named) wraps; at most
        ``limit`` rows looked at, ``pause`` seconds between batches, until ``stop`` is set.

        Idempotent: a row already under the current key is not touched, so a run stopped
        anywhere (a signal, a kill, ``limit``) is finished by running it again.
        """
        stop = stop or threading.Event()
        result = RotationResult()
        budget = [limit]

        def take(size: int) -> int:
            return size if budget[0] is None else min(size, budget[0])

        def spend(rows: int) -> None:
            if budget[0] is not None:
                budget[0] -= rows

        after = 0
        while take(batch) > 0 and not stop.is_set():
            done = self.vault.rewrap_data_keys(after, take(batch))
            if done.last_account_id is None:
                break
            left = len(done.unreadable) + len(done.conflicting)
            looked_at = done.rewrapped + sum(done.missing.values()) + left
            spend(max(looked_at, 1))
            after = done.last_account_id
            result.data_keys += done.rewrapped
            result.missing.update(done.missing)
            for key_id, account_id in done.first_missing.items():
                result.first_missing.setdefault(key_id, f"account {account_id}")
            result.unreadable += done.unreadable
            result.conflicting += done.conflicting
            report(f"data keys: {done.rewrapped} re-wrapped ({result.data_keys} so far)")
            stop.wait(pause)
        else:
            return result  # stopped before the data keys were all looked at

        after = 0
        while take(batch) > 0 and not stop.is_set():
            resealed, last, missing = self.brands.webhook_secrets.reseal(after, take(batch))
            if last is None:
                result.complete = True
                break
            spend(max(resealed + len(missing), 1))
            after = last
            result.webhook_secrets += resealed
            for error in missing:
                result.missing[error.key_id] += 1
                result.first_missing.setdefault(error.key_id, error.what)
            report(f"webhook secrets: {resealed} re-sealed ({result.webhook_secrets} so far)")
            stop.wait(pause)
        return result
