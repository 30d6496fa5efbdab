"""Signed notes, checkpoints and cosignatures (sayso.ledger.notes), against the published
examples: the keys and notes of Go's golang.org/x/mod/sumdb/note tests (PeterNeumann,
EnochRoot), the examples of c2sp.org/signed-note, tlog-checkpoint and tlog-cosignature, and
vectors from transparency-dev/formats' cosignature tests."""

from __future__ import annotations

import base64
import hashlib

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from sayso.ledger.notes import (
    ALG_COSIGNATURE_V1,
    ALG_ED25519,
    Checkpoint,
    Cosigner,
    NoteError,
    NoteSignature,
    NoteSignatureError,
    NoteSigner,
    NoteVerifier,
    cosignature_timestamp,
    key_hash,
    open_note,
    parse_note,
    verify_cosignature,
)

# golang.org/x/mod/sumdb/note's test keys: the signer key is base64(0x01 || Ed25519 seed).
PETER_SKEY = "AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
PETER_VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
ENOCH_VKEY = "EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop"
TEXT = (
    "If you think cryptography is the answer to your problem,\n"
    "then you don't know what your problem is.\n"
)
PETER_SIG = (
    "— PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdng"
    "otpRZb6KE6RyyBwJnAM=\n"
)
ENOCH_SIG = (
    "— EnochRoot rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n2tiOHp+vAF1aGrQ5ovTG01oOTGwnWL"
    "ox33WWd1RvMc+QQ=\n"
)

# c2sp.org/signed-note's example vkey and the note it verifies.
FOO_VKEY = "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k"
FOO_NOTE = (
    "This is an example message.\n\n"
    "— example.com/foo Uw2QOkn8srV1yJGh2VYRlL1Tnagv1YEq6TfXppzi2ONncAlTgK7Ztg1ERYNZXsYjOBH3mFXm"
    "RKuwHjG1Yu72IneyaQM=\n"
)

# c2sp.org/tlog-checkpoint and tlog-cosignature's example checkpoint and cosignature.
SOFA = "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
SOFA_COSIGNATURE = (
    "jWbPPwAAAABkGFDLEZMHwSRaJNiIDoe9DYn/zXcrtPHeolMI5OWXEhZCB9dlrDJsX3b2oyin1nPZqhf5nNo0xUe+m"
    "bIUBkBIfZ+qnA=="
)

# transparency-dev/formats: a type-0x04 vkey, and a cosignature of known timestamp.
REMORA_VKEY = "remora.n621.de+da77ade7+BOvN63jn/bLvkieywe8R6UYAtVtNbZpXh34x7onlmtw2"
COSIG_1727964367 = (
    "ZGhGuQAAAABm/qTPeyKXD+R2rzyQsxPiP8mXum7qq/iF0u4vanlqJyocWODBt97w9uL+8qT7S5gxEHWWOworDcFi"
    "EBYJXORmnFBOBA=="
)


def peter_signer() -> NoteSigner:
    raw = base64.b64decode(PETER_SKEY)
    assert raw[0] == ALG_ED25519
    return NoteSigner("PeterNeumann", Ed25519PrivateKey.from_private_bytes(raw[1:]))


# --- known answers ---------------------------------------------------------------------------


def test_signer_matches_go_known_answers():
    signer = peter_signer()
    assert signer.verifier_key() == PETER_VKEY
    assert signer.key_hash == bytes.fromhex("c74f20a3")
    assert signer.sign(TEXT) == TEXT + "\n" + PETER_SIG
    assert signer.signature_line(TEXT) == PETER_SIG


def test_key_hash_derivation():
    public = NoteVerifier.from_vkey(PETER_VKEY).public_key
    expected = hashlib.sha256(b"PeterNeumann\n\x01" + public).digest()[:4]
    assert key_hash("PeterNeumann", ALG_ED25519, public) == expected == bytes.fromhex("c74f20a3")
    remora = NoteVerifier.from_vkey(REMORA_VKEY)
    assert remora.signature_type == ALG_COSIGNATURE_V1
    assert remora.key_hash == bytes.fromhex("da77ade7")
    expected = hashlib.sha256(b"remora.n621.de\n\x04" + remora.public_key).digest()[:4]
    assert remora.key_hash == expected


