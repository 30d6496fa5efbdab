"""The vault: per-account data keys wrapped by the master key, and the values they seal.

Every account gets its own AES-256-GCM data key; the database stores it only wrapped
(encrypted with the master key). Values are sealed with the account's key and a label
naming the row they belong to (associated data), so a ciphertext moved to another row
or account fails to open. Deleting the wrapped key — ``shred`` — makes every value and
backup of that account unreadable for good.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import os
import threading
import time

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from sayso.models import DataKey

_VERSION = b"\x01"
_NONCE = 12


class VaultError(Exception):
    """A value cannot be sealed or opened."""


class KeyShredded(VaultError):
    """The account's data key is gone: its values are unreadable for good."""


@functools.lru_cache(maxsize=32)
def derive_key(master_key: bytes, purpose: str) -> bytes:
    """A 32-byte subkey of the master key for one purpose (HKDF-SHA256).

    Memoised: services are built per request and each derives its subkeys; the result is a
    pure function of the master key, which the process holds anyway."""
    return HKDF(hashes.SHA256(), 32, salt=None, info=f"sayso/{purpose}".encode()).derive(master_key)


def seal(aead: AESGCM, plaintext: bytes, label: bytes) -> bytes:
    """``plaintext`` encrypted and authenticated together with ``label`` (associated data):
    ``0x01`` (format version) || 12-byte random nonce || AES-GCM ciphertext and tag."""
    nonce = os.urandom(_NONCE)
    return _VERSION + nonce + aead.encrypt(nonce, plaintext, label)


def unseal(aead: AESGCM, blob: bytes, label: bytes) -> bytes:
    """The plaintext of a :func:`seal` blob, if it opens with this key and label."""
    if len(blob) < 1 + _NONCE + 16 or blob[:1] != _VERSION:
        raise VaultError("not a sealed value of a known version")
    try:
        return aead.decrypt(blob[1 : 1 + _NONCE], blob[1 + _NONCE :], label)
    except InvalidTag:
        raise VaultError("value does not open with this key and label") from None


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


class Vault:
    """Seals and opens values for one account at a time."""

    def __init__(self, session, master_key: bytes, key_cache: DataKeyCache | None = None):
        self.session = session
        self._master = AESGCM(master_key)
        self._email_index_key = derive_key(master_key, "email-index/v1")
        self._cache = key_cache if key_cache is not None else DataKeyCache(0)

    def create_key(self, account_id: int) -> None:
        """Give a new account its data key (stored wrapped, in the caller's transaction)."""
        key = AESGCM.generate_key(bit_length=256)
        wrapped = seal(self._master, key, self._wrap_label(account_id))
        self.session.add(DataKey(account_id=account_id, wrapped_key=wrapped))

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
        it has been shredded), so a caller can load it in the same query as the values."""
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
        """The keyed hash under which an account's email is looked up."""
        return hmac.new(
            self._email_index_key, normalize_email(email).encode(), hashlib.sha256
        ).digest()

    def _data_key(self, account_id: int) -> AESGCM:
        row = self.session.get(DataKey, account_id)
        if row is None:
            raise KeyShredded(f"account {account_id} has no data key")
        return self._aead(account_id, row.wrapped_key)

    def _aead(self, account_id: int, wrapped_key: bytes) -> AESGCM:
        """The account's data key, unwrapped (or from the cache, found by its wrapped form)."""
        aead = self._cache.get(account_id, wrapped_key)
        if aead is None:
            key = unseal(self._master, wrapped_key, self._wrap_label(account_id))
            aead = AESGCM(key)
            self._cache.put(account_id, wrapped_key, aead)
        return aead

    @staticmethod
    def _label(account_id: int, label: str) -> bytes:
        return f"sayso/value/v1/{account_id}/{label}".encode()

    @staticmethod
    def _wrap_label(account_id: int) -> bytes:
        return f"sayso/data-key/v1/{account_id}".encode()
