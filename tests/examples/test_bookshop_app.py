"""The sample bookshop on its own (no Sayso running): webhook verification, dedupe and
application, the RFC 9207 ``iss`` check, and the plain-words rendering of a profile.

Signatures are made with Sayso's own ``sign``, so the bookshop's independent verifier is
checked against what Sayso actually sends.
"""

from __future__ import annotations

import importlib.util
import json
import sys
import time
from pathlib import Path

import pytest

from sayso.services.webhooks import SIGNATURE_HEADER, sign

APP_PATH = Path(__file__).resolve().parents[2] / "examples" / "bookshop" / "app.py"
SECRET = "whsec-test"
SUB = "sub-of-ada"


@pytest.fixture(scope="module")
def bookshop_module():
    """examples/bookshop/app.py, imported from its path (it is not a package)."""
    spec = importlib.util.spec_from_file_location("bookshop_app", APP_PATH)
    module = importlib.util.module_from_spec(spec)
    sys.modules["bookshop_app"] = module
    spec.loader.exec_module(module)
    yield module
    del sys.modules["bookshop_app"]


@pytest.fixture
def app(bookshop_module, tmp_path):
    return bookshop_module.create_app(
        {
            "BOOKSHOP_SAYSO_URL": "http://sayso.invalid",
            "BOOKSHOP_URL": "http://bookshop.invalid",
            "BOOKSHOP_CLIENT_ID": "client",
            "BOOKSHOP_CLIENT_SECRET": "client-secret",
            "BOOKSHOP_WEBHOOK_SECRET": SECRET,
            "SECRET_KEY": "test",
            "BOOKSHOP_DATABASE": str(tmp_path / "bookshop.sqlite3"),
        }
    )


@pytest.fixture
def store(app):
    """The bookshop's store, with one connection whose last read cached three fields."""
    store = app.extensions["bookshop_store"]
    with store.transaction() as conn:
        store.save_tokens(
            conn, SUB, {"access_token": "a", "refresh_token": "r", "expires_at": 0, "scope": ""}
        )
    store.save_profile(
        SUB, {"sub": SUB, "interests": [{"topic_id": 1}], "channels": [], "browsing_categories": []}
    )
    return store


def revoked_event(event_id="evt_1", fields=("channels",)) -> bytes:
    """A ``consent.revoked`` body shaped like Sayso's."""
    body = {
        "id": event_id,
        "type": "consent.revoked",
        "created_at": "2026-01-01T00:00:00.000000Z",
        "data": {"brand_id": "b", "sub": SUB, "fields": list(fields), "ledger_seq": 7},
    }
    return json.dumps(body, sort_keys=True, separators=(",", ":")).encode()


def post(client, body: bytes, header: str | None):
    headers = {"Content-Type": "application/json"}
    if header is not None:
        headers[SIGNATURE_HEADER] = header
    return client.post("/webhooks/sayso", data=body, headers=headers)


def test_a_signed_revocation_is_recorded_and_applied_once(app, store):
    client = app.test_client()
    body = revoked_event()
    first = post(client, body, sign(SECRET, body))
    assert first.status_code == 200
    assert first.get_json() == {"received": "evt_1", "duplicate": False}
    cached = json.loads(store.connection(SUB)["profile"])
    assert set(cached) == {"sub", "interests", "browsing_categories"}

    again = post(client, body, sign(SECRET, body))
    assert again.status_code == 200 and again.get_json()["duplicate"] is True
    (event,) = store.events(SUB)
    assert event["type"] == "consent.revoked" and event["fields"] == ["channels"]


#: Headers that must not pass, made when the test runs (timestamps must be fresh).
BAD_HEADERS = {
    "missing": lambda body: None,
    "empty": lambda body: "",
    "garbage": lambda body: "garbage",
    "bad-t": lambda body: "t=notanumber,v1=00",
    "no-t": lambda body: "v1=" + "0" * 64,
    "wrong-secret": lambda body: sign("another-secret", body),
    "stale": lambda body: sign(SECRET, body, int(time.time()) - 301),
    "future": lambda body: sign(SECRET, body, int(time.time()) + 301),
    "other-body": lambda body: sign(SECRET, revoked_event(event_id="evt_other")),
}


@pytest.mark.parametrize("make_header", BAD_HEADERS.values(), ids=BAD_HEADERS.keys())
def test_unverifiable_webhooks_are_refused_and_change_nothing(app, store, make_header):
    body = revoked_event()
    response = post(app.test_client(), body, make_header(body))
    assert response.status_code == 400
    assert store.events(SUB) == []
    assert "channels" in json.loads(store.connection(SUB)["profile"])


def test_a_signed_body_that_is_not_an_event_is_refused(app, store):
    body = b'{"hello": "world"}'
    assert post(app.test_client(), body, sign(SECRET, body)).status_code == 400


def test_an_answer_from_another_issuer_is_refused_before_the_code_is_used(app):
    sayso = app.extensions["bookshop_oauth"].sayso
    # Metadata as if already fetched from Sayso, so nothing goes over the network.
    sayso.server_metadata.update({"issuer": "http://sayso.invalid", "_loaded_at": time.time()})
    client = app.test_client()
    for iss in ("", "http://evil.invalid"):
        response = client.get(f"/callback?code=abc&state=xyz&iss={iss}")
        assert response.status_code == 400
        assert "did not come from Sayso" in response.get_data(as_text=True)


def test_the_bookshop_refuses_to_start_without_its_credentials(bookshop_module, monkeypatch):
    required = [
        "BOOKSHOP_CLIENT_ID",
        "BOOKSHOP_CLIENT_SECRET",
        "BOOKSHOP_WEBHOOK_SECRET",
        "BOOKSHOP_SECRET_KEY",
    ]
    for var in required:
        monkeypatch.delenv(var, raising=False)
    with pytest.raises(RuntimeError) as raised:
        bookshop_module.create_app()
    assert all(var in str(raised.value) for var in required)


@pytest.mark.parametrize(
    ("channel", "sentence"),
    [
        (
            {
                "channel": "email",
                "max_per_week": 2,
                "quiet_hours": {"start": "21:00", "end": "08:00", "tz": "Europe/Paris"},
            },
            "We'll email you at most 2 times a week, never between 21:00 and 08:00 (Europe/Paris).",
        ),
        (
            {"channel": "in_app", "max_per_week": 1},
            "We'll notify you in the app at most 1 time a week.",
        ),
        ({"channel": "sms", "max_per_week": 0}, "We'll never text you."),
    ],
)
def test_channels_in_plain_words(bookshop_module, channel, sentence):
    assert bookshop_module.describe_channel(channel) == sentence


def test_profile_in_plain_words_shows_only_what_was_granted(bookshop_module):
    sections = bookshop_module.describe(
        {
            "sub": SUB,
            "interests": [{"topic_id": 100}, {"text": "crime fiction"}],
            "browsing_categories": [
                {"topic_id": 2, "weight": 0.1},
                {"topic_id": 3, "weight": 0.9},
            ],
        }
    )
    assert sections == [
        ("interests", "Your interests", ["We'll recommend books about topic #100, crime fiction."]),
        (
            "browsing_categories",
            "Your favourite shelves",
            ["We'll show these shelves first: topic #3, topic #2."],
        ),
    ]