@pytest.mark.parametrize("vkey", [PETER_VKEY, ENOCH_VKEY, FOO_VKEY, REMORA_VKEY])
def test_vkeys_round_trip(vkey):
    assert NoteVerifier.from_vkey(vkey).vkey() == vkey


def test_generated_vkeys_round_trip():
    # Base64 key material may hold "+", the vkey's own separator: it must still parse.
    with_plus = 0
    for _ in range(64):
        key = Ed25519PrivateKey.generate()
        for signer in (NoteSigner("log.example", key), Cosigner("w.example/1", key)):
            vkey = signer.verifier_key()
            with_plus += vkey.count("+") > 2
            assert NoteVerifier.from_vkey(vkey) == signer.verifier()
    assert with_plus > 0


def test_spec_example_note_verifies():
    opened = open_note(FOO_NOTE, [NoteVerifier.from_vkey(FOO_VKEY)])
    assert opened.text == "This is an example message.\n"
    assert opened.verified_by(NoteVerifier.from_vkey(FOO_VKEY))


def test_open_with_one_two_or_no_known_keys():
    peter, enoch = NoteVerifier.from_vkey(PETER_VKEY), NoteVerifier.from_vkey(ENOCH_VKEY)
    note = TEXT + "\n" + PETER_SIG + ENOCH_SIG

    opened = open_note(note, [peter])
    assert opened.text == TEXT
    assert [v for v, _ in opened.verified] == [peter]
    assert [s.name for s in opened.unknown] == ["EnochRoot"]
    assert opened.signature_lines() == PETER_SIG
    assert opened.verified_by(peter) and not opened.verified_by(enoch)

    opened = open_note(note.encode(), [peter, enoch])
    assert [v for v, _ in opened.verified] == [peter, enoch]
    assert opened.unknown == ()
    assert opened.signature_lines() == PETER_SIG + ENOCH_SIG

    with pytest.raises(NoteSignatureError, match="no trusted key"):
        open_note(note, [])


def test_parse_note_reads_form_only():
    text, signatures = parse_note(TEXT + "\n" + PETER_SIG + ENOCH_SIG)
    assert text == TEXT
    assert [(s.name, s.key_hash.hex()) for s in signatures] == [
        ("PeterNeumann", "c74f20a3"),
        ("EnochRoot", "af0cfe78"),
    ]
    assert signatures[0].line() == PETER_SIG


def test_text_may_hold_blank_lines_the_last_one_separates():
    signer = peter_signer()
    text = "first\n\nsecond\n"
    opened = open_note(signer.sign(text), [signer.verifier()])
    assert opened.text == text


def test_duplicate_and_unverifiable_unknown_signatures():
    peter = NoteVerifier.from_vkey(PETER_VKEY)
    broken_enoch = ENOCH_SIG[:60] + "ABCD" + ENOCH_SIG[60:]
    opened = open_note(TEXT + "\n" + PETER_SIG + PETER_SIG + ENOCH_SIG + broken_enoch, [peter])
    assert len(opened.verified) == 1
    assert len(opened.unknown) == 2  # unknown keys' signatures are set aside, not checked


def test_a_failing_signature_of_a_known_key_rejects_the_note():
    peter = NoteVerifier.from_vkey(PETER_VKEY)
    broken = PETER_SIG[:60] + "ABCD" + PETER_SIG[60:]
    with pytest.raises(NoteSignatureError, match="PeterNeumann"):
        open_note(TEXT + "\n" + broken, [peter])
    # ... even next to a good one.
    with pytest.raises(NoteSignatureError):
        open_note(TEXT + "\n" + PETER_SIG + broken, [peter])
    with pytest.raises(NoteSignatureError):
        open_note("Another text.\n\n" + PETER_SIG, [peter])
    with pytest.raises(NoteSignatureError):
        open_note(TEXT + "\n" + "— PeterNeumann x08go/ZJ\n", [peter])  # a 2-byte signature


