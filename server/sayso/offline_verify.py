"""Verify a Sayso ledger export offline, with nothing but the export and the public key.

    python -m sayso.offline_verify export.jsonl --public-key ledger-key.json [--partial]

This file deliberately imports nothing from Sayso: it re-implements the canonical byte
format and hash chain from the specification in ``docs/ledger.md`` so that a verifier
does not have to trust the code that wrote the log. Copy it anywhere; it needs only
Python 3.11 and the ``cryptography`` package.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import sys
from collections.abc import Iterable

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import load_pem_public_key

GENESIS_HASH = "0" * 64
EVENT_KEYS = {
    "v", "seq", "occurred_at", "type", "actor", "subject", "brand", "fields", "purpose", "details",
}  # fmt: skip


def _dumps(value) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def load_public_key(text: str) -> Ed25519PublicKey:
    """A key from the well-known JSON document, a PEM file, or raw url-safe base64."""
    text = text.strip()
    if text.startswith("{"):
        text = json.loads(text)["public_key"]
    if text.startswith("-----BEGIN"):
        key = load_pem_public_key(text.encode())
        if not isinstance(key, Ed25519PublicKey):
            raise ValueError("not an Ed25519 key")
        return key
    return Ed25519PublicKey.from_public_bytes(
        base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    )


def verify_lines(
    lines: Iterable[str], public_key: Ed25519PublicKey, complete: bool = True
) -> tuple[bool, str]:
    """Check every event's hash and canonical bytes, the chain links, and every checkpoint.

    ``complete`` is the auditor's claim, never the export's: True (the default) demands the
    whole chain, gap-free from seq 1, every checkpoint's event present; False accepts a
    filtered export, of which only what it holds can be checked (each event's hash, the
    links between consecutive seqs, the checkpoints' signatures). The header's own
    ``complete`` is only compared with the claim: an export is a file its holder can edit.
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
            signature = base64.urlsafe_b64decode(
                record["signature"] + "=" * (-len(record["signature"]) % 4)
            )
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


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point: exit 0 when the export verifies, 1 when it does not."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("export", help="a JSONL export from `sayso audit export --format jsonl`")
    parser.add_argument(
        "--public-key", required=True, help="key file: well-known JSON, PEM or raw base64"
    )
    parser.add_argument(
        "--partial",
        action="store_true",
        help="the export is filtered (one brand, type or time range): check what it holds, "
        "without demanding the whole chain",
    )
    args = parser.parse_args(argv)
    with open(args.public_key, encoding="utf-8") as fh:
        key = load_public_key(fh.read())
    with open(args.export, encoding="utf-8") as fh:
        ok, message = verify_lines(fh, key, complete=not args.partial)
    print(("OK: " if ok else "FAILED: ") + message)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
