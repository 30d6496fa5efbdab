"""``Sayso-Signature``: what Sayso signs and what a brand checks."""

import hashlib
import hmac
import time

import pytest

from sayso.services.webhooks import sign, verify

SECRET = "sayso_whs_example"
BODY = b'{"data":{"fields":["interests"],"sub":"abc"},"id":"evt_1","type":"consent.revoked"}'


def test_the_signature_is_hmac_sha256_over_timestamp_dot_body():
    header = sign(SECRET, BODY, timestamp=1_700_000_000)
    expected = hmac.new(SECRET.encode(), b"1700000000." + BODY, hashlib.sha256).hexdigest()
    assert header == f"t=1700000000,v1={expected}"


def test_a_fresh_signature_verifies():
    assert verify(SECRET, BODY, sign(SECRET, BODY))


def test_a_tampered_body_fails():
    header = sign(SECRET, BODY)
    assert not verify(SECRET, BODY.replace(b"interests", b"channels"), header)
    assert not verify(SECRET, BODY + b" ", header)


def test_a_wrong_secret_fails():
    assert not verify("sayso_whs_other", BODY, sign(SECRET, BODY))


@pytest.mark.parametrize("age", [301, -301, 3600])
def test_a_stale_or_future_timestamp_fails(age):
    now = int(time.time())
    assert not verify(SECRET, BODY, sign(SECRET, BODY, timestamp=now - age), now=now)


def test_the_tolerance_is_inclusive_at_300_seconds():
    now = int(time.time())
    assert verify(SECRET, BODY, sign(SECRET, BODY, timestamp=now - 300), now=now)


def test_a_replayed_mac_with_a_new_timestamp_fails():
    old = sign(SECRET, BODY, timestamp=1_700_000_000)
    mac = old.split("v1=", 1)[1]
    assert not verify(SECRET, BODY, f"t={int(time.time())},v1={mac}")


@pytest.mark.parametrize(
    "header",
    ["", "garbage", "t=,v1=", "t=abc,v1=00", "v1=00", "t=1700000000", "t=1700000000,v0=00"],
)
def test_malformed_headers_fail(header):
    assert not verify(SECRET, BODY, header, now=1_700_000_000)


@pytest.mark.parametrize("mac", ["é" * 64, "\u2603", ""])
def test_a_mac_that_is_not_hex_fails_without_raising(mac):
    assert not verify(SECRET, BODY, f"t={int(time.time())},v1={mac}")
