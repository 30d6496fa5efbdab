"""Revocation webhooks through real HTTP: the outbox, the signed POST, retries, the worker."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from flask_sqlalchemy.session import Session as FlaskSession
from sqlalchemy import create_engine, event, insert, select, text, update
from sqlalchemy.pool import NullPool

from sayso import services
from sayso.extensions import db
from sayso.models import Grant, OAuthClient, WebhookDelivery
from sayso.services.webhooks import verify
from sayso.shared.clock import utcnow
from tests.helpers import api_headers, sign_up
from tests.oauth_helpers import bearer, connect, make_brand

DISCLOSURES = {
    "interests": [{"topic_id": 100}, {"text": "crime fiction"}],
    "browsing_categories": [{"topic_id": 332, "weight": 0.5}],
    "channels": [{"channel": "email", "max_per_week": 1}],
}
SECRET_IN_RESPONSE = "stack trace with a database password"


@dataclass
class Received:
    """One request the receiver got."""

    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    """A brand's webhook endpoint on 127.0.0.1 that records what it receives.

    ``answers`` is a queue of status codes to reply with (then 200); ``delay`` makes
    each reply slow, so concurrent workers overlap.
    """

    answers: list[int] = field(default_factory=list)
    delay: float = 0.0
    received: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self) -> Receiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                headers = {k.lower(): v for k, v in self.headers.items()}
                with receiver.lock:
                    receiver.received.append(Received(self.path, headers, body))
                    status = receiver.answers.pop(0) if receiver.answers else 200
                time.sleep(receiver.delay)
                reply = SECRET_IN_RESPONSE.encode() if status >= 400 else b"ok"
                self.send_response(status)
                if 300 <= status < 400:
                    self.send_header("Location", "/elsewhere")
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        return self

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hooks/sayso"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()


@pytest.fixture
def receiver():
    started = Receiver().start()
    yield started
    started.stop()


@pytest.fixture
def consumer(client):
    sign_up(client, "ada@example.org")
    client.put("/api/v1/me/disclosures", json=DISCLOSURES, headers=api_headers(client))
    return client


@pytest.fixture
def brand(runner, receiver):
    return make_brand(runner, webhook=receiver.url)


def deliver(app) -> str:
    """One round of the worker, as an operator would run it."""
    result = app.test_cli_runner().invoke(args=["webhooks", "deliver", "--once"])
    assert result.exit_code == 0, result.output
    return result.output.strip()


def deliveries(app) -> list[WebhookDelivery]:
    with app.app_context():
        rows = db.session.scalars(select(WebhookDelivery).order_by(WebhookDelivery.id)).all()
        db.session.expunge_all()
        return rows


def make_due(app) -> None:
    """Let time pass: every pending delivery is due now."""
    with app.app_context():
        db.session.execute(
            update(WebhookDelivery)
            .where(WebhookDelivery.status == "pending")
            .values(next_attempt_at=utcnow() - timedelta(seconds=1))
        )
        db.session.commit()


def revoke(consumer, brand, field_name=None):
    path = f"/api/v1/me/grants/{brand['brand_id']}" + (f"/{field_name}" if field_name else "")
    response = consumer.delete(path, headers=api_headers(consumer))
    assert response.status_code == 200, response.get_data(as_text=True)
    return response


def test_a_revoke_is_delivered_once_signed_with_fields_and_sub_but_no_values(
    app, consumer, brand, receiver
):
    token = connect(consumer, brand, ["interests", "channels"])["access_token"]
    sub = consumer.get("/api/v1/profile", headers=bearer(token)).get_json()["sub"]
    revoke(consumer, brand)
    assert receiver.received == []  # nothing is sent from the request itself

    assert deliver(app) == "delivered 1, retried 0, failed 0"
    (got,) = receiver.received
    assert got.path == "/hooks/sayso"
    assert got.headers["content-type"] == "application/json"
    assert verify(brand["webhook_secret"], got.body, got.headers["sayso-signature"])
    assert not verify("sayso_whs_wrong", got.body, got.headers["sayso-signature"])
    t = int(dict(p.split("=", 1) for p in got.headers["sayso-signature"].split(","))["t"])
    assert abs(time.time() - t) < 60

    body = json.loads(got.body)
    assert set(body) == {"id", "type", "created_at", "data"}
    assert body["type"] == got.headers["sayso-event-type"] == "consent.revoked"
    assert body["id"] == got.headers["sayso-event-id"]
    assert body["data"]["brand_id"] == brand["brand_id"]
    assert body["data"]["sub"] == sub
    assert body["data"]["fields"] == ["channels", "interests"]
    assert body["data"]["sequence"] == 1  # the client's first event
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", body["created_at"])  # to the second
    # Every key and value of the body is pinned above, so no disclosed value can be in it.
    # (Not checked as substrings of the text: its random ids now and then contain "332".)
    assert set(body["data"]) == {"brand_id", "sub", "fields", "sequence"}
    assert "crime fiction" not in got.body.decode() and "email" not in got.body.decode()

    (row,) = deliveries(app)
    assert row.payload.encode() == got.body  # the exact stored bytes are what is signed
    assert row.status == "delivered" and row.attempts == 1 and row.last_status_code == 200
    assert row.delivered_at is not None
    # Delivered means done: another round sends nothing.
    make_due(app)
    assert deliver(app) == "delivered 0, retried 0, failed 0"
    assert len(receiver.received) == 1


def test_a_500_is_retried_later_then_delivered(app, consumer, brand, receiver):
    connect(consumer, brand, ["interests"])
    revoke(consumer, brand)
    receiver.answers = [500]

    before = utcnow()
    assert deliver(app) == "delivered 0, retried 1, failed 0"
    (row,) = deliveries(app)
    assert row.status == "pending" and row.attempts == 1
    assert row.last_status_code == 500 and row.last_error == "HTTP 500"
    assert SECRET_IN_RESPONSE not in (row.last_error or "")
    # First retry about 30 s later (with jitter), not at once.
    assert before + timedelta(seconds=20) < row.next_attempt_at < utcnow() + timedelta(seconds=40)
    assert deliver(app) == "delivered 0, retried 0, failed 0"  # not due yet
    assert len(receiver.received) == 1

    make_due(app)
    assert deliver(app) == "delivered 1, retried 0, failed 0"
    first, second = receiver.received
    assert first.body == second.body
    assert first.headers["sayso-event-id"] == second.headers["sayso-event-id"]
    assert verify(brand["webhook_secret"], second.body, second.headers["sayso-signature"])
    (row,) = deliveries(app)
    assert row.status == "delivered" and row.attempts == 2 and row.last_error is None


def test_backoff_doubles_and_is_capped(app):
    with app.app_context():
        dispatcher = services.webhooks()
        for attempts, seconds in [(1, 30), (2, 60), (3, 120), (10, 15360), (11, 21600)]:
            delay = dispatcher.backoff(attempts).total_seconds()
            assert seconds * 0.9 <= delay <= seconds * 1.1
        assert dispatcher.backoff(30).total_seconds() <= 6 * 3600 * 1.1


def test_max_attempts_leads_to_failed_and_no_more_sends(app, consumer, brand, receiver):
    connect(consumer, brand, ["interests"])
    revoke(consumer, brand)
    receiver.answers = [503] * 20
    assert deliver(app) == "delivered 0, retried 1, failed 0"
    with app.app_context():
        db.session.execute(update(WebhookDelivery).values(attempts=11))
        db.session.commit()
    make_due(app)
    assert deliver(app) == "delivered 0, retried 0, failed 1"
    (row,) = deliveries(app)
    assert row.status == "failed" and row.attempts == 12 and row.last_status_code == 503
    make_due(app)
    assert deliver(app) == "delivered 0, retried 0, failed 0"
    assert len(receiver.received) == 2


def test_redirects_are_not_followed(app, consumer, brand, receiver):
    connect(consumer, brand, ["interests"])
    revoke(consumer, brand)
    receiver.answers = [307]
    assert deliver(app) == "delivered 0, retried 1, failed 0"
    assert [r.path for r in receiver.received] == ["/hooks/sayso"]
    (row,) = deliveries(app)
    assert row.last_status_code == 307 and "redirect" in row.last_error


def test_an_unreachable_url_is_retried_not_crashed(app, runner, consumer):
    with socket.socket() as sock:  # bound, never listening: nobody else can take the port
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        hook = f"http://127.0.0.1:{port}/hooks/sayso?token=brand-token"
        brand = make_brand(runner, webhook=hook)
        connect(consumer, brand, ["interests"])
        revoke(consumer, brand)
        assert deliver(app) == "delivered 0, retried 1, failed 0"
    (row,) = deliveries(app)
    assert row.status == "pending" and row.attempts == 1
    assert row.last_status_code is None and row.last_error == "could not connect"


def test_a_client_without_a_webhook_url_any_more_fails_without_sending(
    app, consumer, brand, receiver
):
    connect(consumer, brand, ["interests"])
    revoke(consumer, brand)
    with app.app_context():
        db.session.execute(update(OAuthClient).values(webhook_url=None))
        db.session.commit()
    assert deliver(app) == "delivered 0, retried 0, failed 1"
    assert receiver.received == []
    (row,) = deliveries(app)
    assert row.status == "failed" and row.attempts == 0 and "no webhook URL" in row.last_error


def test_a_delivery_survives_a_restart_between_revoke_and_delivery(
    app, app_factory, consumer, brand, receiver
):
    connect(consumer, brand, ["interests", "channels"])
    revoke(consumer, brand, "channels")
    # The process that took the revoke goes away before any worker ran.
    with app.app_context():
        db.session.remove()
        db.engine.dispose()
    restarted = app_factory(MASTER_KEY=app.config["MASTER_KEY"])
    assert deliver(restarted) == "delivered 1, retried 0, failed 0"
    (got,) = receiver.received
    assert json.loads(got.body)["data"]["fields"] == ["channels"]
    assert verify(brand["webhook_secret"], got.body, got.headers["sayso-signature"])


def test_a_rolled_back_revoke_leaves_no_delivery(app, consumer, brand, receiver):
    connect(consumer, brand, ["interests"])

    def fail_commit(session):
        raise RuntimeError("the database went away at commit")

    event.listen(FlaskSession, "before_commit", fail_commit)
    try:
        response = consumer.delete(
            f"/api/v1/me/grants/{brand['brand_id']}", headers=api_headers(consumer)
        )
    finally:
        event.remove(FlaskSession, "before_commit", fail_commit)
    assert response.status_code == 500
    assert deliveries(app) == []
    with app.app_context():
        assert db.session.scalars(select(Grant)).one().revoked_at is None
    assert deliver(app) == "delivered 0, retried 0, failed 0"
    assert receiver.received == []


def test_two_transactions_queueing_for_one_client_at_once_both_commit(
    app, consumer, brand, database_url
):
    """Two consumers revoking one brand hold no lock in common, so both may read the same
    last sequence number: the second to commit takes the next one, and both succeed."""
    if not database_url.startswith("postgresql"):
        pytest.skip("SQLite runs one writer at a time: no two transactions to overlap")
    connect(consumer, brand, ["interests"])
    engine = create_engine(database_url, poolclass=NullPool)
    watcher = create_engine(database_url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    answers = []
    try:
        with engine.connect() as other, watcher.connect() as watching:
            # Another consumer's revoke has queued the client's event number 1 and not
            # committed yet: this revoke's INSERT of number 1 waits for it.
            other.execute(
                insert(WebhookDelivery).values(
                    client_id=brand["client_id"],
                    event_id="evt_" + "0" * 32,
                    event_type="consent.revoked",
                    sequence=1,
                    payload="{}",
                )
            )
            revoking = threading.Thread(target=lambda: answers.append(revoke(consumer, brand)))
            revoking.start()
            deadline = time.monotonic() + 30
            while not watching.scalar(
                text(
                    "SELECT count(*) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND wait_event_type = 'Lock'"
                )
            ):
                assert time.monotonic() < deadline, "the revoke never waited"
                time.sleep(0.005)
            other.commit()
            revoking.join(timeout=30)
    finally:
        engine.dispose()
        watcher.dispose()
    assert [a.status_code for a in answers] == [200]
    mine = [row for row in deliveries(app) if row.event_id != "evt_" + "0" * 32]
    assert [row.sequence for row in mine] == [2]
    assert json.loads(mine[0].payload)["data"]["sequence"] == 2


def test_two_workers_at_once_never_send_the_same_delivery(app, consumer, brand, receiver):
    connect(consumer, brand, ["interests", "channels", "browsing_categories"])
    for name in ("interests", "channels", "browsing_categories"):
        revoke(consumer, brand, name)
    receiver.delay = 0.2
    summaries, errors = [], []

    def work():
        try:
            with app.app_context():
                summaries.append(services.webhooks().deliver_due())
        except Exception as exc:  # surfaced below, in the test's thread
            errors.append(exc)

    workers = [threading.Thread(target=work) for _ in range(2)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert errors == []
    event_ids = [r.headers["sayso-event-id"] for r in receiver.received]
    assert len(event_ids) == len(set(event_ids)) == 3
    assert sum(s.delivered for s in summaries) == 3
    assert all(row.status == "delivered" for row in deliveries(app))


def test_webhooks_list_shows_rows_and_filters_by_status(app, runner, consumer, brand, receiver):
    assert runner.invoke(args=["webhooks", "list"]).output.strip() == "no deliveries"
    connect(consumer, brand, ["interests", "channels"])
    revoke(consumer, brand, "interests")
    deliver(app)
    revoke(consumer, brand, "channels")
    lines = runner.invoke(args=["webhooks", "list"]).output.splitlines()
    assert lines[0].split() == [
        "id",
        "client",
        "event",
        "status",
        "attempts",
        "next",
        "attempt",
        "last",
    ]
    assert len(lines) == 3
    assert brand["client_id"] in lines[1] and "pending" in lines[1]
    assert "delivered" in lines[2] and "200" in lines[2]
    only = runner.invoke(args=["webhooks", "list", "--status", "delivered"]).output.splitlines()
    assert len(only) == 2 and "delivered" in only[1]
    bad = runner.invoke(args=["webhooks", "list", "--status", "lost"])
    assert bad.exit_code == 2


def test_the_worker_loops_until_sigterm(app, consumer, brand, receiver, tmp_path):
    connect(consumer, brand, ["interests"])
    revoke(consumer, brand)
    env = {
        **os.environ,
        "SAYSO_ENV": "testing",
        "SAYSO_DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"],
        "SAYSO_MASTER_KEY": app.config["MASTER_KEY"],
        "SAYSO_SECRET_KEY": app.config["SECRET_KEY"],
        "SAYSO_INSTANCE_PATH": str(tmp_path / "worker"),
    }
    # What the `sayso` console script runs, with this interpreter.
    command = [sys.executable, "-c", "from sayso.cli import main; main()"]
    with subprocess.Popen(
        [*command, "webhooks", "deliver", "--interval", "0.2"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    ) as worker:
        try:
            deadline = time.monotonic() + 30
            while not receiver.received and time.monotonic() < deadline:
                time.sleep(0.05)
            assert len(receiver.received) == 1
            worker.send_signal(signal.SIGTERM)
            output, _ = worker.communicate(timeout=30)
        finally:
            if worker.poll() is None:
                worker.kill()
                worker.communicate()
    assert worker.returncode == 0, output
    assert "delivered 1, retried 0, failed 0" in output
    assert output.strip().endswith("stopped")
    assert deliveries(app)[0].status == "delivered"
