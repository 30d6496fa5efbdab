"""DPoP's pure parts: how ``htu`` is compared (RFC 9449 section 4.3, RFC 3986 section 6),
and the stateless server nonces every worker makes and accepts alike."""

from __future__ import annotations

import pytest

from sayso.oauth.dpop import NONCE_PERIOD, Nonces, normalized_url


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("https://sayso.example/oauth/token", "https://sayso.example/oauth/token"),
        ("HTTPS://Sayso.Example:443/oauth/token", "https://sayso.example/oauth/token"),
        ("http://localhost:80/api/v1/profile?x=1#y", "http://localhost/api/v1/profile"),
        ("http://localhost:5000/a", "http://localhost:5000/a"),
        ("https://sayso.example", "https://sayso.example/"),
        ("https://sayso.example/oauth/./x/../token", "https://sayso.example/oauth/token"),
        ("https://sayso.example/%7euser/%2f", "https://sayso.example/~user/%2F"),
        ("https://sayso.example/a/", "https://sayso.example/a/"),
        ("http://[::1]:8080/p", "http://[::1]:8080/p"),
    ],
)
def test_urls_are_normalized_before_they_are_compared(given, expected):
    assert normalized_url(given) == expected


@pytest.mark.parametrize(
    "given",
    [
        "",
        "/oauth/token",
        "ftp://sayso.example/x",
        "https://user:pw@sayso.example/x",
        "https://:99999/",
    ],
)
def test_what_is_no_absolute_http_url_normalizes_to_nothing(given):
    assert normalized_url(given) is None


def test_a_nonce_is_accepted_in_its_period_and_the_next_by_any_worker():
    now = 1_000_000.0
    nonce = Nonces(b"k" * 32).current(now)
    another_worker = Nonces(b"k" * 32)
    assert another_worker.accepts(nonce, now)
    assert another_worker.accepts(nonce, now + NONCE_PERIOD)
    assert not another_worker.accepts(nonce, now + 2 * NONCE_PERIOD)
    assert not Nonces(b"x" * 32).accepts(nonce, now)  # another master key
    assert not another_worker.accepts(nonce[:-1] + ("A" if nonce[-1] != "A" else "B"), now)
    assert not another_worker.accepts(None, now) and not another_worker.accepts(7, now)
