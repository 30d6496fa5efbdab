"""Master keys and sealed values: the primitives under the vault, codes, retries and
subject ids. AES-256-GCM seals with a version byte and a random nonce, keys derived with
HKDF, a master key named by an id derived from it (so rotation knows which key wrapped
what)."""

from __future__ import annotations

import functools
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

_VERSION = b"\x01"
_NONCE = 12
#: A blob that names its master key: ``0x02`` || the key's 8-byte id || a :func:`seal`.
KEYED_VERSION = b"\x02"
KEY_ID_LENGTH = 8
KEYED_HEADER_LENGTH = len(KEYED_VERSION) + KEY_ID_LENGTH


class VaultError(Exception):
    """A value cannot be sealed or opened."""


class KeyShredded(VaultError):
    """The account's data key is gone: its values are unreadable for good."""


class MasterKeyMissing(VaultError):
    """Something was wrapped or sealed by a master key that is not configured (neither
    ``SAYSO_MASTER_KEY`` nor one of ``SAYSO_MASTER_KEYS_RETIRED``): a retired key was
    dropped while it still wrapped data. ``key_id`` is ``None`` for what was written
    before wrapped keys named their master key (and opens under none configured)."""

    def __init__(self, what: str, key_id: bytes | None):
        self.what = what
        self.key_id = key_id
        if key_id is None:
            super().__init__(
                f"{what} was wrapped, before master keys had ids, by a master key that is not "
                "configured: put that key back in SAYSO_MASTER_KEYS_RETIRED"
            )
        else:
            super().__init__(
                f"{what} is wrapped by master key {key_id.hex()}, which is not configured: "
                "put that key back in SAYSO_MASTER_KEYS_RETIRED, then run `sayso keys rotate`"
            )


@functools.lru_cache(maxsize=64)
def derive_key(master_key: bytes, purpose: str) -> bytes:
    """A 32-byte subkey of the master key for one purpose (HKDF-SHA256).

    Memoised: services are built per request and each derives its subkeys; the result is a
    pure function of the master key, which the process holds anyway."""
    return HKDF(hashes.SHA256(), 32, salt=None, info=f"sayso/{purpose}".encode()).derive(master_key)


def master_key_id(secret: bytes) -> bytes:
    """The 8-byte id of a master key, which what it wraps carries: derived from the key
    one way, so it names the key without revealing it (the key is never stored)."""
    return derive_key(secret, "master-key-id/v1")[:KEY_ID_LENGTH]


def legacy_subject_key(master_key: bytes) -> bytes:
    """The key pairwise subjects were derived with before ``SAYSO_SUBJECT_KEY`` existed:
    a subkey of the master key. Used as the subject key until one is set, so every ``sub``
    a brand holds stays the same."""
    return derive_key(master_key, "pairwise-subject/v1")


@dataclass(frozen=True)
class MasterKey:
    """One master key and its id."""

    secret: bytes = field(repr=False)
    key_id: bytes

    @classmethod
    def of(cls, secret: bytes) -> MasterKey:
        """The key with its id."""
        return cls(secret, master_key_id(secret))

    def aead(self, purpose: str | None = None) -> AESGCM:
        """AES-256-GCM under the key itself (``None``: data keys are wrapped with it) or
        under its subkey for ``purpose``."""
        return _aead(self.secret, purpose)


@functools.lru_cache(maxsize=64)
def _aead(secret: bytes, purpose: str | None) -> AESGCM:
    return AESGCM(secret if purpose is None else derive_key(secret, purpose))


class MasterKeys:
    """The master key that wraps and seals from now on (``SAYSO_MASTER_KEY``), and the
    retired ones still accepted to unwrap what they wrapped (``SAYSO_MASTER_KEYS_RETIRED``)
    until ``sayso keys rotate`` has re-wrapped it all under the current one."""

    def __init__(self, current: bytes, retired: Iterable[bytes] = ()):
        self.current = MasterKey.of(current)
        unique = dict.fromkeys(k for k in retired if k != current)
        self.retired = tuple(MasterKey.of(k) for k in unique)
        self._by_id = {k.key_id: k for k in (self.current, *self.retired)}

    @classmethod
    def coerce(cls, keys: MasterKeys | bytes) -> MasterKeys:
        """``keys`` as a key ring (a lone key is a ring with no retired key)."""
        return keys if isinstance(keys, MasterKeys) else cls(keys)

    def __iter__(self) -> Iterator[MasterKey]:
        """The current key first, then the retired ones."""
        yield self.current
        yield from self.retired

    def find(self, key_id: bytes) -> MasterKey | None:
        """The configured key with this id, if there is one."""
        return self._by_id.get(key_id)


def key_id_of(blob: bytes) -> bytes | None:
    """The id of the master key a keyed blob names; ``None`` for a blob from before ids."""
    if blob[:1] == KEYED_VERSION and len(blob) > KEYED_HEADER_LENGTH:
        return blob[1:KEYED_HEADER_LENGTH]
    return None


def seal_keyed(key: MasterKey, purpose: str | None, plaintext: bytes, label: bytes) -> bytes:
    """:func:`seal` under ``key`` (or its subkey for ``purpose``), prefixed with ``0x02``
    and the key's id, so whoever opens it knows which master key to use."""
    return KEYED_VERSION + key.key_id + seal(key.aead(purpose), plaintext, label)


def keyed_body(blob: bytes) -> bytes:
    """The :func:`seal` inside a keyed blob (after its key id)."""
    return blob[KEYED_HEADER_LENGTH:]


def keyed_prefix(key: MasterKey) -> bytes:
    """How every blob :func:`seal_keyed` under ``key`` begins."""
    return KEYED_VERSION + key.key_id


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
