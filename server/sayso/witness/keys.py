"""The witness's Ed25519 key: a file holding the raw 32-byte seed, readable by its owner only."""

from __future__ import annotations

import os
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

SEED_SIZE = 32


class WitnessKeyError(Exception):
    """The key file is missing or is not a 32-byte Ed25519 seed."""


def load_key(path: str | Path) -> Ed25519PrivateKey:
    """The private key whose seed ``path`` holds."""
    try:
        seed = Path(path).read_bytes()
    except FileNotFoundError:
        raise WitnessKeyError(f"no witness key at {path}: run `witness init`") from None
    if len(seed) != SEED_SIZE:
        raise WitnessKeyError(f"{path} is not a 32-byte Ed25519 seed ({len(seed)} bytes)")
    return Ed25519PrivateKey.from_private_bytes(seed)


def load_or_create_key(path: str | Path) -> Ed25519PrivateKey:
    """The key at ``path``, created first (mode 0600) if there is none."""
    seed = Ed25519PrivateKey.generate().private_bytes_raw()
    try:
        # O_EXCL: never overwrite a key another process just wrote; its mode is set at
        # creation, so the seed is never readable by others, not even for a moment.
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return load_key(path)
    with os.fdopen(descriptor, "wb") as file:
        file.write(seed)
    return load_key(path)
