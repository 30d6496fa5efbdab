"""Faults: database connections cut, a worker killed. Nothing acknowledged is lost,
nothing is half-written, and Sayso recovers by itself.

On PostgreSQL a connection is cut as a database restart or a network fault would cut it:
``pg_terminate_backend`` from a second connection. Each write is then answered ``503
unavailable`` with ``Retry-After`` (never ``500``), its change and its ledger event are
both rolled back, and the next request gets a new connection from the pool. Four ways:

- in process, the one transaction a write commits is cut just before its ``COMMIT``
  (grants, revokes, disclosure edits, the consent page, the code exchange, refreshes);
- under a real gunicorn (two workers), connections cut again and again during a mixed
  load over HTTP, then the database checked against every acknowledged answer;
- a gunicorn worker killed with SIGKILL while a request waits inside it (both databases);
- the webhook worker, a real subprocess posting to a real local receiver, its
  connection cut in the middle of a round and between rounds.

SQLite has no server connection to cut: its transient fault is a lock held past the
30-second busy timeout, classified with the others in ``tests/unit/test_transient_faults.py``.
Bounded and deterministic: every wait polls for its condition with a deadline.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from sqlalchemy import create_engine, event, select, text
from sqlalchemy.pool import NullPool

from sayso import services
from sayso.config import new_key
from sayso.extensions import db
from sayso.ledger import EventType
from sayso.models import AuditEvent, Grant, Token, WebhookDelivery
from sayso.shared.tokens import token_hash
from tests.helpers import (
    PASSWORD,
    api_headers,
    csrf_token,
    emailed_link,
    sign_up,
    writer_queue_is_free,
)
from tests.oauth_helpers import (
    authorize_url,
    basic,
    connect,
    consent,
    exchange,
    make_brand,
    pkce,
    refresh,
)
from tests.servers import booted, gunicorn, tail

POSTGRES_ONLY = (
    "SQLite has no server connection to cut (its transient fault, a lock held past the "
    "30 s busy timeout, is covered in tests/unit/test_transient_faults.py)"
)
APP_NAME = "sayso-faults-app"  # application_name of the connections under test
WORKER_NAME = "sayso-faults-webhooks"
DEADLINE = 30.0  # seconds any one condition may take to come true
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def _poll(condition, what: str, seconds: float = DEADLINE):
    """Wait for ``condition()`` to be true (returned), or fail saying ``what``."""
    deadline = time.monotonic() + seconds
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"not within {seconds} s: {what}")
        time.sleep(0.005)


def _named(url: str, application_name: str) -> str:
    return f"{url}{'&' if '?' in url else '?'}application_name={application_name}"


@pytest.fixture
def admin(database_url):
    """A connection of the test's own, outside the app, that cuts the app's."""
    if not database_url.startswith("postgresql"):
        pytest.skip(POSTGRES_ONLY)
    engine = create_engine(database_url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    yield engine
    engine.dispose()


def _cut(admin, pids: list[int]) -> None:
    """Terminate these server processes, and wait until the server has ended them."""
    with admin.connect() as conn:
        for pid in pids:
            conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        _poll(
            lambda: (
                not conn.scalar(
                    text("SELECT count(*) FROM pg_stat_activity WHERE pid = ANY(:pids)"),
                    {"pids": pids},
                )
            ),
            f"backends {pids} ended",
        )


def _backends(admin, application_name: str) -> list[int]:
    with admin.connect() as conn:
        return list(
            conn.scalars(
                text("SELECT pid FROM pg_stat_activity WHERE application_name = :name"),
                {"name": application_name},
            )
        )


def _cut_all(admin, application_name: str) -> int:
    """Cut every connection ``application_name`` has open now; how many."""
    pids = _backends(admin, application_name)
    _cut(admin, pids)
    return len(pids)


def _events(app, type_: EventType, **where) -> list[AuditEvent]:
    """Ledger events of a type (by type, subject and brand only: never by order)."""
    with app.app_context():
        query = select(AuditEvent).where(AuditEvent.type == str(type_))
        for column, value in where.items():
            query = query.where(getattr(AuditEvent, column) == value)
        rows = db.session.scalars(query).all()
        db.session.expunge_all()
        return rows


def _naming(events: list[AuditEvent], name: str) -> int:
    return sum(name in json.loads(e.fields) for e in events)


# In process: the commit of one write cut -------------------------------------------


class Cut:
    """Cuts the connection of the next transaction the app ends, from the test's own
    connection: just before its ``COMMIT`` (everything else of the transaction, the change
    and its ledger event, has been sent), or just before its ``ROLLBACK`` (a request's
    session ending after the answer was made)."""

    def __init__(self, app, admin, before: str = "commit"):
        self.admin = admin
        self.armed = False
        self.cuts = 0
        with app.app_context():
            event.listen(db.engine, before, self._cut)

    def _cut(self, conn) -> None:
        if not self.armed:
            return
        self.armed = False
        _cut(self.admin, [conn.connection.driver_connection.info.backend_pid])
        self.cuts += 1

    def once(self, send):
        """``send()`` with the first commit (or rollback) it makes cut; its response."""
        self.armed = True
        try:
            response = send()
        finally:
            armed, self.armed = self.armed, False
        assert not armed and self.cuts, "the request ended no transaction"
        return response


@pytest.fixture
def cut(app, admin):
    return Cut(app, admin)


@pytest.fixture
def consumer(client):
    sign_up(client, "ada@example.org")
    disclosed = client.put(
        "/api/v1/me/disclosures",
        json={"interests": [{"text": "crime fiction"}]},
        headers=api_headers(client),
    )
    assert disclosed.status_code == 200
    return client


@pytest.fixture
def brand(runner):
    return make_brand(runner, webhook="https://bookshop.example/hooks/sayso")


def _retry_after(response) -> int:
    # One second, or later where a rate limit's window says so (Flask-Limiter sets the
    # header on every answer of a rate-limited endpoint, to the end of its window).
    seconds = int(response.headers["Retry-After"])
    assert seconds >= 1, response.headers
    return seconds


def _unavailable_json(response, oauth: bool = False) -> None:
    assert response.status_code == 503, response.get_data(as_text=True)
    _retry_after(response)
    body = response.get_json()
    if oauth:  # RFC 6749 §5.2's shape, as every answer of the token endpoint
        assert set(body) == {"error", "error_description"}
    else:
        assert set(body) == {"error", "message", "fields"}
    assert body["error"] == "unavailable"


def _unavailable_page(response) -> None:
    assert response.status_code == 503
    _retry_after(response)
    assert response.mimetype == "text/html"
    page = response.get_data(as_text=True)
    assert "Try again in a moment" in page and "Nothing was half done" in page


def _ledger_counts(app) -> Counter:
    with app.app_context():
        return Counter(
            dict(
                db.session.execute(
                    text("SELECT type, count(*) FROM audit_events GROUP BY type")
                ).all()
            )
        )


def _deliveries(app) -> int:
    with app.app_context():
        return len(db.session.scalars(select(WebhookDelivery)).all())


def _live(app, brand) -> set[str]:
    with app.app_context():
        account = services.accounts().find_by_email("ada@example.org")
        brand_row = services.brands().by_public_id(brand["brand_id"])
        return services.consent().live_fields(account.id, brand_row.id)


def test_a_disclosure_edit_cut_at_commit_is_503_whole_or_not_at_all(app, cut, consumer):
    before = _ledger_counts(app)

    headers = api_headers(consumer)  # before the cut is armed: this GET commits nothing

    def edit():
        return consumer.put(
            "/api/v1/me/disclosures/interests",
            json={"value": [{"text": "gardening"}]},
            headers=headers,
        )

    _unavailable_json(cut.once(edit))
    assert consumer.get("/api/v1/me/disclosures").get_json()["interests"] == [
        {"text": "crime fiction"}
    ]
    assert _ledger_counts(app) == before
    # The pool replaced the dead connection by itself: the same request now succeeds.
    assert edit().status_code == 200
    assert consumer.get("/api/v1/me/disclosures").get_json()["interests"] == [{"text": "gardening"}]
    assert _ledger_counts(app) - before == Counter({str(EventType.DISCLOSURE_UPDATED): 1})


def test_a_grant_and_a_revoke_cut_at_commit_are_503_whole_or_not_at_all(app, cut, consumer, brand):
    connect(consumer, brand, ["interests"])
    path = f"/api/v1/me/grants/{brand['brand_id']}/channels"
    headers = api_headers(consumer)
    before, queued = _ledger_counts(app), _deliveries(app)

    _unavailable_json(cut.once(lambda: consumer.post(path, headers=headers)))
    assert _live(app, brand) == {"interests"}
    assert _ledger_counts(app) == before
    assert consumer.post(path, headers=headers).status_code == 200
    assert _live(app, brand) == {"interests", "channels"}

    before = _ledger_counts(app)
    _unavailable_json(cut.once(lambda: consumer.delete(path, headers=headers)))
    assert _live(app, brand) == {"interests", "channels"}
    assert _ledger_counts(app) == before and _deliveries(app) == queued
    revoked = consumer.delete(path, headers=headers)
    assert revoked.get_json() == {"revoked": {brand["brand_id"]: ["channels"]}}
    # The revoke, its event and its webhook landed together.
    assert _ledger_counts(app) - before == Counter({str(EventType.CONSENT_REVOKED): 1})
    assert _deliveries(app) == queued + 1


def test_a_revoke_form_cut_at_commit_shows_a_page_to_try_again(app, cut, consumer, brand):
    connect(consumer, brand, ["interests"])
    form = {"csrf_token": csrf_token(consumer, "/brands"), "confirm": "yes"}
    path = f"/brands/{brand['brand_id']}/revoke"

    _unavailable_page(cut.once(lambda: consumer.post(path, data=form)))
    assert _live(app, brand) == {"interests"}
    assert consumer.post(path, data=form).status_code == 302
    assert _live(app, brand) == set()


def test_the_consent_page_cut_at_commit_shows_a_page_and_issues_no_code(app, cut, consumer, brand):
    _, challenge = pkce()
    url = authorize_url(brand, challenge=challenge)
    form = {
        "csrf_token": csrf_token(consumer, url),
        "decision": "allow",
        "field": ["interests"],
        "expiry": "1y",
    }
    before = _ledger_counts(app)
    _unavailable_page(cut.once(lambda: consumer.post(url, data=form)))
    assert _live(app, brand) == set() and _ledger_counts(app) == before
    again = consumer.post(url, data=form)
    assert again.status_code == 302 and "code=" in again.headers["Location"]
    assert _live(app, brand) == {"interests"}


def test_a_connection_cut_after_the_answer_was_made_leaves_the_answer_standing(
    app, admin, consumer, brand
):
    connect(consumer, brand, ["interests"])
    # The page is made; the session's end (a rollback: the request wrote nothing) finds
    # its connection gone. The page still goes out, and the next request is served.
    cut_at_rollback = Cut(app, admin, before="rollback")
    page = cut_at_rollback.once(lambda: consumer.get("/brands"))
    assert page.status_code == 200 and "Bookshop" in page.get_data(as_text=True)
    assert consumer.get("/brands").status_code == 200


def test_a_code_exchange_cut_at_commit_is_503_and_leaves_the_code_usable(app, cut, consumer, brand):
    verifier, challenge = pkce()
    code = consent(consumer, brand, ["interests"], challenge=challenge)["code"]
    _unavailable_json(cut.once(lambda: exchange(consumer, brand, code, verifier)), oauth=True)
    # Nothing was stored, so the code is not used up (nor is the retry taken for a replay).
    token = exchange(consumer, brand, code, verifier)
    assert token.status_code == 200, token.get_data(as_text=True)
    with app.app_context():
        assert db.session.get(Token, token_hash(token.get_json()["access_token"])) is not None


def test_a_refresh_cut_at_commit_is_503_and_the_same_refresh_token_still_works(
    app, cut, consumer, brand
):
    first = connect(consumer, brand, ["interests"])
    _unavailable_json(
        cut.once(lambda: refresh(consumer, brand, first["refresh_token"])), oauth=True
    )
    # The rotation was rolled back with everything else: retrying is not reuse.
    again = refresh(consumer, brand, first["refresh_token"])
    assert again.status_code == 200, again.get_data(as_text=True)
    assert _events(app, EventType.REFRESH_REUSED) == []


# Under gunicorn --------------------------------------------------------------------


@pytest.fixture
def sayso_server(database_url, app_factory, tmp_path):
    """Sayso under gunicorn (two workers, four threads each) on this test's database, its
    connections named ``APP_NAME``; an in-process app with the same master key for the
    CLI and for looking at the database; stopped however the test ends."""
    master_key = new_key()
    app = app_factory(MASTER_KEY=master_key)
    url = database_url
    if url.startswith("postgresql"):
        url = _named(url, APP_NAME)
    with gunicorn(url, tmp_path, MASTER_KEY=master_key) as server:
        server.app, server.runner = app, app.test_cli_runner()
        yield server


def _ready(server) -> bool:
    if server.process.poll() is not None:
        pytest.fail(f"gunicorn exited with {server.process.returncode}:\n{tail(server.log)}")
    try:
        return requests.get(server.url + "/healthz", timeout=5).status_code == 200
    except requests.RequestException:  # not listening yet, or still importing
        return False


@dataclass
class Answers:
    """Every status the app answered, and the 2xx answers that acknowledged a change."""

    statuses: Counter = field(default_factory=Counter)
    acknowledged: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def saw(self, status) -> None:
        with self.lock:
            self.statuses[status] += 1

    def acked(self) -> None:
        with self.lock:
            self.acknowledged += 1


ATTEMPTS = 25  # per change: enough for every worker's every pooled connection to fail once


def _until_acknowledged(
    answers: Answers, send, what: str, ok=(200,), also=(), change: bool = True
) -> tuple:
    """Send until acknowledged (a status in ``ok``), as a client that honours 503 would,
    without waiting out Retry-After. A 503 or a lost connection acknowledges nothing; a
    status in ``also`` ends the tries too (allowed only after such an unacknowledged try).
    Anything else fails the test. The response, and how many tries it took; ``change``:
    count it among the acknowledged changes."""
    unacknowledged = 0
    for tries in range(1, ATTEMPTS + 1):
        try:
            response = send()
        except requests.RequestException as error:
            answers.saw(type(error).__name__)
            unacknowledged += 1
            continue
        answers.saw(response.status_code)
        if response.status_code in ok:
            if change:
                answers.acked()
            return response, tries
        if response.status_code in also and unacknowledged:
            return response, tries
        assert response.status_code == 503, (what, response.status_code, response.text)
        _retry_after(response)
        unacknowledged += 1
    pytest.fail(f"{what}: not acknowledged in {ATTEMPTS} tries")


@dataclass
class Tally:
    """What one consumer asked for and what was acknowledged, to check against the database."""

    email: str
    granted: Counter = field(default_factory=Counter)  # field -> grants acknowledged
    grant_tries: Counter = field(default_factory=Counter)
    revokes: int = 0  # revokes of channels acknowledged (each with channels live before)
    edits: int = 0  # disclosure edits acknowledged, each to a new value
    last_interests: list = field(default_factory=list)
    channels_live: bool = True
    tokens: list[str] = field(default_factory=list)  # access tokens acknowledged
    reads: Counter = field(default_factory=Counter)


class Consumer:
    """A person in a browser and the brand's server acting for them, over real HTTP."""

    def __init__(self, base: str, brand: dict, email: str, answers: Answers):
        self.base, self.brand, self.answers = base, brand, answers
        self.http = requests.Session()
        self.tally = Tally(email)
        self.refresh_token: str | None = None
        self.reader_token: str | None = None

    def csrf(self, path: str) -> str:
        """The CSRF token of a page (or, for ``/api/v1/me``, of the API)."""
        response, _ = _until_acknowledged(
            self.answers,
            lambda: self.http.get(self.base + path, timeout=10),
            f"GET {path}",
            change=False,
        )
        if path == "/api/v1/me":
            return response.json()["csrf_token"]
        return _CSRF.search(response.text).group(1)

    def sign_up(self, disclosures: dict, app) -> None:
        """Sign up, follow the emailed link (``app`` delivers it: the same database and
        master key) to confirm and sign in, then disclose."""
        answer = self.http.post(
            self.base + "/signup",
            data={
                "email": self.tally.email,
                "password": PASSWORD,
                "csrf_token": self.csrf("/signup"),
            },
            allow_redirects=False,
            timeout=10,
        )
        assert answer.status_code == 200, answer.text
        link = emailed_link(app, self.tally.email, "/account/confirm/")
        confirmed = self.http.post(
            self.base + link,
            data={"password": PASSWORD, "csrf_token": self.csrf(link)},
            allow_redirects=False,
            timeout=10,
        )
        assert confirmed.status_code == 302, confirmed.text
        self.put("/api/v1/me/disclosures", disclosures)
        self.tally.last_interests = disclosures["interests"]

    def put(self, path: str, body: dict):
        headers = {"X-CSRFToken": self.csrf("/api/v1/me")}
        return _until_acknowledged(
            self.answers,
            lambda: self.http.put(self.base + path, json=body, headers=headers, timeout=10),
            f"PUT {path}",
        )

    def edit(self) -> None:
        value = [{"text": f"edit {self.tally.edits + 1}"}]  # a new value every time
        self.put("/api/v1/me/disclosures/interests", {"value": value})
        self.tally.edits += 1
        self.tally.last_interests = value

    def grant_channels(self) -> None:
        path = f"/api/v1/me/grants/{self.brand['brand_id']}/channels"
        headers = {"X-CSRFToken": self.csrf("/api/v1/me")}
        _, tries = _until_acknowledged(
            self.answers,
            lambda: self.http.post(self.base + path, headers=headers, timeout=10),
            f"POST {path}",
        )
        self.tally.grant_tries["channels"] += tries
        self.tally.granted["channels"] += 1
        self.tally.channels_live = True

    def revoke_channels(self) -> None:
        path = f"/api/v1/me/grants/{self.brand['brand_id']}/channels"
        headers = {"X-CSRFToken": self.csrf("/api/v1/me")}
        _until_acknowledged(
            self.answers,
            lambda: self.http.delete(self.base + path, headers=headers, timeout=10),
            f"DELETE {path}",
        )
        self.tally.revokes += 1
        self.tally.channels_live = False

    def connect(self, fields: list[str]) -> dict:
        """Consent on the page (again), then exchange the code: the token response."""
        verifier, challenge = pkce()
        scope = " ".join(f"{f}:read" for f in fields)
        url = self.base + authorize_url(self.brand, scope, challenge, prompt="consent")
        form = {
            "csrf_token": self.csrf(url.removeprefix(self.base)),
            "decision": "allow",
            "field": fields,
            "expiry": "1y",
        }
        answer, tries = _until_acknowledged(
            self.answers,
            lambda: self.http.post(url, data=form, allow_redirects=False, timeout=10),
            "consent",
            ok=(302,),
        )
        for name in fields:
            self.tally.grant_tries[name] += tries
            self.tally.granted[name] += 1
        if "channels" in fields:
            self.tally.channels_live = True
        code = parse_qs(urlsplit(answer.headers["Location"]).query)["code"][0]
        token, _ = _until_acknowledged(
            self.answers,
            lambda: requests.post(
                self.base + "/oauth/token",
                data={
                    "grant_type": "authorization_code",
                    "code": code,
                    "redirect_uri": self.brand["redirect_uri"],
                    "code_verifier": verifier,
                },
                headers=basic(self.brand),
                timeout=10,
            ),
            "code exchange",
            also=(400,),  # a replay, if an earlier try's answer was lost after it stored
        )
        if token.status_code != 200:
            return self.connect(fields)
        self.tally.tokens.append(token.json()["access_token"])
        return token.json()

    def refresh(self) -> None:
        response, _ = _until_acknowledged(
            self.answers,
            lambda: requests.post(
                self.base + "/oauth/token",
                data={"grant_type": "refresh_token", "refresh_token": self.refresh_token},
                headers=basic(self.brand),
                timeout=10,
            ),
            "refresh",
            also=(400,),  # reuse detected, if an earlier try's answer was lost after it stored
        )
        if response.status_code == 200:
            self.tally.tokens.append(response.json()["access_token"])
            self.refresh_token = response.json()["refresh_token"]
        else:
            self.refresh_token = self.connect(["interests"])["refresh_token"]

    def read(self) -> None:
        """A brand's profile read: being rewritten elsewhere, so only ever 200 or 503."""
        try:
            response = self.http.get(
                self.base + "/api/v1/profile",
                headers={"Authorization": f"Bearer {self.reader_token}"},
                timeout=10,
            )
        except requests.RequestException as error:
            status = type(error).__name__
        else:
            status = response.status_code
            if status == 503:
                _retry_after(response)
        self.answers.saw(status)
        self.tally.reads[status] += 1