def test_name_or_hash_alone_is_another_key():
    peter = NoteVerifier.from_vkey(PETER_VKEY)
    renamed = PETER_SIG.replace("PeterNeumann", "CarmenSandiego")
    rehashed = PETER_SIG.replace("x08g", "xxxx")
    for line in (renamed, rehashed):
        with pytest.raises(NoteSignatureError, match="no trusted key"):
            open_note(TEXT + "\n" + line, [peter])


def test_two_trusted_keys_sharing_name_and_hash_are_refused():
    peter = NoteVerifier.from_vkey(PETER_VKEY)
    impostor = NoteVerifier("PeterNeumann", ALG_ED25519, b"\x07" * 32)
    object.__setattr__(impostor, "key_hash", peter.key_hash)  # a 32-bit collision, forced
    with pytest.raises(NoteError, match="share the name"):
        open_note(TEXT + "\n" + PETER_SIG, [peter, impostor])
    # The same key twice is not a conflict.
    assert open_note(TEXT + "\n" + PETER_SIG, [peter, NoteVerifier.from_vkey(PETER_VKEY)])


@pytest.mark.parametrize(
    "note",
    [
        TEXT,
        TEXT + "\n",
        TEXT + "\n" + PETER_SIG[:-1],
        "\x01" + TEXT + "\n" + PETER_SIG,
        b"\xff" + (TEXT + "\n" + PETER_SIG).encode(),
        TEXT.replace("\n", "\r\n") + "\r\n" + PETER_SIG,
        "\ud800" + TEXT + "\n" + PETER_SIG,
        TEXT + "\n" + "— Bad Name x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZ=\n",
        TEXT + "\n" + PETER_SIG + "Unexpected line.\n",
        TEXT + "\n" + PETER_SIG.replace("— ", "- "),
        TEXT + "\n" + PETER_SIG.replace("— ", "—"),
        TEXT + "\n" + "— PeterNeumann\n",
        TEXT + "\n" + "— PeterNeumann not*base64\n",
        TEXT + "\n" + "— PeterNeumann x08g\n",  # 3 bytes: not even a key hash
        TEXT + "\n" + "— PeterNeumann x08go/ZJkuB=\n",  # non-canonical padding bits
        TEXT + "\n" + "— Peter+Neumann x08go/ZJkuBS\n",
        TEXT + "\n" + PETER_SIG * 101,
        None,
        42,
    ],
)
def test_malformed_notes_are_refused(note):
    peter = NoteVerifier.from_vkey(PETER_VKEY)
    with pytest.raises(NoteError) as raised:
        open_note(note, [peter])
    assert not isinstance(raised.value, NoteSignatureError)
    assert str(raised.value)


def test_sixteen_signatures_are_accepted():
    peter = NoteVerifier.from_vkey(PETER_VKEY)
    opened = open_note(TEXT + "\n" + PETER_SIG + ENOCH_SIG * 15, [peter])
    assert len(opened.unknown) == 15


def _mangled_vkeys():
    # As Go's TestNewVerifier: every proper substring, and every byte bumped by one.
    key = PETER_VKEY.encode()
    for i in range(len(key) + 1):
        for j in range(i + 1, len(key) + 1):
            if (i, j) != (0, len(key)):
                yield key[i:j].decode()
    for i in range(len(key)):
        yield (key[:i] + bytes([key[i] + 1]) + key[i + 1 :]).decode()


def test_mangled_vkeys_are_refused():
    refused = 0
    for vkey in _mangled_vkeys():
        with pytest.raises(NoteError):
            NoteVerifier.from_vkey(vkey)
        refused += 1
    assert refused > 2000


