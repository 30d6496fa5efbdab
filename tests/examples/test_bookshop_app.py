"""The sample bookshop on its own (no Sayso running): webhook verification, dedupe and
application, the RFC 9207 ``iss`` check, the plain-words rendering of a profile and of
Sayso's contact-policy refusals, and the weekly email (with Sayso's answers faked).

Signatures are made with Sayso's own ``sign``, so the bookshop's independent verifier is
checked against what Sayso actually sends; likewise the bookshop's DPoP proofs are judged
by Sayso's own check.
"""

from __future__ import annotations

import importlib.util
import io
import json
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import requests
from authlib.integrations.requests_client import OAuth2Session

from sayso.oauth.dpop import Nonces, check
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
        "created_at": "2026-01-01T00:00:00Z",
        "data": {"brand_id": "b", "sub": SUB, "fields": list(fields), "sequence": 7},
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
    "stale": lambda body: sign(SECRET, body, int(time.time()) - 360),  # tolerance 300 s
    "future": lambda body: sign(SECRET, body, int(time.time()) + 360),
    "other-body": lambda body: sign(SECRET, revoked_event(event_id="evt_other")),
    "non-ascii": lambda body: f"t={int(time.time())},v1=" + "é" * 64,
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


@pytest.mark.parametrize(
    ("profile", "question_id", "sentence"),
    [
        (
            {"answers": {"7": ["Margaret Atwood", "Michael Chabon"]}},
            "7",
            "We'll tell you about: Margaret Atwood, Michael Chabon.",
        ),
        ({"answers": {"7": "Ursula K. Le Guin"}}, "7", "We'll tell you about: Ursula K. Le Guin."),
        ({"answers": {"8": ["Margaret Atwood"]}}, "7", None),
        ({"answers": {}}, "7", None),
        ({"interests": []}, "7", None),
        ({"answers": {"7": ["Margaret Atwood"]}}, "", None),
    ],
    ids=["several", "one", "another-question", "unanswered", "not-granted", "no-question-id"],
)
def test_the_answer_to_the_authors_question_in_plain_words(
    bookshop_module, profile, question_id, sentence
):
    assert bookshop_module.authors_answer(profile, question_id) == sentence


@pytest.mark.parametrize(
    ("decision", "sentence"),
    [
        (
            {
                "allowed": False,
                "reason": "weekly_cap_reached",
                "next_allowed_at": "2026-11-30T04:41:07Z",
            },
            "Not sent: Sayso says we have already emailed you as often this week as you allow"
            " (weekly_cap_reached). Next allowed at 2026-11-30 04:41 UTC.",
        ),
        (
            {"allowed": False, "reason": "channel_not_permitted", "next_allowed_at": None},
            "Not sent: Sayso says you don't want email from us (channel_not_permitted).",
        ),
        (
            {"allowed": False, "reason": "quiet_hours", "next_allowed_at": "2026-11-30T07:00:00Z"},
            "Not sent: Sayso says it is inside your quiet hours (quiet_hours)."
            " Next allowed at 2026-11-30 07:00 UTC.",
        ),
    ],
)
def test_a_refusal_in_plain_words(bookshop_module, decision, sentence):
    assert bookshop_module.describe_refusal(decision) == sentence


class FakeResponse:
    """Just what the bookshop reads of a ``requests.Response``."""

    def __init__(self, status_code: int, body: dict | None = None):
        self.status_code = status_code
        self._body = body or {}
        self.headers = {}

    def json(self):
        return self._body


@pytest.fixture
def sayso_calls(bookshop_module, monkeypatch):
    """Replace the bookshop's calls to Sayso: ``answers`` maps (method, path) to a
    response; each call is recorded in ``calls``."""
    calls, answers = [], {}

    def fake(sub, method, path, **kwargs):
        calls.append((sub, method, path, kwargs))
        return answers[(method, path)]

    monkeypatch.setattr(bookshop_module, "call_sayso", fake)
    return calls, answers


def press_send(app, csrf="token", sub=SUB):
    client = app.test_client()
    with client.session_transaction() as session:
        session.update({"sub": sub, "csrf_token": "token"})
    response = client.post("/weekly-email", data={"csrf_token": csrf})
    with client.session_transaction() as session:
        return response, session.get("email_result")


def test_the_weekly_email_is_sent_and_reported_only_when_sayso_allows_it(app, store, sayso_calls):
    calls, answers = sayso_calls
    answers[("GET", "contact-policy")] = FakeResponse(
        200, {"allowed": True, "reason": "ok", "next_allowed_at": None}
    )
    answers[("POST", "contacts")] = FakeResponse(201, {"id": 1, "breach": False})
    response, result = press_send(app)
    assert response.status_code == 302
    assert result["sent"] is True and "reported it to Sayso" in result["text"]
    (email,) = store.emails(SUB)
    assert email["channel"] == "email" and email["reported"] == 1
    policy, report = calls
    assert policy[1:] == ("GET", "contact-policy", {"params": {"channel": "email"}})
    assert report[1:3] == ("POST", "contacts")
    assert report[3]["json"] == {"channel": "email", "sent_at": email["sent_at"]}
    assert datetime.fromisoformat(email["sent_at"]).utcoffset() == timedelta(0)