DISCLOSURES = {
    "interests": [{"text": "crime fiction"}],
    "channels": [{"channel": "email", "max_per_week": 2}],
}
CONSUMERS = 4
ROUNDS = 6
CUTS = 5  # spread over the load: after every 1/(CUTS + 1) of its acknowledged changes


def _set_up(server, brand, answers, count: int = CONSUMERS) -> list[Consumer]:
    consumers = []
    for number in range(count):
        person = Consumer(server.url, brand, f"person{number}@example.org", answers)
        person.sign_up(DISCLOSURES, server.app)
        # One token to read with, another whose refresh token rotates under load.
        person.reader_token = person.connect(["interests", "channels"])["access_token"]
        person.refresh_token = person.connect(["interests", "channels"])["refresh_token"]
        consumers.append(person)
    return consumers


def _round(person: Consumer, number: int) -> None:
    person.revoke_channels()
    person.read()
    person.edit()
    person.read()
    if number % 2:
        person.connect(["channels"])  # the consent page and the code exchange
    else:
        person.grant_channels()  # the extension's toggle
    person.read()
    person.refresh()
    person.read()


def _run_load(consumers: list[Consumer], rounds: int, started: threading.Event) -> list:
    failures: list = []

    def run(person: Consumer) -> None:
        try:
            for number in range(rounds):
                _round(person, number)
        except BaseException as error:  # reported by the test, not lost in a thread
            failures.append((person.tally.email, error))
            started.set()

    threads = [threading.Thread(target=run, args=(p,)) for p in consumers]
    for thread in threads:
        thread.start()
    started.set()
    return [threads, failures]