@pytest.mark.parametrize(
    "vkey",
    [
        # Go's: a key of the wrong length, and an unknown algorithm, each with its right hash.
        "PeterNeumann+cc469956+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TWBADKEY==",
        "PeterNeumann+173116ae+ZRpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
        "PeterNeumann+C74F20A3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
        "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW+",
        "+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
        "rekor.sigstore.dev+12345678+AwEB",
        "bananas.sigstore.dev+12344556",
        None,
    ],
)
def test_bad_vkeys_are_refused(vkey):
    with pytest.raises(NoteError):
        NoteVerifier.from_vkey(vkey)


@pytest.mark.parametrize("name", ["", "a+b", "a b", "a\tb", "a\u00a0b", "a\u2003b", "a\nb", 7])
def test_bad_key_names_are_refused(name):
    key = Ed25519PrivateKey.generate()
    with pytest.raises(NoteError):
        NoteSigner(name, key)
    with pytest.raises(NoteError):
        Cosigner(name, key)


@pytest.mark.parametrize("text", ["no final newline", "", "tab\there\n", "cr\r\n", "\ud800\n", 5])
def test_signing_refuses_what_is_not_a_note_text(text):
    with pytest.raises(NoteError):
        peter_signer().sign(text)


def test_verifier_refuses_bad_fields():
    with pytest.raises(NoteError):
        NoteVerifier("name", 0x02, b"\x00" * 32)
    with pytest.raises(NoteError):
        NoteVerifier("name", ALG_ED25519, b"\x00" * 31)


def test_signatures_verify_only_what_was_signed():
    signer = peter_signer()
    verifier = signer.verifier()
    signature = parse_note(signer.sign(TEXT))[1][0].signature
    assert verifier.verify(TEXT, signature)
    assert not verifier.verify(TEXT + "x\n", signature)
    assert not verifier.verify(TEXT, signature[:-1])
    assert not verifier.verify(TEXT, bytes([signature[0] ^ 1]) + signature[1:])


# --- checkpoints -------------------------------------------------------------------------------


def test_spec_example_checkpoint():
    checkpoint = Checkpoint.parse(SOFA)
    assert checkpoint.origin == "example.com/behind-the-sofa"
    assert checkpoint.size == 20852163
    assert checkpoint.root_hash == base64.b64decode("CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=")
    assert checkpoint.extensions == ()
    assert checkpoint.body() == SOFA


def test_checkpoint_round_trips_with_extensions():
    checkpoint = Checkpoint("sayso.example/ledger", 0, hashlib.sha256(b"").digest(), ("ext 1",))
    assert checkpoint.body() == (
        "sayso.example/ledger\n0\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\next 1\n"
    )
    assert Checkpoint.parse(checkpoint.body()) == checkpoint
    big = Checkpoint("o", 2**63 - 1, b"\x01" * 32, ["list", "is", "fine"])
    assert Checkpoint.parse(big.body()) == big
    assert big.extensions == ("list", "is", "fine")


ROOT = "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I="


@pytest.mark.parametrize(
    "text",
    [
        f"origin\n5\n{ROOT}",  # no final newline
        "origin\n5\n",
        f"origin\n5\n{ROOT}\n\n",
        f"\n5\n{ROOT}\n",
        f"origin\n05\n{ROOT}\n",
        f"origin\n-1\n{ROOT}\n",
        f"origin\n+1\n{ROOT}\n",
        f"origin\n1_000\n{ROOT}\n",
        f"origin\n\u0661\n{ROOT}\n",  # an Arabic-Indic digit one, which int() would take
        f"origin\n 5\n{ROOT}\n",
        f"origin\n5 \n{ROOT}\n",
        f"origin\n{2**63}\n{ROOT}\n",
        f"origin\nfive\n{ROOT}\n",
        "origin\n5\nnot base64!\n",
        f"origin\n5\n{ROOT[:-1]}\n",
        "origin\n5\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2=\n",  # 31 bytes
        "origin\n5\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2J=\n",  # non-canonical
        f"origin\n5\n{ROOT}\n\nextension after a blank line\n",
        f"origin\r\n5\r\n{ROOT}\r\n",
        f"ori\tgin\n5\n{ROOT}\n",
        f"origin\n5\n{ROOT}\n\n— origin {ROOT}\n",  # a whole note, not its text
        "",
        None,
    ],
)
def test_malformed_checkpoints_are_refused(text):
    with pytest.raises(NoteError):
        Checkpoint.parse(text)


