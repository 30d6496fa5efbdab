"""Signed notes, checkpoints and cosignatures, byte for byte as C2SP specifies them:
c2sp.org/signed-note (Ed25519, signature type 0x01, and vkeys), c2sp.org/tlog-checkpoint,
and c2sp.org/tlog-cosignature (Ed25519 cosignature/v1, signature type 0x04).

A note is text ending in a newline, a blank line, then signature lines
``— <key name> base64(4-byte key hash || signature)``. Its text means nothing until a
signature from a trusted key verifies, so ``open_note`` returns the text only with the
verifiers that vouched for it.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

ALG_ED25519 = 0x01
ALG_COSIGNATURE_V1 = 0x04
MAX_SIGNATURES = 100  # signed-note: verifiers must accept at least 16
MAX_TIMESTAMP = 2**63 - 1  # tlog-cosignature: a timestamp must not exceed 2^63 - 1
MAX_TREE_SIZE = 2**63 - 1  # what every int64-based verifier (Go's tlog among them) can hold
ROOT_HASH_SIZE = 32

_DASH = "\u2014"  # the em dash that starts every signature line
_DECIMAL = re.compile(r"0|[1-9][0-9]*", re.ASCII)
_CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f]")  # every ASCII control character but newline
_KEY_HASH_HEX = re.compile(r"[0-9a-f]{8}")


class NoteError(ValueError):
    """A note, checkpoint or key that is not well formed; the message says what is wrong."""


class NoteSignatureError(NoteError):
    """A well-formed note that no trusted key vouches for, or that a trusted key's signature
    fails to verify (signed-note: such a note is rejected whole)."""


def key_hash(name: str, signature_type: int, public_key: bytes) -> bytes:
    """The 4-byte key hash (key ID): SHA-256(name || 0x0A || type || public key)[:4]."""
    return hashlib.sha256(name.encode() + b"\n" + bytes([signature_type]) + public_key).digest()[:4]


def _check_name(name: object) -> str:
    # signed-note: key names are non-empty, without Unicode spaces or "+".
    if not isinstance(name, str) or not name:
        raise NoteError("a key name must be a non-empty string")
    if "+" in name or any(c.isspace() for c in name) or _CONTROL.search(name):
        raise NoteError(f"key name {name!r} contains a space, a '+' or a control character")
    _check_utf8(name)
    return name


def _b64decode(text: str, what: str) -> bytes:
    # Standard base64 with padding, and only its canonical spelling: two spellings of one
    # value would give two notes with one meaning.
    try:
        value = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise NoteError(f"{what} is not base64") from None
    if base64.b64encode(value).decode() != text:
        raise NoteError(f"{what} is not canonical base64")
    return value


def _b64(value: bytes) -> str:
    return base64.b64encode(value).decode()


def _check_utf8(text: str) -> None:
    # A str can hold lone surrogates (say, from JSON): they have no UTF-8 form to sign.
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise NoteError("a note must be valid UTF-8") from None


def _check_text(text: object) -> str:
    if not isinstance(text, str):
        raise NoteError("a note's text must be a string")
    _check_utf8(text)
    if not text.endswith("\n"):
        raise NoteError("a note's text must end with a newline")
    if _CONTROL.search(text):
        raise NoteError("a note must not contain control characters other than newline")
    return text


def _raw_public_key(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(Encoding.Raw, PublicFormat.Raw)


def _cosigned_message(text: str, timestamp: int) -> bytes:
    # tlog-cosignature: a header line, a timestamp line, then the checkpoint's note text.
    return f"cosignature/v1\ntime {timestamp}\n{text}".encode()


@dataclass(frozen=True)
class NoteSignature:
    """One signature line: the key name, its 4-byte key hash, and the signature bytes."""

    name: str
    key_hash: bytes
    signature: bytes

    def line(self) -> str:
        """The signature line, ``— <name> <base64>`` and its newline."""
        return f"{_DASH} {self.name} {_b64(self.key_hash + self.signature)}\n"


@dataclass(frozen=True)
class NoteVerifier:
    """A trusted public key: its name, signature type (0x01 Ed25519 or 0x04 cosignature/v1)
    and 32-byte Ed25519 key."""

    name: str
    signature_type: int
    public_key: bytes
    key_hash: bytes = field(init=False)

    def __post_init__(self) -> None:
        _check_name(self.name)
        if self.signature_type not in (ALG_ED25519, ALG_COSIGNATURE_V1):
            raise NoteError(f"unsupported signature type 0x{self.signature_type:02x}")
        if not isinstance(self.public_key, bytes) or len(self.public_key) != 32:
            raise NoteError("an Ed25519 public key is 32 bytes")
        object.__setattr__(
            self, "key_hash", key_hash(self.name, self.signature_type, self.public_key)
        )

    @classmethod
    def from_vkey(cls, vkey: str) -> NoteVerifier:
        """A verifier from a vkey, ``<name>+<8 hex key hash>+<base64(type || public key)>``."""
        if not isinstance(vkey, str):
            raise NoteError("a verifier key must be a string")
        # The name has no "+" and the hash is hex, but base64 may hold "+": split twice only.
        parts = vkey.split("+", 2)
        if len(parts) != 3:
            raise NoteError("a verifier key is <name>+<key hash>+<key>")
        name, hash_hex, material = parts
        _check_name(name)
        if not _KEY_HASH_HEX.fullmatch(hash_hex):
            raise NoteError("a verifier key's key hash is 8 lowercase hex digits")
        raw = _b64decode(material, "the verifier key's key material")
        if len(raw) != 33:
            raise NoteError("a verifier key holds a type byte and a 32-byte Ed25519 key")
        verifier = cls(name, raw[0], raw[1:])
        if verifier.key_hash.hex() != hash_hex:
            raise NoteError("the verifier key's key hash does not match its name and key")
        return verifier

    def vkey(self) -> str:
        """This verifier as a vkey string."""
        material = _b64(bytes([self.signature_type]) + self.public_key)
        return f"{self.name}+{self.key_hash.hex()}+{material}"

    def verify(self, text: str, signature: bytes) -> bool:
        """Whether ``signature`` (without its key hash) is this key's over the note ``text``."""
        message = text.encode()
        if self.signature_type == ALG_COSIGNATURE_V1:
            timestamp = cosignature_timestamp(signature)
            if timestamp is None:
                return False
            message, signature = _cosigned_message(text, timestamp), signature[8:]
        if len(signature) != 64:
            return False
        try:
            Ed25519PublicKey.from_public_bytes(self.public_key).verify(signature, message)
        except InvalidSignature:
            return False
        return True


