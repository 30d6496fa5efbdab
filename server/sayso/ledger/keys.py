"""The log's Ed25519 key: it signs checkpoints (as a C2SP signed note) and receipts."""

from __future__ import annotations

import base64
import hashlib

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from sayso.ledger.notes import NoteSigner


def b64url(raw: bytes) -> str:
    """Unpadded url-safe base64 (receipts' signatures and keys)."""
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def unb64url(text: str) -> bytes:
    """The inverse of :func:`b64url`."""
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class LedgerKey:
    """The log's signing key. Its public half is published (``/.well-known/sayso-ledger-
    key.json``), with the note verifier key that checks checkpoints (``origin`` is the log's
    name: the first line of every checkpoint, and the key's name in its signatures)."""

    def __init__(self, seed: bytes, origin: str):
        self._private = Ed25519PrivateKey.from_private_bytes(seed)
        self.origin = origin
        self.public_key = self._private.public_key()
        self.public_bytes = self.public_key.public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        #: A short, stable name for the key: the first 16 bytes of SHA-256 of the public key.
        self.key_id = hashlib.sha256(self.public_bytes).hexdigest()[:32]
        self.note_signer = NoteSigner(origin, self._private)
        #: ``<name>+<key hash>+<key>``: what witnesses and verifiers are configured with.
        self.verifier_key = self.note_signer.verifier_key()

    def sign(self, message: bytes) -> str:
        """A url-safe base64 Ed25519 signature (receipts)."""
        return b64url(self._private.sign(message))

    def sign_note(self, text: str) -> str:
        """``text`` as a signed note (a checkpoint)."""
        return self.note_signer.sign(text)

    def public_document(self) -> dict:
        """What ``/.well-known/sayso-ledger-key.json`` publishes."""
        pem = self.public_key.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ).decode()
        return {
            "alg": "Ed25519",
            "key_id": self.key_id,
            "public_key": b64url(self.public_bytes),
            "pem": pem,
            "origin": self.origin,
            "note_verifier_key": self.verifier_key,
        }


def signature_valid(public_key: Ed25519PublicKey, signature: str, message: bytes) -> bool:
    """Whether ``signature`` (url-safe base64) signs ``message`` under ``public_key``."""
    try:
        public_key.verify(unb64url(signature), message)
    except (InvalidSignature, ValueError):
        return False
    return True