@pytest.mark.parametrize(
    "fields",
    [
        ("", 1, b"\x00" * 32, ()),
        ("a\nb", 1, b"\x00" * 32, ()),
        ("origin", -1, b"\x00" * 32, ()),
        ("origin", 2**63, b"\x00" * 32, ()),
        ("origin", True, b"\x00" * 32, ()),
        ("origin", "1", b"\x00" * 32, ()),
        ("origin", 1, b"\x00" * 31, ()),
        ("origin", 1, "x" * 32, ()),
        ("origin", 1, b"\x00" * 32, ("",)),
        ("origin", 1, b"\x00" * 32, ("two\nlines",)),
    ],
)
def test_impossible_checkpoints_cannot_be_built(fields):
    with pytest.raises(NoteError):
        Checkpoint(*fields)


# --- cosignatures ------------------------------------------------------------------------------


def test_spec_example_cosignature_carries_its_timestamp():
    # tlog-cosignature's example signs "time 1679315147"; its line holds that timestamp.
    raw = base64.b64decode(SOFA_COSIGNATURE)
    assert cosignature_timestamp(raw[4:]) == 1679315147
    assert cosignature_timestamp(base64.b64decode(COSIG_1727964367)[4:]) == 1727964367
    assert cosignature_timestamp(b"\x00" * 71) is None
    assert cosignature_timestamp(b"\x00" * 72) is None  # zero: not a witness's timestamp
    assert cosignature_timestamp(b"\x80" + b"\x00" * 71) is None  # above 2^63 - 1


def _witness() -> tuple[Cosigner, Ed25519PrivateKey]:
    raw = base64.b64decode(PETER_SKEY)[1:]
    key = Ed25519PrivateKey.from_private_bytes(raw)
    return Cosigner("witness.example/w1", key), key


def test_cosignature_bytes_are_the_specified_ones():
    cosigner, key = _witness()
    public = key.public_key().public_bytes_raw()
    expected_hash = hashlib.sha256(b"witness.example/w1\n\x04" + public).digest()[:4]
    assert cosigner.key_hash == expected_hash
    assert cosigner.verifier_key() == (
        f"witness.example/w1+{expected_hash.hex()}+" + base64.b64encode(b"\x04" + public).decode()
    )
    line = cosigner.cosign(SOFA, 1679315147)
    assert line.startswith("— witness.example/w1 ") and line.endswith("\n")
    raw = base64.b64decode(line.split(" ")[2])
    assert raw[:4] == expected_hash
    assert raw[4:12] == (1679315147).to_bytes(8, "big")
    # The signed message, written out as tlog-cosignature's example shows it.
    message = b"cosignature/v1\ntime 1679315147\n" + SOFA.encode()
    Ed25519PublicKey.from_public_bytes(public).verify(raw[12:], message)
    assert len(raw) == 4 + 8 + 64


def test_cosignature_round_trip():
    cosigner, _ = _witness()
    vkey = cosigner.verifier_key()
    line = cosigner.cosign(SOFA, 1700000000)
    assert verify_cosignature(vkey, SOFA, line) == 1700000000
    assert verify_cosignature(vkey, SOFA, line.removesuffix("\n")) == 1700000000