def cosignature_timestamp(signature: bytes) -> int | None:
    """The timestamp a cosignature/v1 signature (without its key hash) carries, or None when
    it is not one (positive and at most 2^63 - 1, as tlog-witness requires)."""
    if len(signature) != 8 + 64:
        return None
    timestamp = int.from_bytes(signature[:8], "big")
    return timestamp if 0 < timestamp <= MAX_TIMESTAMP else None


class _Ed25519Signer:
    """What a note signer and a cosigner share: a name, an Ed25519 key, its key hash for
    the signer's signature type, and the verifier (vkey) others check it with."""

    signature_type: int

    def __init__(self, name: str, private_key: Ed25519PrivateKey):
        self.name = _check_name(name)
        self._private_key = private_key
        self.public_key = _raw_public_key(private_key.public_key())
        self.key_hash = key_hash(name, self.signature_type, self.public_key)

    def verifier(self) -> NoteVerifier:
        """The verifier that checks this signer's signatures."""
        return NoteVerifier(self.name, self.signature_type, self.public_key)

    def verifier_key(self) -> str:
        """The vkey to give those who check this signer's signatures."""
        return self.verifier().vkey()


class NoteSigner(_Ed25519Signer):
    """An Ed25519 (type 0x01) note signer: a log signing its checkpoints."""

    signature_type = ALG_ED25519

    def signature_line(self, text: str) -> str:
        """This signer's signature line (with its newline) over the note ``text``."""
        _check_text(text)
        signature = self._private_key.sign(text.encode())
        return NoteSignature(self.name, self.key_hash, signature).line()

    def sign(self, text: str) -> str:
        """The whole signed note: ``text``, a blank line, this signer's signature line."""
        return f"{text}\n{self.signature_line(text)}"


