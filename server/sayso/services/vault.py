"""The vault: per-account data keys wrapped by the master key, and the values they seal.

Every account gets its own AES-256-GCM data key; the database stores it only wrapped
(encrypted with the master key). Values are sealed with the account's key and a label
naming the row they belong to (associated data), so a ciphertext moved to another row
or account fails to open. Deleting the wrapped key — ``shred`` — makes every value and
backup of that account unreadable for good.

The master key can be rotated (``sayso keys rotate``): a wrapped key names the master key
that wrapped it by an id derived from that key (:class:`MasterKeys`), so a read unwraps
with whichever configured key wrapped the row, and rotation only re-wraps the data keys:
no value is ever re-encrypted.
"""

from __future__ import annotations

import hashlib
import hmac
import threading
import time
from collections import Counter
from dataclasses import dataclass, field

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import LargeBinary, case, func, literal, select, update

from sayso.models import Account, DataKey
from sayso.shared.crypto import (
    KEY_ID_LENGTH,
    KEYED_HEADER_LENGTH,
    KEYED_VERSION,
    KeyShredded,
    MasterKey,
    MasterKeyMissing,
    MasterKeys,
    VaultError,
    derive_key,
    key_id_of,
    keyed_body,
    keyed_prefix,
    seal,
    seal_keyed,
    unseal,
)


def normalize_email(email: str) -> str:
    """The form of an email address that identifies an account."""
    return email.strip().casefold()


class DataKeyCache:
    """Unwrapped data keys, each kept for at most ``seconds``, at most ``max_entries`` of them.

    An entry is found only by the account *and its wrapped key as just read from the
    database*: the cache saves the unwrap, never the read. Once a key is shredded there is
    no wrapped key to look up with, so erasure takes effect at once in every worker; the
    lifetime bounds how long an unwrapped key stays in this process's memory.
    """

    def __init__(self, seconds: float, max_entries: int = 10_000, clock=time.monotonic):
        self.seconds = seconds
        self.max_entries = max_entries
        self._clock = clock
        self._entries: dict[tuple[int, bytes], tuple[float, AESGCM]] = {}
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, account_id: int, wrapped_key: bytes) -> AESGCM | None:
        """The cached key, if there is one still within its lifetime."""
        entry = self._entries.get((account_id, wrapped_key))
        if entry is None or entry[0] <= self._clock():
            return None
        return entry[1]

    def put(self, account_id: int, wrapped_key: bytes, aead: AESGCM) -> None:
        """Keep ``aead`` for ``seconds``; when full, drop the expired, then the oldest."""
        if self.seconds <= 0:
            return
        now = self._clock()
        with self._lock:
            if len(self._entries) >= self.max_entries:
                for key in [k for k, (until, _) in self._entries.items() if until <= now]:
                    del self._entries[key]
                while len(self._entries) >= self.max_entries:
                    del self._entries[next(iter(self._entries))]  # dicts keep insertion order
            self._entries[(account_id, wrapped_key)] = (now + self.seconds, aead)

    def forget(self, account_id: int) -> None:
        """Drop every key of the account (it has just been shredded)."""
        with self._lock:
            for key in [k for k in self._entries if k[0] == account_id]:
                del self._entries[key]


@dataclass
class RewrapBatch:
    """What one batch of :meth:`Vault.rewrap_data_keys` did."""

    rewrapped: int = 0
    #: The last account id looked at: the next batch starts after it (``None``: none left).
    last_account_id: int | None = None
    #: Data keys it could not re-wrap, by the id of the master key they need (``None``:
    #: wrapped before ids, by no configured key), each with the first account it names.
    missing: Counter = field(default_factory=Counter)
    first_missing: dict = field(default_factory=dict)
    #: Accounts left as they were because their email does not open with their data key
    #: (re-wrapping it would leave the email indexed under the retired key).
    unreadable: list = field(default_factory=list)
    #: Accounts left as they were because another account has their email address under
    #: the current key (it signed up while their master key was missing).
    conflicting: list = field(default_factory=list)


