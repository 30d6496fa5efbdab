"""An RFC 9162 verifier written in the tests from the RFC's text (§2.1), and a C2SP note
reader from the signed-note and tlog-checkpoint specs: the functional tests check what the
server publishes with these, never with the server's own verification code."""

from __future__ import annotations

import base64
import hashlib

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey


def _h(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def mth(leaf_hashes: list[bytes]) -> bytes:
    """MTH over already-hashed leaves (§2.1.1): split at the largest power of two < n."""
    n = len(leaf_hashes)
    if n == 0:
        return _h(b"")
    if n == 1:
        return leaf_hashes[0]
    k = 1
    while k * 2 < n:
        k *= 2
    return _h(b"\x01" + mth(leaf_hashes[:k]) + mth(leaf_hashes[k:]))


def verify_inclusion(leaf_hash: bytes, index: int, size: int, path: list[bytes], root: bytes):
    """§2.1.3.2, step by step."""
    if index >= size:
        return False
    fn, sn, r = index, size - 1, leaf_hash
    for p in path:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = _h(b"\x01" + p + r)
            if not fn & 1:
                while not (fn & 1 or fn == 0):
                    fn >>= 1
                    sn >>= 1
        else:
            r = _h(b"\x01" + r + p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


def verify_consistency(first: int, second: int, first_hash, second_hash, path: list[bytes]):
    """§2.1.4.2, step by step."""
    if first > second or first == 0:
        return False
    if first == second:
        return not path and first_hash == second_hash
    if first & (first - 1) == 0:
        path = [first_hash, *path]
    if not path:
        return False
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = _h(b"\x01" + c + fr)
            sr = _h(b"\x01" + c + sr)
            if not fn & 1:
                while not (fn & 1 or fn == 0):
                    fn >>= 1
                    sn >>= 1
        else:
            sr = _h(b"\x01" + sr + c)
        fn >>= 1
        sn >>= 1
    return fr == first_hash and sr == second_hash and sn == 0


def read_checkpoint(note: str, vkey: str) -> tuple[str, int, bytes]:
    """A signed checkpoint's (origin, size, root), after checking the signature line of
    the key ``vkey`` (``name+hash+base64(0x01 ‖ key)``) over the note's text. Raises
    ValueError if that signature is missing or wrong."""
    name, key_hash_hex, key_b64 = vkey.split("+", 2)
    raw = base64.b64decode(key_b64)
    assert raw[0] == 1, "an Ed25519 note key"
    key_hash = _h(name.encode() + b"\n" + raw)[:4]
    assert key_hash.hex() == key_hash_hex
    text, _, signatures = note.partition("\n\n")
    text += "\n"
    for line in signatures.splitlines():
        if not line.startswith("\u2014 " + name + " "):
            continue
        sig = base64.b64decode(line.rsplit(" ", 1)[1])
        if sig[:4] != key_hash:
            continue
        try:
            Ed25519PublicKey.from_public_bytes(raw[1:]).verify(sig[4:], text.encode())
        except InvalidSignature:
            raise ValueError("the log's signature does not verify") from None
        origin, size, root = text.splitlines()[:3]
        return origin, int(size), base64.b64decode(root)
    raise ValueError("no signature by the log's key")


def tile_url(level: int, index: int, width: int) -> str:
    """tlog-tiles' path for a tile: the index in groups of three digits, x-prefixed."""
    digits = f"{index:03d}"
    groups = [digits[max(0, i - 3) : i] for i in range(len(digits), 0, -3)][::-1]
    groups = [g.zfill(3) for g in groups]
    path = "/".join([*("x" + g for g in groups[:-1]), groups[-1]])
    suffix = f".p/{width}" if width < 256 else ""
    return f"/ledger/tile/{level}/{path}{suffix}"


def leaf_hashes(get, size: int) -> list[bytes]:
    """Every leaf hash of a tree of ``size`` from its level-0 tiles, fetched with ``get``
    (a function of a path returning bytes)."""
    hashes = []
    for index in range((size + 255) // 256):
        width = min(256, size - index * 256)
        raw = get(tile_url(0, index, width))
        assert len(raw) == width * 32
        hashes.extend(raw[i : i + 32] for i in range(0, len(raw), 32))
    return hashes