class Cosigner(_Ed25519Signer):
    """An Ed25519 cosignature/v1 (type 0x04) signer: a witness cosigning checkpoints."""

    signature_type = ALG_COSIGNATURE_V1

    def cosign(self, checkpoint_text: str, timestamp: int) -> str:
        """The cosignature line (with its newline) over a checkpoint's note text, as of
        ``timestamp`` (POSIX seconds)."""
        Checkpoint.parse(checkpoint_text)
        if type(timestamp) is not int or not 0 < timestamp <= MAX_TIMESTAMP:
            raise NoteError("a cosignature timestamp is a positive integer below 2^63")
        signed = self._private_key.sign(_cosigned_message(checkpoint_text, timestamp))
        signature = timestamp.to_bytes(8, "big") + signed
        return NoteSignature(self.name, self.key_hash, signature).line()


def _parse_signature_line(line: str) -> NoteSignature:
    if not line.startswith(_DASH + " "):
        raise NoteError(f"not a signature line: {line[:80]!r}")
    name, space, encoded = line[2:].partition(" ")
    if not space:
        raise NoteError(f"a signature line is '— <name> <signature>': {line[:80]!r}")
    _check_name(name)
    raw = _b64decode(encoded, f"the signature of {name!r}")
    if len(raw) < 5:
        raise NoteError(f"the signature of {name!r} is too short")
    return NoteSignature(name, raw[:4], raw[4:])


def parse_note(note: str | bytes) -> tuple[str, tuple[NoteSignature, ...]]:
    """A note's text and its signature lines, checked for form only (nothing is verified)."""
    if isinstance(note, bytes):
        try:
            note = note.decode("utf-8")
        except UnicodeDecodeError:
            raise NoteError("a note must be UTF-8") from None
    if not isinstance(note, str):
        raise NoteError("a note must be text")
    _check_utf8(note)
    if _CONTROL.search(note):
        raise NoteError("a note must not contain control characters other than newline")
    # The text ends at the note's last blank line: signature lines never contain one.
    split = note.rfind("\n\n")
    if split < 0:
        raise NoteError("a note needs a blank line between its text and its signatures")
    text, block = note[: split + 1], note[split + 2 :]
    if not block.endswith("\n"):
        raise NoteError("a note must end with a signature line and a newline")
    lines = block[:-1].split("\n")
    if len(lines) > MAX_SIGNATURES:
        raise NoteError(f"a note may carry at most {MAX_SIGNATURES} signatures")
    return text, tuple(_parse_signature_line(line) for line in lines)


@dataclass(frozen=True)
class OpenedNote:
    """A note whose signatures were checked: its text, the signatures that verified (with
    the verifier of each), and the signatures of keys nobody trusted here."""

    text: str
    verified: tuple[tuple[NoteVerifier, NoteSignature], ...]
    unknown: tuple[NoteSignature, ...]

    def verified_by(self, verifier: NoteVerifier) -> bool:
        """Whether ``verifier``'s key signed the note."""
        return any(v == verifier for v, _ in self.verified)

    def signature_lines(self) -> str:
        """The verified signature lines, in the note's order, each with its newline."""
        return "".join(signature.line() for _, signature in self.verified)