def _check_database(server, brand, consumers: list[Consumer]) -> None:
    """Every acknowledged change is in the database, and nothing is half-written: each
    grant and revoke has its ledger event (and webhook), and each event its change."""
    app = server.app
    brand_id = brand["brand_id"]
    total_revokes = 0
    for person in consumers:
        tally = person.tally
        with app.app_context():
            account = services.accounts().find_by_email(tally.email)
            pseudonym = account.pseudonym
            rows = {
                g.field: g
                for g in db.session.scalars(select(Grant).where(Grant.account_id == account.id))
            }
            disclosed = services.disclosures().read(account)
            missing = [t for t in tally.tokens if db.session.get(Token, token_hash(t)) is None]
            db.session.expunge_all()
        assert missing == [], f"{tally.email}: acknowledged tokens not stored"
        # The grants table says what was acknowledged last.
        assert rows["interests"].revoked_at is None, tally.email
        assert (rows["channels"].revoked_at is None) == tally.channels_live, tally.email
        # The ledger: a revoke event for each revoke acknowledged (each found channels
        # live, and a retry of one that had landed finds nothing and records nothing), a
        # grant event for each grant acknowledged (a retried grant may land twice).
        granted = _events(app, EventType.CONSENT_GRANTED, subject=pseudonym, brand=brand_id)
        revoked = _events(app, EventType.CONSENT_REVOKED, subject=pseudonym, brand=brand_id)
        assert _naming(revoked, "channels") == tally.revokes, tally.email
        assert _naming(revoked, "interests") == 0, tally.email
        for name in ("interests", "channels"):
            assert tally.granted[name] <= _naming(granted, name) <= tally.grant_tries[name], (
                tally.email,
                name,
            )
        # Each live grant row has the very event that granted it (its expiry is in it).
        for name, row in rows.items():
            if row.revoked_at is None:
                expiries = {
                    datetime.fromisoformat(json.loads(e.details)["expires_at"])
                    for e in granted
                    if name in json.loads(e.fields)
                }
                assert row.expires_at in expiries, (tally.email, name)
        # Disclosures: the last value acknowledged, one event per edit (a retried edit
        # that had landed changes nothing and records nothing).
        assert disclosed["interests"] == tally.last_interests, tally.email
        updated = _events(app, EventType.DISCLOSURE_UPDATED, subject=pseudonym)
        assert _naming(updated, "interests") == 1 + tally.edits, tally.email
        total_revokes += len(revoked)
    # One consent.revoked webhook per revoke event, one disclosure.updated per edit event
    # (interests stays granted): queued with the change, in the same transaction.
    with app.app_context():
        queued = Counter(db.session.scalars(select(WebhookDelivery.event_type)).all())
    assert queued["consent.revoked"] == total_revokes
    assert queued["disclosure.updated"] == sum(p.tally.edits for p in consumers)