class Vault:
    """Seals and opens values for one account at a time."""

    def __init__(
        self, session, master_keys: MasterKeys | bytes, key_cache: DataKeyCache | None = None
    ):
        self.session = session
        self.keys = MasterKeys.coerce(master_keys)
        self._cache = key_cache if key_cache is not None else DataKeyCache(0)

    def create_key(self, account_id: int) -> None:
        """Give a new account its data key (stored wrapped, in the caller's transaction)."""
        key = AESGCM.generate_key(bit_length=256)
        self.session.add(DataKey(account_id=account_id, wrapped_key=self._wrap(account_id, key)))

    def encrypt_for(self, account_id: int, label: str, plaintext: bytes) -> bytes:
        """Seal ``plaintext`` for the account; ``label`` names the row it will live in."""
        return seal(self._data_key(account_id), plaintext, self._label(account_id, label))

    def decrypt_for(self, account_id: int, label: str, blob: bytes) -> bytes:
        """Open a value sealed by :meth:`encrypt_for` with the same account and label."""
        return unseal(self._data_key(account_id), blob, self._label(account_id, label))

    def decrypt_with(
        self, account_id: int, wrapped_key: bytes | None, label: str, blob: bytes
    ) -> bytes:
        """:meth:`decrypt_for` with the account's wrapped key already fetched (``None`` when
        it has been shredded), so a caller can load it in the same query as the values.
        The wrapped key names its master key: it may be the current one or a retired one."""
        if wrapped_key is None:
            raise KeyShredded(f"account {account_id} has no data key")
        return unseal(self._aead(account_id, wrapped_key), blob, self._label(account_id, label))

    def shred(self, account_id: int) -> None:
        """Delete the account's data key: everything sealed with it is unreadable from now on."""
        key = self.session.get(DataKey, account_id)
        if key is not None:
            self.session.delete(key)
        self._cache.forget(account_id)

    def email_index(self, email: str) -> bytes:
        """The keyed hash under which a new account's email is stored (current master key)."""
        return self._email_index(self.keys.current, email)

    def email_indexes(self, email: str) -> list[bytes]:
        """Every keyed hash an existing account's email may be stored under: one per
        configured master key, the current one first. An account's email is indexed under
        the master key that wraps its data key, and re-indexed when that is re-wrapped."""
        return [self._email_index(key, email) for key in self.keys]

    # Rotation -----------------------------------------------------------------

    def data_keys_by_master_key(self) -> dict[bytes | None, int]:
        """How many data keys each master key wraps, by key id (``None``: wrapped before
        wrapped keys named their master key, by whichever key was in use then)."""
        column = DataKey.wrapped_key
        key_id = case(
            (
                func.substr(column, 1, 1, type_=LargeBinary) == literal(KEYED_VERSION, LargeBinary),
                func.substr(column, 2, KEY_ID_LENGTH, type_=LargeBinary),
            ),
            else_=None,
        ).label("master_key_id")
        rows = self.session.execute(select(key_id, func.count()).group_by("master_key_id")).all()
        return {(bytes(k) if k is not None else None): n for k, n in rows}

    def rewrap_data_keys(self, after: int, limit: int) -> RewrapBatch:
        """Re-wrap under the current master key up to ``limit`` data keys (of accounts after
        ``after``, in id order) that another master key wraps, or none names, and re-index
        those accounts' emails under it too; commits.

        Each row is written by one conditional statement (``WHERE wrapped_key`` is still
        the one unwrapped), so a row erased or re-wrapped meanwhile is left alone, and an
        interrupted batch leaves every row as it was: under a key that still opens it.
        """
        current = self.keys.current
        batch = RewrapBatch()
        rows = self.session.execute(
            select(
                DataKey.account_id,
                DataKey.wrapped_key,
                Account.email_encrypted,
                Account.email_index,
            )
            .join(Account, Account.id == DataKey.account_id)
            .where(
                DataKey.account_id > after,
                func.substr(DataKey.wrapped_key, 1, KEYED_HEADER_LENGTH, type_=LargeBinary)
                != literal(keyed_prefix(current), LargeBinary),
            )
            .order_by(DataKey.account_id)
            .limit(limit)
            # The accounts first, as erasure takes them (its account, then the data key):
            # in the other order, the two could deadlock.
            .with_for_update(of=Account)
        ).all()
        ready = []  # (row, data key, new email index or None)
        for row in rows:
            batch.last_account_id = row.account_id
            try:
                key = self._unwrap(row.account_id, row.wrapped_key)
            except MasterKeyMissing as missing:
                batch.missing[missing.key_id] += 1
                batch.first_missing.setdefault(missing.key_id, row.account_id)
                continue
            index = None
            if row.email_encrypted is not None and row.email_index is not None:
                label = self._label(row.account_id, "email")
                try:
                    email = unseal(AESGCM(key), row.email_encrypted, label).decode()
                except VaultError:
                    batch.unreadable.append(row.account_id)
                    continue
                index = self._email_index(current, email)
            ready.append((row, key, index))
        # An address already indexed under the current key by another account: one signed
        # up with it while this account's key was missing (dropped too early). Re-indexing
        # would break the unique index; the account stays as it is, for the operator.
        taken = dict(
            self.session.execute(
                select(Account.email_index, Account.id).where(
                    Account.email_index.in_([i for _, _, i in ready if i is not None])
                )
            ).all()
        )
        for row, key, index in ready:
            if index is not None and taken.get(index, row.account_id) != row.account_id:
                batch.conflicting.append(row.account_id)
                continue
            done = self.session.execute(
                update(DataKey)
                .where(
                    DataKey.account_id == row.account_id,
                    DataKey.wrapped_key == row.wrapped_key,
                )
                .values(wrapped_key=self._wrap(row.account_id, key))
                .execution_options(synchronize_session=False)
            ).rowcount
            if done and index is not None and index != row.email_index:
                # The email's index follows the key that wraps the account's data key, so
                # a retired key, once it wraps nothing, indexes nothing either.
                self.session.execute(
                    update(Account)
                    .where(Account.id == row.account_id, Account.email_index.is_not(None))
                    .values(email_index=index)
                    .execution_options(synchronize_session=False)
                )
            batch.rewrapped += done
        self.session.commit()
        return batch

    # Internals ----------------------------------------------------------------

    def _data_key(self, account_id: int) -> AESGCM:
        row = self.session.get(DataKey, account_id)
        if row is None:
            raise KeyShredded(f"account {account_id} has no data key")
        return self._aead(account_id, row.wrapped_key)

    def _aead(self, account_id: int, wrapped_key: bytes) -> AESGCM:
        """The account's data key, unwrapped (or from the cache, found by its wrapped form)."""
        aead = self._cache.get(account_id, wrapped_key)
        if aead is None:
            aead = AESGCM(self._unwrap(account_id, wrapped_key))
            self._cache.put(account_id, wrapped_key, aead)
        return aead

    def _wrap(self, account_id: int, key: bytes) -> bytes:
        return seal_keyed(self.keys.current, None, key, self._wrap_label(account_id))

    def _unwrap(self, account_id: int, wrapped_key: bytes) -> bytes:
        """The data key, unwrapped with the master key that wrapped it."""
        label = self._wrap_label(account_id)
        key_id = key_id_of(wrapped_key)
        if key_id is not None:
            master = self.keys.find(key_id)
            if master is None:
                raise MasterKeyMissing(f"the data key of account {account_id}", key_id)
            return unseal(master.aead(), keyed_body(wrapped_key), label)
        # Wrapped before keys had ids (a bare seal, ``0x01``...): by the master key of the
        # day, which is the current one or, after a rotation, one of the retired ones.
        for master in self.keys:
            try:
                return unseal(master.aead(), wrapped_key, label)
            except VaultError:
                continue
        raise MasterKeyMissing(f"the data key of account {account_id}", None)

    @staticmethod
    def _email_index(key: MasterKey, email: str) -> bytes:
        return hmac.new(
            derive_key(key.secret, "email-index/v1"),
            normalize_email(email).encode(),
            hashlib.sha256,
        ).digest()

    @staticmethod
    def _label(account_id: int, label: str) -> bytes:
        return f"sayso/value/v1/{account_id}/{label}".encode()

    @staticmethod
    def _wrap_label(account_id: int) -> bytes:
        return f"sayso/data-key/v1/{account_id}".encode()