def open_note(note: str | bytes, verifiers: Iterable[NoteVerifier]) -> OpenedNote:
    """Check a signed note against trusted verifiers. Signatures of unknown keys are set
    aside; NoteSignatureError if a known key's signature fails or none verifies."""
    text, signatures = parse_note(note)
    known: dict[tuple[str, bytes], NoteVerifier] = {}
    for verifier in verifiers:
        slot = (verifier.name, verifier.key_hash)
        if known.setdefault(slot, verifier) != verifier:
            raise NoteError(f"two trusted keys share the name and key hash of {verifier.name}")
    verified: list[tuple[NoteVerifier, NoteSignature]] = []
    unknown: list[NoteSignature] = []
    for signature in signatures:
        verifier = known.get((signature.name, signature.key_hash))
        if verifier is None:
            # signed-note: a key matching in name or hash but not both is someone else's.
            unknown.append(signature)
        elif not verifier.verify(text, signature.signature):
            raise NoteSignatureError(
                f"the signature of {signature.name}+{signature.key_hash.hex()} does not verify"
            )
        elif all(v != verifier for v, _ in verified):
            verified.append((verifier, signature))
    if not verified:
        raise NoteSignatureError("no trusted key signed this note")
    return OpenedNote(text, tuple(verified), tuple(unknown))


def verify_cosignature(vkey: str, checkpoint_text: str, signature_line: str) -> int | None:
    """The timestamp of a valid cosignature/v1 line by ``vkey`` over the checkpoint text;
    None when the line is not a valid cosignature by that key. NoteError for a bad vkey."""
    verifier = NoteVerifier.from_vkey(vkey)
    if verifier.signature_type != ALG_COSIGNATURE_V1:
        raise NoteError("not a cosignature/v1 verifier key (type 0x04)")
    if not isinstance(signature_line, str) or not isinstance(checkpoint_text, str):
        return None
    try:
        signature = _parse_signature_line(signature_line.removesuffix("\n"))
    except NoteError:
        return None
    if (signature.name, signature.key_hash) != (verifier.name, verifier.key_hash):
        return None
    if not verifier.verify(checkpoint_text, signature.signature):
        return None
    return cosignature_timestamp(signature.signature)


@dataclass(frozen=True)
class Checkpoint:
    """A tlog-checkpoint: the log's origin, its tree size and root hash, and any extension
    lines (opaque; their use is not recommended)."""

    origin: str
    size: int
    root_hash: bytes
    extensions: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not isinstance(self.origin, str) or not self.origin or "\n" in self.origin:
            raise NoteError("a checkpoint's origin is one non-empty line")
        if _CONTROL.search(self.origin):
            raise NoteError("a checkpoint's origin must not contain control characters")
        if isinstance(self.size, bool) or not isinstance(self.size, int):
            raise NoteError("a checkpoint's tree size is an integer")
        if not 0 <= self.size <= MAX_TREE_SIZE:
            raise NoteError(f"a tree size is between 0 and {MAX_TREE_SIZE}")
        if not isinstance(self.root_hash, bytes) or len(self.root_hash) != ROOT_HASH_SIZE:
            raise NoteError("a checkpoint's root hash is 32 bytes")
        object.__setattr__(self, "extensions", tuple(self.extensions))
        for line in self.extensions:
            if not isinstance(line, str) or not line or "\n" in line or _CONTROL.search(line):
                raise NoteError("a checkpoint's extension lines are non-empty single lines")

    def body(self) -> str:
        """The checkpoint's note text: origin, size, base64 root, extension lines."""
        lines = [self.origin, str(self.size), _b64(self.root_hash), *self.extensions]
        return "".join(line + "\n" for line in lines)

    @classmethod
    def parse(cls, text: str) -> Checkpoint:
        """The checkpoint a note text holds, refusing anything tlog-checkpoint does not allow."""
        _check_text(text)
        lines = text[:-1].split("\n")
        if len(lines) < 3:
            raise NoteError("a checkpoint has an origin, a tree size and a root hash line")
        if any(not line for line in lines):
            raise NoteError("a checkpoint's lines must not be empty")
        origin, size, root, *extensions = lines
        if not _DECIMAL.fullmatch(size):
            raise NoteError("a checkpoint's tree size is a decimal number without leading zeros")
        root_hash = _b64decode(root, "the checkpoint's root hash")
        return cls(origin, int(size), root_hash, tuple(extensions))