def test_connections_cut_during_mixed_load_lose_nothing_acknowledged(admin, sayso_server):
    brand = make_brand(sayso_server.runner, webhook="https://bookshop.example/hooks/sayso")
    answers = Answers()
    consumers = _set_up(sayso_server, brand, answers)
    setup_acknowledged = answers.acknowledged
    expected = CONSUMERS * ROUNDS * 4  # acknowledged changes the load will make, at least
    started = threading.Event()
    threads, failures = _run_load(consumers, ROUNDS, started)
    cuts = 0
    try:
        started.wait(DEADLINE)
        for number in range(1, CUTS + 1):
            milestone = setup_acknowledged + expected * number // (CUTS + 1)
            _poll(lambda m=milestone: failures or answers.acknowledged >= m, f"{milestone} acks")
            if failures:
                break
            cuts += _cut_all(admin, APP_NAME)
    finally:
        for thread in threads:
            thread.join(timeout=120)
    assert not any(t.is_alive() for t in threads), "a consumer did not finish"
    assert failures == [], (failures, tail(sayso_server.log))
    assert cuts >= CUTS, "the load ran without connections to cut"

    # The app recovers by itself: once no more is cut, everything succeeds again.
    def recovered() -> bool:
        before = answers.statuses[503]
        for person in consumers:
            _round(person, ROUNDS)
        return answers.statuses[503] == before

    _poll(recovered, "a whole round of every consumer without a 503")
    assert booted(sayso_server) == 2, "a worker was restarted"

    # Every change answered 2xx or 503, never 500; profile reads 200 or 503.
    assert 500 not in answers.statuses, answers.statuses
    assert answers.statuses[503] > 0, "no cut met a request"
    for person in consumers:
        assert set(person.tally.reads) <= {200, 503}, person.tally.reads
        assert person.tally.reads[200] > 0
    _check_database(sayso_server, brand, consumers)
    print(f"faults: {cuts} connections cut; answers {dict(answers.statuses)}")


