"""Verify a Sayso ledger export, or consent receipts, offline: with nothing but the files and
the log's public key.

    python -m sayso.offline_verify export.jsonl --public-key ledger-key.json [--partial]
        [--trusted-checkpoint FILE]... [--witness-key VKEY]... [--receipt FILE]...

This file deliberately imports nothing from Sayso: it re-implements, from the specification
in ``docs/ledger.md`` ("Exports"), the bytes of an entry, the Merkle tree hashing and
inclusion proofs of RFC 9162, and C2SP signed notes and cosignatures, so that a verifier
does not have to trust the code that wrote the log. Copy it anywhere; it needs only
Python 3.11 and the ``cryptography`` package. Exports written before the log replaced the
hash chain (``sayso-ledger-export/v1``) verify as they always did.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import hashlib
import json
import re
import sys
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    PublicFormat,
    load_pem_public_key,
)

FORMAT_V1 = "sayso-ledger-export/v1"
FORMAT_V2 = "sayso-ledger-export/v2"
GENESIS_HASH = "0" * 64
EVENT_KEYS = {
    "v", "seq", "occurred_at", "type", "actor", "subject", "brand", "fields", "purpose", "details",
}  # fmt: skip
#: Canonical version 2 (events written by the log) has every key of version 1 but ``seq``.
EVENT_KEYS_V2 = EVENT_KEYS - {"seq"}
CARRIED_OVER = "ledger:log:carried_over"
RECEIPT_SCHEMA_FAMILY = "sayso-consent-receipt/"
RECEIPT_EVENT_TYPES = {"given": "consent:grant:created", "withdrawn": "consent:grant:revoked"}

SIG_ED25519 = 0x01  # signed-note: an Ed25519 signature over the note's text
SIG_COSIGNATURE_V1 = 0x04  # tlog-cosignature: cosignature/v1
_DASH = "\u2014"  # the em dash that starts every signature line of a note
_DECIMAL = re.compile(r"0|[1-9][0-9]*", re.ASCII)
_HEX_SALT = re.compile(r"[0-9a-f]{32}", re.ASCII)
_HEX_HASH = re.compile(r"[0-9a-f]{64}", re.ASCII)


class Refused(Exception):
    """What does not verify, in words."""


def _dumps(value) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def _no_constants(name: str):
    # NaN and Infinity are not JSON, and Sayso never writes them.
    raise ValueError(f"{name} is not valid JSON")


def _loads(text: str):
    return json.loads(text, parse_constant=_no_constants)


def _unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _b64(text: object, what: str) -> bytes:
    """Standard base64 with padding, in its one canonical spelling."""
    try:
        if not isinstance(text, str):
            raise ValueError
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise Refused(f"{what} is not base64") from None
    if base64.b64encode(raw).decode() != text:
        raise Refused(f"{what} is not canonical base64")
    return raw


def _is_count(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


# The log's key --------------------------------------------------------------------------


@dataclass(frozen=True)
class TrustedKey:
    """The log's Ed25519 public key, as the auditor got it out of band, and the log's name
    (its origin) when the key document says it."""

    public_key: Ed25519PublicKey
    raw: bytes
    origin: str | None = None

    @property
    def key_id(self) -> str:
        """What receipts name the key by: the first 16 bytes of SHA-256 of the raw key."""
        return hashlib.sha256(self.raw).hexdigest()[:32]


def _raw(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(Encoding.Raw, PublicFormat.Raw)


def _from_vkey(vkey: str) -> tuple[str, int, bytes]:
    """A note verifier key, ``<name>+<8 hex key hash>+<base64(type || key)>``, checked."""
    parts = vkey.split("+", 2) if isinstance(vkey, str) else []
    if len(parts) != 3 or not parts[0] or not re.fullmatch(r"[0-9a-f]{8}", parts[1]):
        raise Refused(f"{str(vkey)[:60]!r} is not a note verifier key (name+hash+key)")
    name, hash_hex, material = parts
    raw = _b64(material, f"the key of {name}")
    if len(raw) != 33 or raw[0] not in (SIG_ED25519, SIG_COSIGNATURE_V1):
        raise Refused(f"the verifier key of {name} is not an Ed25519 key")
    if key_hash(name, raw[0], raw[1:]).hex() != hash_hex:
        raise Refused(f"the verifier key of {name} has a key hash that does not match it")
    return name, raw[0], raw[1:]


def load_trusted_key(text: str) -> TrustedKey:
    """The log's key from the well-known JSON document, a PEM file, raw url-safe base64, or
    a note verifier key (``name+hash+key``)."""
    text = text.strip()
    origin = None
    if text.startswith("{"):
        document = _loads(text)
        origin = document.get("origin")
        vkey = document.get("note_verifier_key")
        key = load_public_key(document["public_key"])
        if vkey is not None:
            name, _, raw = _from_vkey(vkey)
            if raw != _raw(key) or (origin is not None and name != origin):
                raise Refused("the key document's note verifier key is not its public key")
            origin = name
        return TrustedKey(key, _raw(key), origin)
    if "+" in text and not text.startswith("-----BEGIN"):
        name, kind, raw = _from_vkey(text)
        if kind != SIG_ED25519:
            raise Refused("that verifier key is a witness's (type 0x04), not a log's")
        return TrustedKey(Ed25519PublicKey.from_public_bytes(raw), raw, name)
    key = load_public_key(text)
    return TrustedKey(key, _raw(key))


def load_public_key(text: str) -> Ed25519PublicKey:
    """A key from the well-known JSON document, a PEM file, or raw url-safe base64."""
    text = text.strip()
    if text.startswith("{"):
        text = _loads(text)["public_key"]
    if text.startswith("-----BEGIN"):
        key = load_pem_public_key(text.encode())
        if not isinstance(key, Ed25519PublicKey):
            raise ValueError("not an Ed25519 key")
        return key
    return Ed25519PublicKey.from_public_bytes(_unb64url(text))


def _trusted(key: TrustedKey | Ed25519PublicKey) -> TrustedKey:
    return key if isinstance(key, TrustedKey) else TrustedKey(key, _raw(key))


# Signed notes (c2sp.org/signed-note, tlog-checkpoint, tlog-cosignature) -----------------


def key_hash(name: str, signature_type: int, public_key: bytes) -> bytes:
    """A key's 4-byte key hash: SHA-256(name || 0x0A || type || public key)[:4]."""
    return hashlib.sha256(name.encode() + b"\n" + bytes([signature_type]) + public_key).digest()[:4]