def test_cosignature_rejections():
    cosigner, _ = _witness()
    vkey = cosigner.verifier_key()
    line = cosigner.cosign(SOFA, 1700000000)
    other = Cosigner("witness.example/w2", Ed25519PrivateKey.generate())
    extended = SOFA + "an extension line\n"
    raw = base64.b64decode(line.split(" ")[2])
    tampered = "— witness.example/w1 " + base64.b64encode(raw[:-1] + bytes([raw[-1] ^ 1])).decode()
    later = "— witness.example/w1 " + base64.b64encode(raw[:11] + b"\x01" + raw[12:]).decode()
    assert verify_cosignature(vkey, SOFA.replace("20852163", "20852164"), line) is None
    assert verify_cosignature(vkey, extended, line) is None
    assert verify_cosignature(vkey, SOFA, tampered) is None
    assert verify_cosignature(vkey, SOFA, later) is None  # the timestamp is signed too
    assert verify_cosignature(vkey, SOFA, other.cosign(SOFA, 1700000000)) is None
    assert verify_cosignature(vkey, SOFA, line.replace("w1", "w3")) is None
    assert verify_cosignature(vkey, SOFA, "— witness.example/w1 !!!\n") is None
    assert verify_cosignature(vkey, SOFA, "not a line") is None
    assert verify_cosignature(vkey, SOFA, line + line) is None
    assert verify_cosignature(vkey, SOFA, None) is None
    assert verify_cosignature(vkey, None, line) is None
    assert verify_cosignature(other.verifier_key(), SOFA, line) is None


def test_extension_lines_are_cosigned():
    cosigner, _ = _witness()
    extended = SOFA + "an extension line\n"
    line = cosigner.cosign(extended, 1700000000)
    assert verify_cosignature(cosigner.verifier_key(), extended, line) == 1700000000
    assert verify_cosignature(cosigner.verifier_key(), SOFA, line) is None


def test_a_zero_timestamp_is_not_a_valid_cosignature():
    cosigner, key = _witness()
    forged = b"\x00" * 8 + key.sign(b"cosignature/v1\ntime 0\n" + SOFA.encode())
    line = NoteSignature(cosigner.name, cosigner.key_hash, forged).line()
    assert verify_cosignature(cosigner.verifier_key(), SOFA, line) is None


def test_verify_cosignature_wants_a_cosignature_vkey():
    cosigner, key = _witness()
    line = cosigner.cosign(SOFA, 1700000000)
    with pytest.raises(NoteError, match="0x04"):
        verify_cosignature(NoteSigner("witness.example/w1", key).verifier_key(), SOFA, line)
    with pytest.raises(NoteError):
        verify_cosignature("not a vkey", SOFA, line)


def test_the_type_byte_keeps_log_signatures_and_cosignatures_apart():
    # One key and one name as a log signer and as a cosigner still make two key hashes.
    key = Ed25519PrivateKey.generate()
    signer, cosigner = NoteSigner("same.example", key), Cosigner("same.example", key)
    assert signer.key_hash != cosigner.key_hash
    with pytest.raises(NoteSignatureError):
        open_note(signer.sign(SOFA), [cosigner.verifier()])
    with pytest.raises(NoteSignatureError):
        open_note(SOFA + "\n" + cosigner.cosign(SOFA, 5), [signer.verifier()])


def test_a_cosigned_checkpoint_opens_with_log_and_witness_keys():
    log = NoteSigner("example.com/behind-the-sofa", Ed25519PrivateKey.generate())
    witness, _ = _witness()
    note = log.sign(SOFA) + witness.cosign(SOFA, 1679315147)
    opened = open_note(note, [log.verifier(), witness.verifier()])
    assert opened.verified_by(log.verifier()) and opened.verified_by(witness.verifier())
    assert Checkpoint.parse(opened.text).size == 20852163
    assert opened.signature_lines() == note[len(SOFA) + 1 :]


@pytest.mark.parametrize("timestamp", [0, -1, 2**63, 1.5, "1", True])
def test_cosign_refuses_bad_timestamps(timestamp):
    cosigner, _ = _witness()
    with pytest.raises(NoteError):
        cosigner.cosign(SOFA, timestamp)


def test_cosign_refuses_what_is_not_a_checkpoint():
    cosigner, _ = _witness()
    with pytest.raises(NoteError):
        cosigner.cosign(TEXT, 1700000000)
