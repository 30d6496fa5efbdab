"""Authorization codes are sealed, not stored: they open only unchanged, for their own
client, under the key that sealed them, and in the one spelling Sayso issued."""

from __future__ import annotations

import base64
import os
import re
from datetime import timedelta

import pytest

from sayso.services.token_seals import CODE_LIFETIME, CodeSeal
from sayso.shared.clock import utcnow
from sayso.shared.tokens import token_hash

CLIENT = "sayso_client_a"
CONTENTS = {
    "account_id": 4_242_424_242,  # long enough never to turn up in the random bytes by chance
    "redirect_uri": "https://bookshop.example/callback",
    "scope": "interests:read channels:read",
    "code_challenge": "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
    "code_challenge_method": "S256",
}
BASE64URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


@pytest.fixture
def codes() -> CodeSeal:
    return CodeSeal(os.urandom(32))


def _seal(codes: CodeSeal, client_id: str = CLIENT) -> str:
    return codes.seal(client_id, *CONTENTS.values())


def _blob(code: str) -> bytes:
    # Leniently, as base64 decoders do: stray characters and excess padding are skipped.
    return base64.urlsafe_b64decode(code + "==")


def _code(blob: bytes) -> str:
    return base64.urlsafe_b64encode(blob).rstrip(b"=").decode()


def test_round_trip(codes):
    before = utcnow()
    code = _seal(codes)
    opened = codes.open(code, CLIENT)
    assert {name: getattr(opened, name) for name in CONTENTS} == CONTENTS
    assert opened.get_redirect_uri() == CONTENTS["redirect_uri"]
    assert opened.get_scope() == CONTENTS["scope"]
    # Single use is enforced on this hash, stored with the token the code is exchanged for.
    assert opened.code_hash == token_hash(code)
    # Whole seconds: the expiry lands within the last second of the code's lifetime.
    lifetime = opened.expires_at - before
    assert CODE_LIFETIME - timedelta(seconds=1) <= lifetime <= CODE_LIFETIME


def test_a_code_carries_the_granted_authorization_details_when_there_are_some(codes):
    # RFC 9396 (oauth/rich_authorization.py): [name, expires_at, view] of each granted entry.
    details = [
        ["interests", 1_830_000_000, {"name": "top", "parameter": 5}],
        ["contacts", None, None],
    ]
    code = codes.seal(CLIENT, *CONTENTS.values(), details)
    assert codes.open(code, CLIENT).details == details
    assert codes.open(_seal(codes), CLIENT).details is None


def test_a_code_is_url_safe_compact_and_says_nothing_in_clear(codes):
    code = _seal(codes)
    assert re.fullmatch(r"[A-Za-z0-9_-]+", code)
    assert len(code) < 256
    blob = _blob(code)
    for value in CONTENTS.values():
        assert str(value).encode() not in blob


def test_every_code_is_new_even_for_the_same_consent(codes):
    assert _seal(codes) != _seal(codes)


def test_any_one_character_changed_is_refused(codes):
    code = _seal(codes)
    for index, char in enumerate(code):
        # The lowest bit of each character: at the end that may fall in base64's spare
        # bits, which the bytes never see; the spelling check catches those.
        altered = code[:index] + BASE64URL[BASE64URL.index(char) ^ 1] + code[index + 1 :]
        assert codes.open(altered, CLIENT) is None, index


def test_a_code_opens_only_for_its_own_client(codes):
    assert codes.open(_seal(codes), "sayso_client_b") is None
    assert codes.open(_seal(codes, "sayso_client_b"), CLIENT) is None


def test_a_code_opens_only_under_the_master_key_that_sealed_it(codes):
    assert CodeSeal(os.urandom(32)).open(_seal(codes), CLIENT) is None


def test_a_code_with_another_version_byte_is_refused(codes):
    blob = bytearray(_blob(_seal(codes)))
    assert blob[0] == 0x01
    blob[0] = 0x02
    assert codes.open(_code(bytes(blob)), CLIENT) is None


def test_the_same_bytes_spelled_another_way_are_refused(codes):
    # Each spelling would hash differently, and so could be exchanged once more.
    code = _seal(codes)
    while not {"-", "_"} & set(code):
        code = _seal(codes)
    for spelling in (
        code + "=",
        code + "==",
        " " + code,
        code + "\n",
        code[:20] + "." + code[20:],
        code.translate(str.maketrans("-_", "+/")),
    ):
        assert _blob(spelling) == _blob(code)
        assert codes.open(spelling, CLIENT) is None, spelling
    assert codes.open(code, CLIENT) is not None


@pytest.mark.parametrize("garbage", ["", "A", "AQ", "not a code!", "é" * 40, "A" * 400])
def test_garbage_is_refused(codes, garbage):
    assert codes.open(garbage, CLIENT) is None