@dataclass(frozen=True)
class Checkpoint:
    """A checkpoint whose note signature by the trusted key verified."""

    origin: str
    size: int
    root: bytes
    text: str


def _split_note(note: object, what: str) -> tuple[str, list[tuple[str, bytes, bytes]]]:
    """A note's text and its signature lines as (name, key hash, signature)."""
    if not isinstance(note, str) or not note.endswith("\n"):
        raise Refused(f"{what} is not a signed note")
    split = note.rfind("\n\n")
    if split < 0:
        raise Refused(f"{what} has no signatures")
    text, block = note[: split + 1], note[split + 2 :]
    signatures = []
    for line in block[:-1].split("\n"):
        name, space, encoded = line.removeprefix(_DASH + " ").partition(" ")
        if not line.startswith(_DASH + " ") or not space or not name:
            raise Refused(f"{what} has a malformed signature line")
        raw = _b64(encoded, f"a signature of {what}")
        if len(raw) < 5:
            raise Refused(f"a signature of {what} is too short")
        signatures.append((name, raw[:4], raw[4:]))
    return text, signatures


def _ed25519_valid(public_key: bytes, signature: bytes, message: bytes) -> bool:
    try:
        Ed25519PublicKey.from_public_bytes(public_key).verify(signature, message)
    except (InvalidSignature, ValueError):
        return False
    return True


