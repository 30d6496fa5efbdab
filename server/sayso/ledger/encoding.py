"""The exact bytes the log commits to: an event's canonical JSON, and the entry around it.

An entry is ``salt ‖ canonical``: 16 random bytes, then the event as sorted-key compact
JSON in UTF-8. Its leaf hash (RFC 9162) is ``SHA-256(0x00 ‖ salt ‖ canonical)``. The salt is
why publishing leaf hashes (the log's tiles) reveals nothing: without it no one can confirm
a guessed event (a consumer, a brand, a minute) by hashing it. ``docs/ledger.md`` specifies
both formats precisely enough to write a verifier in another language.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Mapping
from datetime import UTC, datetime

from sayso.ledger.events import Event

#: The version of the canonical JSON written today. Version 1 (with ``seq``) is what the
#: hash chain wrote before the log; such events were carried over unchanged (legacy.py).
CANONICAL_VERSION = 2
SALT_BYTES = 16
_ESCAPED_NUL = b"\\u0000"  # how JSON writes U+0000 (a literal backslash-u0000 also matches)


def timestamp(moment: datetime) -> str:
    """A moment as the ledger writes it: UTC, microseconds, ``Z``."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def dumps(value) -> str:
    """Sorted-key compact JSON, non-ASCII kept as is: the canonical form."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def canonical_bytes(event: Event, occurred_at: datetime) -> bytes:
    """The event's canonical bytes (version 2): sorted-key compact JSON in UTF-8."""
    return dumps(
        {
            "v": CANONICAL_VERSION,
            "occurred_at": timestamp(occurred_at),
            "type": str(event.type),
            "actor": event.actor,
            "subject": event.subject,
            "brand": event.brand,
            "fields": sorted(set(event.fields)),
            "purpose": event.purpose,
            "details": dict(event.details),
        }
    ).encode("utf-8")


def recordable(event: Event, canonical: bytes) -> Event:
    """``event`` with U+0000 in its strings recorded as U+FFFD. PostgreSQL keeps no U+0000 in
    text or ``jsonb`` (the CHECK that holds the columns to ``canonical`` parses it), and an
    event must be recordable, and read the same, on both databases. Looked for in the bytes
    first: the walk over the event runs only in the rare case."""
    if _ESCAPED_NUL not in canonical:
        return event

    def clean(value):
        if isinstance(value, str):
            return value.replace("\x00", "\ufffd")
        if isinstance(value, Mapping):
            return {clean(key): clean(item) for key, item in value.items()}
        if isinstance(value, list | tuple):
            return type(value)(clean(item) for item in value)
        return value

    return Event(
        event.type,
        *(clean(getattr(event, name)) for name in ("actor", "subject", "brand", "fields")),
        clean(event.purpose),
        clean(event.details),
    )


def new_salt() -> bytes:
    """Fresh random salt for one entry."""
    return secrets.token_bytes(SALT_BYTES)


def entry_bytes(salt: bytes, canonical: bytes) -> bytes:
    """The entry the log commits to: ``salt ‖ canonical``."""
    return bytes(salt) + bytes(canonical)


def entry_leaf_hash(salt: bytes, canonical: bytes) -> bytes:
    """``SHA-256(0x00 ‖ salt ‖ canonical)``: the entry's RFC 9162 leaf hash."""
    return hashlib.sha256(b"\x00" + bytes(salt) + bytes(canonical)).digest()