# A worker killed mid-request -------------------------------------------------------


def _workers(master: int) -> list[int]:
    children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
    return [int(pid) for pid in children]


def _serving(server, client_port: int) -> int | None:
    """The gunicorn worker holding the connection from ``client_port``, if any yet."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            columns = line.split()
            local, remote, inode = columns[1], columns[2], columns[9]
            if (
                int(local.rsplit(":", 1)[1], 16) == server.port
                and int(remote.rsplit(":", 1)[1], 16) == client_port
            ):
                inodes.add(f"socket:[{inode}]")
    for pid in _workers(server.process.pid):
        try:
            for fd in Path(f"/proc/{pid}/fd").iterdir():
                try:
                    if os.readlink(fd) in inodes:
                        return pid
                except OSError:  # the descriptor closed meanwhile
                    continue
        except OSError:  # the worker is gone
            continue
    return None


class HeldWrites:
    """The database's write lock (SQLite) or the consumer's channels grant row
    (PostgreSQL) held by the test, so a revoke waits inside a worker, mid-request."""

    def __init__(self, server, account_id: int, brand_row_id: int):
        self.server = server
        url = server.app.config["SQLALCHEMY_DATABASE_URI"]
        self.sqlite = url.startswith("sqlite")
        if self.sqlite:
            self.path = url.removeprefix("sqlite:///")
            self.conn = sqlite3.connect(self.path, isolation_level=None)
            self.conn.execute("BEGIN IMMEDIATE")
        else:
            self.engine = create_engine(url, poolclass=NullPool)
            self.conn = self.engine.connect()
            self.conn.execute(
                text(
                    "SELECT id FROM grants WHERE account_id = :a AND brand_id = :b "
                    "AND field = 'channels' FOR UPDATE"
                ),
                {"a": account_id, "b": brand_row_id},
            )

    def waited_on(self, admin) -> bool:
        """Whether a request of the app is waiting for what is held."""
        if self.sqlite:
            return not writer_queue_is_free(self.path)  # taken by the waiting writer
        with admin.connect() as conn:
            return bool(
                conn.scalar(
                    text(
                        "SELECT count(*) FROM pg_stat_activity WHERE application_name = :n "
                        "AND wait_event_type = 'Lock'"
                    ),
                    {"n": APP_NAME},
                )
            )

    def release(self) -> None:
        self.conn.rollback()
        self.conn.close()
        if not self.sqlite:
            self.engine.dispose()


@pytest.fixture
def any_admin(database_url):
    """A connection of the test's own on PostgreSQL; ``None`` on SQLite."""
    if not database_url.startswith("postgresql"):
        yield None
        return
    engine = create_engine(database_url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    yield engine
    engine.dispose()


def test_a_worker_killed_mid_request_loses_nothing_acknowledged(sayso_server, any_admin):
    brand = make_brand(sayso_server.runner, webhook="https://bookshop.example/hooks/sayso")
    answers = Answers()
    (person,) = consumers = _set_up(sayso_server, brand, answers, count=1)
    for number in range(3):  # acknowledged changes, through whichever worker
        _round(person, number)
    person.revoke_channels()
    person.grant_channels()
    with sayso_server.app.app_context():
        account = services.accounts().find_by_email(person.tally.email)
        brand_row = services.brands().by_public_id(brand["brand_id"])
        ids, pseudonym = (account.id, brand_row.id), account.pseudonym
    revokes_before = _naming(
        _events(sayso_server.app, EventType.CONSENT_REVOKED, subject=pseudonym), "channels"
    )

    held = HeldWrites(sayso_server, *ids)
    connection = http.client.HTTPConnection("127.0.0.1", sayso_server.port, timeout=30)
    try:
        connection.connect()
        client_port = connection.sock.getsockname()[1]
        csrf = person.csrf("/api/v1/me")
        cookies = "; ".join(f"{c.name}={c.value}" for c in person.http.cookies)
        connection.request(
            "DELETE",
            f"/api/v1/me/grants/{brand['brand_id']}/channels",
            headers={"X-CSRFToken": csrf, "Cookie": cookies},
        )
        worker = _poll(lambda: _serving(sayso_server, client_port), "a worker took the revoke")
        _poll(lambda: held.waited_on(any_admin), "the revoke waits inside the worker")
        os.kill(worker, signal.SIGKILL)
        with pytest.raises((http.client.HTTPException, OSError)):
            connection.getresponse()  # never acknowledged
    finally:
        connection.close()
        held.release()
    _poll(lambda: booted(sayso_server) >= 3 and _ready(sayso_server), "a new worker")

    # The revoke in flight landed whole or not at all; the same request again finishes it.
    revokes_now = _naming(
        _events(sayso_server.app, EventType.CONSENT_REVOKED, subject=pseudonym), "channels"
    )
    assert revokes_now in (revokes_before, revokes_before + 1)
    person.revoke_channels()
    revokes_after = _naming(
        _events(sayso_server.app, EventType.CONSENT_REVOKED, subject=pseudonym), "channels"
    )
    assert revokes_after == revokes_before + 1
    # Everything acknowledged before the kill is there, nothing half-written.
    _check_database(sayso_server, brand, consumers)
    assert 500 not in answers.statuses, answers.statuses


# The webhook worker ----------------------------------------------------------------


class GatedReceiver:
    """A brand's webhook endpoint on 127.0.0.1 that records each event id it receives,
    and holds its answer to the first one until ``gate`` is set."""

    def __init__(self):
        self.event_ids: list[str] = []
        self.lock = threading.Lock()
        self.first = threading.Event()
        self.gate = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with receiver.lock:
                    receiver.event_ids.append(self.headers["Sayso-Event-Id"])
                    first = len(receiver.event_ids) == 1
                if first:
                    receiver.first.set()
                    receiver.gate.wait(DEADLINE)
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/sayso"

    def stop(self) -> None:
        self.gate.set()
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()


def _statuses(app) -> dict[str, str]:
    with app.app_context():
        rows = db.session.execute(select(WebhookDelivery.event_id, WebhookDelivery.status))
        return {event_id: status for event_id, status in rows}


def test_the_webhook_worker_outlives_its_connection_cut(app, admin, consumer, tmp_path):
    receiver = GatedReceiver()
    brand = make_brand(app.test_cli_runner(), webhook=receiver.url)
    connect(consumer, brand, ["interests", "channels"])
    path = f"/api/v1/me/grants/{brand['brand_id']}/channels"
    assert consumer.delete(path, headers=api_headers(consumer)).status_code == 200
    env = {
        **os.environ,
        "SAYSO_ENV": "testing",
        "SAYSO_DATABASE_URL": _named(app.config["SQLALCHEMY_DATABASE_URI"], WORKER_NAME),
        "SAYSO_MASTER_KEY": app.config["MASTER_KEY"],
        "SAYSO_SECRET_KEY": app.config["SECRET_KEY"],
        "SAYSO_INSTANCE_PATH": str(tmp_path / "worker"),
    }
    output = tmp_path / "worker.log"
    command = [sys.executable, "-c", "from sayso.cli import main; main()"]
    with open(output, "wb") as log:
        worker = subprocess.Popen(
            [*command, "webhooks", "deliver", "--interval", "0.1"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        # Mid-round: the first delivery is being sent (its claim committed, the outcome
        # not yet recorded) when the worker's connection is cut.
        assert receiver.first.wait(DEADLINE), output.read_text()
        assert _cut_all(admin, WORKER_NAME) >= 1
        receiver.gate.set()
        _poll(
            lambda: set(_statuses(app).values()) == {"delivered"} or worker.poll() is not None,
            "the first delivery recorded",
        )
        assert worker.poll() is None, output.read_text()

        # Between rounds: cut again while it waits for work, then give it more.
        _poll(lambda: _backends(admin, WORKER_NAME), "the worker connected again")
        assert _cut_all(admin, WORKER_NAME) >= 1
        for _ in range(3):
            assert consumer.post(path, headers=api_headers(consumer)).status_code == 200
            assert consumer.delete(path, headers=api_headers(consumer)).status_code == 200
        _poll(
            lambda: set(_statuses(app).values()) == {"delivered"} or worker.poll() is not None,
            "every delivery delivered",
        )
        assert worker.poll() is None, output.read_text()
        statuses = _statuses(app)
        assert len(statuses) == 4
        # Each sent once: the outcome of the one in flight was recorded when the
        # database came back, not sent again.
        assert sorted(receiver.event_ids) == sorted(statuses)
        worker.send_signal(signal.SIGTERM)
        worker.wait(timeout=DEADLINE)
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait()
        receiver.stop()
    log_text = output.read_text()
    assert worker.returncode == 0, log_text
    assert "database unavailable" in log_text and log_text.strip().endswith("stopped")