def open_checkpoint(
    note: object, key: TrustedKey, witness_keys: Sequence[str] = (), what: str = "the checkpoint"
) -> Checkpoint:
    """The checkpoint a signed note holds, once the log's signature on it verifies under
    ``key`` (and a cosignature by each of ``witness_keys``). Raises ``Refused``."""
    text, signatures = _split_note(note, what)
    ours = [
        (name, signature)
        for name, hashed, signature in signatures
        if hashed == key_hash(name, SIG_ED25519, key.raw)
    ]
    if not ours:
        names = ", ".join(sorted({name for name, _, _ in signatures})) or "nobody"
        raise Refused(
            f"{what} is not signed by the key you trust (its signatures are by other keys, "
            f"named {names})"
        )
    name, signature = ours[0]
    if len(signature) != 64 or not _ed25519_valid(key.raw, signature, text.encode()):
        raise Refused(f"{what}'s signature does not verify: it was changed after it was signed")
    lines = text[:-1].split("\n")
    if len(lines) < 3 or not all(lines):
        raise Refused(f"{what} is not a checkpoint (origin, tree size, root hash)")
    origin, size, root = lines[:3]
    if not _DECIMAL.fullmatch(size):
        raise Refused(f"{what}'s tree size is not a decimal number")
    root_hash = _b64(root, f"{what}'s root hash")
    if len(root_hash) != 32:
        raise Refused(f"{what}'s root hash is not 32 bytes")
    if origin != name:
        raise Refused(f"{what} is for the log {origin!r}, but signed as {name!r}")
    if key.origin is not None and origin != key.origin:
        raise Refused(f"{what} is for the log {origin!r}, not {key.origin!r}")
    for vkey in witness_keys:
        witness, kind, public = _from_vkey(vkey)
        if kind != SIG_COSIGNATURE_V1:
            raise Refused(f"the witness key of {witness} is not a cosignature/v1 key (0x04)")
        expected = key_hash(witness, SIG_COSIGNATURE_V1, public)
        if not any(
            signer == witness and hashed == expected and _cosignature_valid(public, sig, text)
            for signer, hashed, sig in signatures
        ):
            raise Refused(f"{what} carries no valid cosignature by the witness {witness}")
    return Checkpoint(origin, int(size), root_hash, text)


def _cosignature_valid(public_key: bytes, signature: bytes, text: str) -> bool:
    # tlog-cosignature: an 8-byte big-endian timestamp, then Ed25519 over
    # "cosignature/v1\ntime <timestamp>\n" followed by the checkpoint's text.
    if len(signature) != 72:
        return False
    timestamp = int.from_bytes(signature[:8], "big")
    message = f"cosignature/v1\ntime {timestamp}\n{text}".encode()
    return 0 < timestamp < 2**63 and _ed25519_valid(public_key, signature[8:], message)


# The Merkle tree (RFC 9162 §2.1) ----------------------------------------------------------


def leaf_hash(salt: bytes, canonical: bytes) -> bytes:
    """An entry's leaf hash: SHA-256(0x00 || salt || canonical)."""
    return hashlib.sha256(b"\x00" + salt + canonical).digest()


