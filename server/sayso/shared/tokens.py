"""How Sayso makes and stores the secrets it hands out: random, prefixed so a leaked one is
recognisable, and stored only as a hash."""

from __future__ import annotations

import hashlib
import secrets


def token_hash(value: str) -> str:
    """How every secret Sayso hands out is stored: its SHA-256, hex."""
    return hashlib.sha256(value.encode()).hexdigest()


#: Every initial access token starts with this (so a leaked one is recognisable).
INITIAL_ACCESS_TOKEN_PREFIX = "sayso_iat"  # noqa: S105  (a prefix, not a secret)


def new_secret(prefix: str) -> str:
    """A fresh 256-bit secret, prefixed so a leaked one is recognisable in logs and scans."""
    return f"{prefix}_{secrets.token_urlsafe(32)}"


def new_client_id() -> str:
    """A fresh public client_id."""
    return "sayso_" + secrets.token_hex(12)


def new_client_secret() -> str:
    """A fresh client secret (shown to the brand once; only its hash is stored)."""
    return new_secret("sayso_cs")