def test_a_refused_weekly_email_is_not_sent_and_says_why(app, store, sayso_calls):
    calls, answers = sayso_calls
    answers[("GET", "contact-policy")] = FakeResponse(
        200,
        {
            "allowed": False,
            "reason": "weekly_cap_reached",
            "next_allowed_at": "2026-11-30T04:41:07Z",
        },
    )
    _, result = press_send(app)
    assert result["sent"] is False and "(weekly_cap_reached)" in result["text"]
    assert store.emails(SUB) == []
    assert [c[2] for c in calls] == ["contact-policy"]


def test_an_unreported_email_says_so(app, store, sayso_calls):
    _, answers = sayso_calls
    answers[("GET", "contact-policy")] = FakeResponse(200, {"allowed": True, "reason": "ok"})
    answers[("POST", "contacts")] = FakeResponse(403)
    _, result = press_send(app)
    assert result["sent"] is True and "haven't let us report it" in result["text"]
    assert [e["reported"] for e in store.emails(SUB)] == [0]


@pytest.mark.parametrize("csrf", ["forged", "tøken"])
def test_the_weekly_email_needs_the_bookshops_csrf_token(app, store, sayso_calls, csrf):
    calls, _ = sayso_calls
    response, result = press_send(app, csrf=csrf)
    assert response.status_code == 400 and result is None
    assert calls == [] and store.emails(SUB) == []


# --- DPoP: the bookshop's key and proofs ------------------------------------------------


def test_the_dpop_key_is_made_once_and_kept(bookshop_module, app, tmp_path):
    first = app.extensions["bookshop_dpop"].public_jwk
    again = bookshop_module.create_app(
        {**app.config, "BOOKSHOP_DATABASE": str(tmp_path / "bookshop.sqlite3")}
    )
    assert again.extensions["bookshop_dpop"].public_jwk == first
    assert "d" not in first and first["kty"] == "EC"


class _Answer(requests.Response):
    def __init__(self, status: int, headers: dict, body: dict):
        super().__init__()
        self.status_code, self._content = status, json.dumps(body).encode()
        self._content_consumed, self.raw = True, io.BytesIO()
        self.headers.update(headers)


def test_each_request_with_credentials_carries_a_proof_and_the_nonce_retry_happens_once(
    app, monkeypatch
):
    """Sayso's own check (oauth/dpop.py) judges the bookshop's proofs; the server is
    played by a stand-in adapter that wants a nonce first, as Sayso's API does."""
    nonces = Nonces(b"n" * 32)
    sent = []

    def server(self, request, **kwargs):
        sent.append(request.headers.get("DPoP"))
        if "Authorization" not in request.headers:
            return _Answer(200, {}, {"issuer": "http://sayso.invalid"})
        proof = check(
            request.headers["DPoP"],
            method=request.method,
            url=request.url,
            now=time.time(),
            window=60,
            access_token="tok",
            nonces=nonces,
        )
        assert proof.jkt
        answer = _Answer(200, {"DPoP-Nonce": nonces.current(time.time())}, {"ok": True})
        answer.request = request
        return answer

    def wants_nonce_first(self, request, **kwargs):
        if len(sent) == 0:
            sent.append(request.headers.get("DPoP"))
            headers = {
                "WWW-Authenticate": 'DPoP error="use_dpop_nonce"',
                "DPoP-Nonce": nonces.current(time.time()),
            }
            return _Answer(401, headers, {"error": "use_dpop_nonce"})
        return server(self, request, **kwargs)

    monkeypatch.setattr(requests.adapters.HTTPAdapter, "send", wants_nonce_first)
    key = app.extensions["bookshop_dpop"]
    # Authlib's own session, as the bookshop's OAuth client opens it, holding a DPoP token.
    session = OAuth2Session("client", token={"access_token": "tok", "token_type": "DPoP"})
    key.install(session)
    response = session.get("http://sayso.invalid/api/v1/profile?x=1")
    assert response.status_code == 200
    assert response.request.headers["Authorization"] == "DPoP tok"
    assert len(sent) == 2 and sent[0] != sent[1]
    # The next request uses the nonce it was handed, at once.
    assert session.get("http://sayso.invalid/api/v1/profile").status_code == 200
    assert len(sent) == 3
    # Without credentials, nothing to prove.
    session.get("http://sayso.invalid/.well-known/oauth-authorization-server", withhold_token=True)
    assert sent[-1] is None