def _node(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


class _Tree:
    """MTH of a growing list of leaves (RFC 9162 §2.1.1), kept as the roots of its perfect
    subtrees, largest first: appending merges equal-sized subtrees, and folding them from
    the right is the recursive definition's split at the largest power of two."""

    def __init__(self):
        self.size = 0
        self._roots: list[bytes] = []

    def append(self, leaf: bytes) -> None:
        node, size = leaf, self.size
        while size & 1:
            node = _node(self._roots.pop(), node)
            size >>= 1
        self._roots.append(node)
        self.size += 1

    def root(self) -> bytes:
        if not self._roots:
            return hashlib.sha256(b"").digest()
        node = self._roots[-1]
        for left in reversed(self._roots[:-1]):
            node = _node(left, node)
        return node


def verify_inclusion(
    leaf: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes
) -> bool:
    """RFC 9162 §2.1.3.2: whether ``proof`` shows ``leaf`` at ``index`` in the tree of
    ``size`` leaves whose root is ``root``."""
    if not (_is_count(index) and _is_count(size)) or index >= size:
        return False
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = _node(p, r)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            r = _node(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


class _Leaves:
    """Leaf hashes by index below ``size`` (33 bytes each), however the lines are ordered."""

    def __init__(self, size: int):
        self.hashes = bytearray(32 * size)
        self.present = bytearray(size)

    def put(self, index: int, leaf: bytes) -> None:
        if self.present[index]:
            raise Refused(f"leaf {index} appears twice in the export")
        self.present[index] = 1
        self.hashes[32 * index : 32 * index + 32] = leaf

    def first_missing(self, upto: int) -> int | None:
        found = self.present.find(0, 0, upto)
        return None if found < 0 else found

    def get(self, index: int) -> bytes:
        return bytes(self.hashes[32 * index : 32 * index + 32])


# Exports ----------------------------------------------------------------------------------


def _reiterable(lines: Iterable[str]) -> Iterable[str]:
    # A file name or a list can be read twice; a one-shot iterator is kept in memory.
    return list(lines) if iter(lines) is lines else lines


def verify_lines(
    lines: Iterable[str],
    public_key: TrustedKey | Ed25519PublicKey,
    complete: bool = True,
    trusted_checkpoints: Sequence[tuple[str, str]] = (),
    witness_keys: Sequence[str] = (),
) -> tuple[bool, str]:
    """Verify an export, of either format: ``(True, what was verified)`` or ``(False, why
    not)``.

    ``complete`` is the auditor's claim, never the export's: True (the default) demands the
    whole log, False (``--partial``) accepts a filtered export, of which only what it holds
    can be checked. ``trusted_checkpoints`` are (note, where it came from): checkpoints held
    outside Sayso that the export's log must extend. ``witness_keys``: the checkpoint must
    carry a valid cosignature by each.
    """
    lines = _reiterable(lines)
    first = next((line for line in lines if line.strip()), None)
    if first is None:
        return False, "the export is empty"
    try:
        header = _loads(first)
    except ValueError:
        return False, "line 1 is not JSON"
    if isinstance(header, dict) and header.get("kind") == "log":
        try:
            return True, _verify_v2(
                lines, _trusted(public_key), complete, trusted_checkpoints, witness_keys
            )
        except Refused as refused:
            return False, str(refused)
    if trusted_checkpoints or witness_keys:
        return False, "a version 1 export (a hash chain) has no checkpoint notes to check"
    return _verify_v1(lines, _trusted(public_key).public_key, complete)


def _records(lines: Iterable[str]) -> Iterator[tuple[int, dict]]:
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            record = _loads(line)
        except ValueError:
            raise Refused(f"line {number} is not JSON") from None
        if not isinstance(record, dict):
            raise Refused(f"line {number} is not a JSON object")
        yield number, record


def _check_header(header: dict, key: TrustedKey, complete: bool) -> bool:
    """The header's claims, compared with what the auditor trusts; whether the export says
    it is the whole log."""
    if header.get("format") != FORMAT_V2:
        raise Refused(f"line 1: not a {FORMAT_V2} export")
    try:
        public = _unb64url(header.get("public_key", ""))
    except (binascii.Error, ValueError, TypeError):
        public = b""
    if public != key.raw or header.get("key_id") != key.key_id:
        raise Refused(
            "the export names another public key than the one you trust: it was not signed "
            "by the log you expect (or its header was changed)"
        )
    name, _, raw = _from_vkey(header.get("verifier_key"))
    if raw != key.raw or name != header.get("origin"):
        raise Refused("the export's note verifier key does not match its public key and origin")
    if key.origin is not None and header.get("origin") != key.origin:
        raise Refused(f"the export is of the log {header.get('origin')!r}, not {key.origin!r}")
    filters = header.get("filters")
    whole = header.get("complete") is True and (
        isinstance(filters, dict) and not any(filters.values())
    )
    if complete and not whole:
        raise Refused(
            "the export says it is filtered (not the whole log): verify it with --partial, "
            "which checks each entry's inclusion proof but cannot show that nothing was "
            "left out"
        )
    return whole


def _last_record(lines: Iterable[str]) -> dict | None:
    last = None
    for line in lines:
        if line.strip():
            last = line
    try:
        record = _loads(last) if last is not None else None
    except ValueError:
        raise Refused("the last line is not JSON") from None
    return record if isinstance(record, dict) else None


def _entry(number: int, record: dict) -> tuple[int, int | None, bytes, dict]:
    """An entry line's seq, leaf index, leaf hash (recomputed) and event."""
    seq, index, salt, event = (record.get(k) for k in ("seq", "leaf_index", "salt", "event"))
    if not (_is_count(seq) and seq > 0):
        raise Refused(f"line {number}: an entry's seq is a positive integer")
    if index is not None and not _is_count(index):
        raise Refused(f"line {number}: an entry's leaf_index is a whole number or null")
    if not isinstance(salt, str) or not _HEX_SALT.fullmatch(salt):
        raise Refused(f"line {number}: an entry's salt is 16 bytes in lowercase hex")
    if not isinstance(event, dict):
        raise Refused(f"line {number}: an entry's event is a JSON object")
    version = event.get("v")
    if version == 2 and set(event) == EVENT_KEYS_V2:
        pass
    elif version == 1 and set(event) == EVENT_KEYS:
        if event["seq"] != seq:
            raise Refused(f"line {number}: the event names seq {event['seq']}, the entry {seq}")
    else:
        raise Refused(f"line {number}: seq {seq} is not a version 1 or 2 event")
    # The canonical bytes are the event re-serialised in canonical form.
    return seq, index, leaf_hash(bytes.fromhex(salt), _dumps(event)), event


@dataclass
class _Chain:
    """The hash chain the log carried over (version 1 events), checked against the
    ``ledger:log:carried_over`` entry that anchors its head in the tree."""

    count: int = 0
    head: str = GENESIS_HASH
    anchors: int = 0
    anchor: dict | None = None

    def add(self, seq: int, event: dict) -> None:
        if event["v"] == 1:
            if seq != self.count + 1:
                raise Refused(f"event {self.count + 1} of the carried-over hash chain is missing")
            self.head = hashlib.sha256(bytes.fromhex(self.head) + _dumps(event)).hexdigest()
            self.count += 1
        elif event["type"] == CARRIED_OVER:
            self.anchors += 1
            self.anchor = event["details"] if isinstance(event["details"], dict) else {}

    def check(self) -> str:
        if self.anchors > 1:
            raise Refused("the export holds more than one carried-over entry")
        if self.anchor is None:
            if self.count:
                raise Refused("the export holds hash-chain events but no carried-over entry")
            return ""
        said = (self.anchor.get("events"), self.anchor.get("head_hash"))
        if said != (self.count, self.head if self.count else None):
            raise Refused(
                f"the carried-over entry names {said[0]} chain events ending in {said[1]}; "
                f"the export's version 1 events make {self.count} ending in {self.head}"
            )
        return f"; the {self.count} events carried over from the hash chain end in {self.head}"


def _verify_v2(
    lines: Iterable[str],
    key: TrustedKey,
    complete: bool,
    trusted: Sequence[tuple[str, str]],
    witness_keys: Sequence[str],
) -> str:
    records = _records(lines)
    _, header = next(records)
    whole = _check_header(header, key, complete)
    last = _last_record(lines)
    if last is None or last.get("kind") != "checkpoint":
        raise Refused(
            "the export ends without a checkpoint line: nothing in it is signed (it was cut "
            "short, or the log had signed no checkpoint yet)"
        )
    checkpoint = open_checkpoint(last.get("note"), key, witness_keys)
    held = [open_checkpoint(note, key, (), f"the checkpoint in {where}") for note, where in trusted]
    if header.get("origin") != checkpoint.origin:
        raise Refused(
            f"the export's header names the log {header.get('origin')!r}, its checkpoint "
            f"{checkpoint.origin!r}"
        )
    if whole:
        return _rebuild(records, checkpoint, held)
    return _prove_each(records, checkpoint, held)


def _entries(records: Iterator[tuple[int, dict]]) -> Iterator[tuple]:
    """Each entry line as (line number, seq, leaf index, leaf hash, event, record), in
    increasing seq, up to the checkpoint line, which must be the last."""
    previous = 0
    for number, record in records:
        kind = record.get("kind")
        if kind == "checkpoint":
            if next(records, None) is not None:
                raise Refused(f"line {number}: the checkpoint must be the last line")
            return
        if kind == "log":
            raise Refused(f"line {number}: a header may only be the first line")
        if kind != "entry":
            raise Refused(f"line {number}: unknown record kind {kind!r}")
        seq, index, leaf, event = _entry(number, record)
        if seq <= previous:
            raise Refused(f"line {number}: seq {seq} is out of order (after seq {previous})")
        previous = seq
        yield number, seq, index, leaf, event, record


def _rebuild(records, checkpoint: Checkpoint, held: list[Checkpoint]) -> str:
    """An unfiltered export: rebuild the tree from its entries and compare its root with the
    checkpoint's, and with each trusted checkpoint's at its size."""
    sizes = sorted({checkpoint.size, *(h.size for h in held)})
    leaves = _Leaves(sizes[-1])
    beyond: set[int] = set()
    unproven = entries = 0
    chain = _Chain()
    for _, seq, index, leaf, event, _ in _entries(records):
        entries += 1
        chain.add(seq, event)
        if index is None or index >= checkpoint.size:
            unproven += 1
        if index is None:
            continue
        if index < sizes[-1]:
            leaves.put(index, leaf)
        elif index in beyond:
            raise Refused(f"leaf {index} appears twice in the export")
        else:
            beyond.add(index)
    tree = _Tree()
    for size in sizes:
        missing = leaves.first_missing(size)
        if missing is not None:
            if size == checkpoint.size:
                raise Refused(
                    f"leaf {missing} is missing from the export: the checkpoint covers "
                    f"{checkpoint.size} entries (an entry was removed)"
                )
            raise Refused(
                f"the export holds no leaf {missing}, but a trusted checkpoint covers {size} "
                "entries: entries were removed, or the export is older than it"
            )
        while tree.size < size:
            tree.append(leaves.get(tree.size))
        root = tree.root()
        if size == checkpoint.size and root != checkpoint.root:
            raise Refused(
                f"the entries do not make the tree the checkpoint signs (size {size}): an "
                "entry was changed, added, removed or moved"
            )
        for where in (h for h in held if h.size == size):
            if root != where.root:
                raise Refused(
                    f"the log in the export does not extend a trusted checkpoint (size {size}):"
                    " entries before it were changed, or another history was shown to its holder"
                )
    extended = f", which extends {len(held)} trusted checkpoint(s)," if held else ""
    return (
        f"the {checkpoint.size} entries the signed checkpoint covers rebuild its tree"
        f"{extended}{chain.check()}; {unproven} more came after it (not proven)"
    )


def _proof(number: int, value: object) -> list[bytes]:
    if not isinstance(value, list):
        raise Refused(f"line {number}: an entry the checkpoint covers needs an inclusion_proof")
    hashes = [_b64(h, f"line {number}'s inclusion proof") for h in value]
    if any(len(h) != 32 for h in hashes):
        raise Refused(f"line {number}: an inclusion proof holds 32-byte hashes")
    return hashes


def _prove_each(records, checkpoint: Checkpoint, held: list[Checkpoint]) -> str:
    """A filtered export: every entry the checkpoint covers must prove its inclusion."""
    for where in held:
        if where.size != checkpoint.size:
            raise Refused(
                f"a filtered export can only be checked against a trusted checkpoint of its "
                f"own size ({checkpoint.size}, not {where.size}): verify an unfiltered export"
            )
        if where.root != checkpoint.root:
            raise Refused(
                f"the export's checkpoint differs from the trusted one of the same size "
                f"({where.size}): another history was shown to one of their holders"
            )
    seen: set[int] = set()
    proven = unproven = 0
    for number, seq, index, leaf, _, record in _entries(records):
        if index is None or index >= checkpoint.size:
            unproven += 1
            continue
        if index in seen:
            raise Refused(f"leaf {index} appears twice in the export")
        seen.add(index)
        proof = _proof(number, record.get("inclusion_proof"))
        if not verify_inclusion(leaf, index, checkpoint.size, proof, checkpoint.root):
            raise Refused(
                f"line {number}: the inclusion proof of seq {seq} (leaf {index}) does not "
                f"verify against the checkpoint (size {checkpoint.size}): the entry, or its "
                "proof, was changed"
            )
        proven += 1
    return (
        f"{proven} entries proven in the tree of the signed checkpoint (size "
        f"{checkpoint.size}); {unproven} more came after it (not proven); partial: a "
        "filtered export cannot show that nothing was left out"
    )


# Exports of the hash chain (sayso-ledger-export/v1), as they always verified -------------


def _verify_v1(lines: Iterable[str], public_key: Ed25519PublicKey, complete: bool):
    """Check every event's hash and canonical bytes, the chain links, and every checkpoint.

    ``complete`` True demands the whole chain, gap-free from seq 1, every checkpoint's event
    present; False accepts a filtered export (each event's hash, the links between
    consecutive seqs, the checkpoints' signatures). The header's own ``complete`` is only
    compared with the claim: an export is a file its holder can edit.
    """
    hashes: dict[int, str] = {}
    prev_seq, prev_hash, events, checkpoints = 0, GENESIS_HASH, 0, 0
    for number, line in enumerate(lines, 1):
        record = json.loads(line)
        kind = record.get("kind")
        if kind == "header":
            if number != 1:
                return False, f"line {number}: a header may only be the first line"
            if complete and record.get("complete") is not True:
                return False, (
                    "the export says it is filtered (not the whole chain): verify it with "
                    "--partial, which cannot show that nothing was left out"
                )
            continue
        if kind == "event":
            event = record["event"]
            seq = event.get("seq")
            if set(event) != EVENT_KEYS or event["v"] != 1 or not isinstance(seq, int):
                return False, f"line {number}: not a version 1 event"
            # The canonical bytes are the event re-serialised in canonical form.
            canonical = _dumps(event)
            digest = hashlib.sha256(bytes.fromhex(record["prev_hash"]) + canonical).hexdigest()
            if digest != record["hash"]:
                return False, f"seq {seq}: the hash does not match"
            if seq <= prev_seq:
                return False, f"seq {seq}: out of order (after seq {prev_seq})"
            if complete and seq != prev_seq + 1:
                return False, f"seq {prev_seq + 1} is missing"
            if seq == prev_seq + 1 and record["prev_hash"] != prev_hash:
                return False, f"seq {seq}: the chain is broken (prev_hash)"
            prev_seq, prev_hash = seq, record["hash"]
            hashes[seq] = record["hash"]
            events += 1
            continue
        if kind == "checkpoint":
            message = _dumps(
                {
                    "v": 1,
                    "type": "sayso.ledger.checkpoint",
                    "seq": record["seq"],
                    "hash": record["hash"],
                    "signed_at": record["signed_at"],
                    "key_id": record["key_id"],
                }
            )
            signature = _unb64url(record["signature"])
            try:
                public_key.verify(signature, message)
            except InvalidSignature:
                return False, f"checkpoint at seq {record['seq']}: bad signature"
            if record["seq"] in hashes and hashes[record["seq"]] != record["hash"]:
                return (
                    False,
                    f"checkpoint at seq {record['seq']}: the events differ from what was signed",
                )
            if complete and record["seq"] not in hashes:
                return False, f"checkpoint at seq {record['seq']}: events up to it are missing"
            checkpoints += 1
            continue
        return False, f"line {number}: unknown record kind {kind!r}"
    scope = "the whole chain from seq 1" if complete else "partial: gaps between events unchecked"
    return True, f"{events} events and {checkpoints} signed checkpoints verified ({scope})"


# Consent receipts ---------------------------------------------------------------------------


def receipt_bytes(receipt: dict) -> bytes:
    """What a receipt's signature covers: every member but ``signature``, as sorted-key
    compact JSON in UTF-8."""
    unsigned = {name: value for name, value in receipt.items() if name != "signature"}
    return json.dumps(
        unsigned, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode()


def verify_receipt(
    receipt: object,
    public_key: TrustedKey | Ed25519PublicKey,
    witness_keys: Sequence[str] = (),
    export_lines: Iterable[str] | None = None,
) -> tuple[bool, str]:
    """A consent receipt: its signature by the log's key, and the inclusion proof of its
    event's leaf in the checkpoint it carries. With ``export_lines`` (an export verified
    first), the export's entry at that leaf must be the receipt's event."""
    key = _trusted(public_key)
    try:
        return True, _check_receipt(receipt, key, witness_keys, export_lines)
    except Refused as refused:
        return False, str(refused)


def _check_receipt(receipt, key: TrustedKey, witness_keys, export_lines) -> str:
    if not isinstance(receipt, dict):
        raise Refused("a receipt is a JSON object")
    signature = receipt.get("signature")
    if not isinstance(signature, dict) or signature.get("alg") != "Ed25519":
        raise Refused("the receipt has no Ed25519 signature")
    if not str(receipt.get("schema", "")).startswith(RECEIPT_SCHEMA_FAMILY):
        raise Refused("not a consent receipt (its schema is not sayso-consent-receipt/…)")
    if signature.get("key_id") != key.key_id:
        raise Refused(f"the receipt is signed by the key {signature.get('key_id')}, not yours")
    try:
        message = receipt_bytes(receipt)
        value = _unb64url(signature.get("value"))
    except (TypeError, ValueError):
        raise Refused("the receipt's signature cannot be read") from None
    if not _ed25519_valid(key.raw, value, message):
        raise Refused("the receipt's signature does not verify: it was changed after signing")
    place = receipt.get("ledger")
    if not isinstance(place, dict):
        raise Refused("the receipt names no ledger entry")
    leaf, index = place.get("leaf_hash"), place.get("leaf_index")
    if not isinstance(leaf, str) or not _HEX_HASH.fullmatch(leaf):
        raise Refused("the receipt's ledger.leaf_hash is not a SHA-256 hash in hex")
    if receipt.get("record_id") != leaf:
        raise Refused("the receipt's record_id is not its ledger.leaf_hash")
    if index is None or place.get("checkpoint") is None:
        raise Refused(
            "the receipt carries no inclusion proof: its event was not yet in a checkpoint "
            "when it was downloaded (download it again)"
        )
    if not _is_count(index):
        raise Refused("the receipt's ledger.leaf_index is not a whole number")
    checkpoint = open_checkpoint(place["checkpoint"], key, witness_keys, "the receipt's checkpoint")
    proof = place.get("inclusion_proof")
    if not isinstance(proof, list):
        raise Refused("the receipt's ledger.inclusion_proof is not a list")
    hashes = [_b64(h, "the receipt's inclusion proof") for h in proof]
    if any(len(h) != 32 for h in hashes) or not verify_inclusion(
        bytes.fromhex(leaf), index, checkpoint.size, hashes, checkpoint.root
    ):
        raise Refused(
            f"the receipt's inclusion proof of leaf {index} does not verify against its "
            f"checkpoint (size {checkpoint.size})"
        )
    said = f"leaf {index} is in the tree of its signed checkpoint (size {checkpoint.size})"
    if export_lines is None:
        return said
    return said + _in_export(receipt, index, bytes.fromhex(leaf), export_lines)


def _in_export(receipt: dict, index: int, leaf: bytes, lines: Iterable[str]) -> str:
    for number, record in _records(lines):
        if record.get("kind") != "entry" or record.get("leaf_index") != index:
            continue
        _, _, found, event = _entry(number, record)
        event_said = receipt.get("event") if isinstance(receipt.get("event"), dict) else {}
        controller = (
            receipt.get("controller") if isinstance(receipt.get("controller"), dict) else {}
        )
        if (
            found != leaf
            or event["type"] != RECEIPT_EVENT_TYPES.get(event_said.get("type"))
            or event["brand"] != controller.get("id")
            or sorted(event["fields"]) != receipt.get("data_categories")
        ):
            raise Refused(f"the export's entry at leaf {index} is not the receipt's event")
        return f", and the export's entry at leaf {index} (seq {record['seq']}) is its event"
    return f"; the export holds no entry at leaf {index} (filtered out)"


# The command ------------------------------------------------------------------------------


class _Lines:
    """A file's lines, read again each time they are iterated (constant memory)."""

    def __init__(self, path: str):
        self.path = path

    def __iter__(self) -> Iterator[str]:
        with open(self.path, encoding="utf-8") as fh:
            yield from fh


def _read(path: str) -> str:
    with open(path, encoding="utf-8") as fh:
        return fh.read()


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point: exit 0 when everything given verifies, 1 when not."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "export", nargs="?", help="a JSONL export (`sayso audit export`, or the console's)"
    )
    parser.add_argument(
        "--public-key",
        required=True,
        help="the log's key, got out of band: the JSON of /.well-known/sayso-ledger-key.json, "
        "a PEM file, raw base64, or a file holding its note verifier key",
    )
    parser.add_argument(
        "--partial",
        action="store_true",
        help="the export is filtered (one brand, type or time range): check each entry's "
        "inclusion proof, without demanding the whole log",
    )
    parser.add_argument(
        "--trusted-checkpoint",
        action="append",
        default=[],
        metavar="FILE",
        help="a checkpoint held outside Sayso (`sayso audit checkpoint`, a witness's, a "
        "receipt's): the export's log must extend it. May be given more than once.",
    )
    parser.add_argument(
        "--witness-key",
        action="append",
        default=[],
        metavar="VKEY",
        help="require a valid cosignature by this witness on every checkpoint checked",
    )
    parser.add_argument(
        "--receipt",
        action="append",
        default=[],
        metavar="FILE",
        help="a consent receipt (or a JSON list of them) to check; with an export, its "
        "event must be the export's entry at its leaf",
    )
    args = parser.parse_args(argv)
    if args.export is None and not args.receipt:
        parser.error("give an export, a --receipt, or both")
    try:
        key = load_trusted_key(_read(args.public_key))
    except (OSError, ValueError, KeyError, TypeError, Refused) as error:
        print(f"FAILED: the public key in {args.public_key} cannot be read: {error}")
        return 1
    results = []
    export = _Lines(args.export) if args.export else None
    if export is not None:
        try:
            trusted = [(_read(path), path) for path in args.trusted_checkpoint]
            ok, message = verify_lines(export, key, not args.partial, trusted, args.witness_key)
        except (OSError, UnicodeDecodeError) as error:
            ok, message = False, f"{args.export} cannot be read: {error}"
        results.append((ok, message))
        if not ok:
            export = None  # a receipt is never looked up in an export that failed
    for path in args.receipt:
        try:
            found = _loads(_read(path))
        except (OSError, ValueError) as error:
            results.append((False, f"{path} cannot be read: {error}"))
            continue
        for receipt in found if isinstance(found, list) else [found]:
            ok, message = verify_receipt(receipt, key, args.witness_key, export)
            seq = receipt.get("ledger", {}).get("seq") if isinstance(receipt, dict) else None
            results.append((ok, f"receipt for seq {seq} in {path}: {message}"))
    for ok, message in results:
        print(("OK: " if ok else "FAILED: ") + message)
    return 0 if all(ok for ok, _ in results) else 1


if __name__ == "__main__":
    sys.exit(main())
