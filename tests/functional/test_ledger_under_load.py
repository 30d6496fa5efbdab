"""Every answered read is in the log exactly once, under load, across processes, with the
database cutting connections: two gunicorn workers serve reads, grants and revokes while
their own background sequencer (one elected) integrates the events, and on PostgreSQL
``pg_terminate_backend`` cuts every connection of the app's, several times. A read answered
200 has exactly one event; a read answered with an error has none; nothing answers 500;
the sequencer recovers by itself and the log verifies."""

from __future__ import annotations

import threading
import time

import requests
from sqlalchemy import create_engine, func, select, text

from sayso.extensions import db
from sayso.ledger.verify import LogVerifier
from sayso.models import AuditEvent, LedgerPending
from tests.functional.test_revoke_race import (
    _connect,
    _sign_up,
    sayso_server,  # noqa: F401  (a fixture)
)
from tests.oauth_helpers import make_brand

READERS = 4
READS_EACH = 60
CUTS = 4


def _reader(base: str, token: str, answers: list, cutting: threading.Event) -> None:
    """At least READS_EACH reads, and on until the connections were cut CUTS times."""
    done = 0
    with requests.Session() as http:
        while done < READS_EACH or (cutting.is_set() and done < 20 * READS_EACH):
            try:
                status = http.get(
                    base + "/api/v1/profile",
                    headers={"Authorization": f"Bearer {token}"},
                    timeout=20,
                ).status_code
            except requests.RequestException as exc:  # a lost answer: neither 200 nor error
                status = type(exc).__name__
            answers.append(status)
            done += 1


def _toggler(http, base, brand, headers, stop: threading.Event, outcomes: list) -> None:
    """The consumer revokes the second brand and grants it again, over and over."""
    while not stop.is_set():
        revoked = http.delete(
            f"{base}/api/v1/me/grants/{brand['brand_id']}", headers=headers, timeout=20
        )
        outcomes.append(revoked.status_code)
        try:
            _connect(http, base, brand)
            outcomes.append(200)
        except AssertionError:  # a connection cut during the consent: tried again
            outcomes.append("consent")


def _cutter(url: str, cutting: threading.Event, cuts: list) -> None:
    """Cut every connection of the app's CUTS times, while the readers go on."""
    engine = create_engine(url)
    try:
        for _ in range(CUTS):
            time.sleep(0.4)
            with engine.connect() as connection:
                ended = connection.execute(
                    text(
                        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                        "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                    )
                ).scalar()
                connection.commit()
            cuts.append(ended)
    finally:
        engine.dispose()
        cutting.clear()


def test_every_answered_read_has_exactly_one_entry_under_cuts(
    sayso_server,  # noqa: F811  (the fixture imported above)
    app_factory,
    database_url,
    tmp_path,
):
    base = sayso_server.url
    reading, toggled = (
        make_brand(sayso_server.runner),
        make_brand(sayso_server.runner, name="Cafe", domain="cafe.example"),
    )
    answers: list = []
    outcomes: list = []
    cuts: list = []
    stop = threading.Event()
    cutting = threading.Event()
    with requests.Session() as http:
        headers = _sign_up(http, base, sayso_server.runner.app)
        tokens = [_connect(http, base, reading) for _ in range(READERS)]
        _connect(http, base, toggled)
        threads = [
            threading.Thread(target=_reader, args=(base, token, answers, cutting))
            for token in tokens
        ]
        threads.append(
            threading.Thread(target=_toggler, args=(http, base, toggled, headers, stop, outcomes))
        )
        postgresql = database_url.startswith("postgresql")
        if postgresql:
            cutting.set()
            threads.append(threading.Thread(target=_cutter, args=(database_url, cutting, cuts)))
        for thread in threads:
            thread.start()
        for thread in threads[:READERS]:
            thread.join(timeout=300)
        stop.set()
        for thread in threads[READERS:]:
            thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads)
    assert len(answers) >= READERS * READS_EACH
    assert set(answers) <= {200, 503}, sorted(set(map(str, answers)))
    assert 500 not in outcomes
    if postgresql:
        assert len(cuts) == CUTS and sum(cuts) > 0
    # The background sequencer (elected in one of the workers) gets everything in by
    # itself, whatever was cut.
    # The server's own log key, generated into its instance folder at its first start.
    signing_key = (tmp_path / "gunicorn-instance" / "secrets" / "signing_key").read_text()
    app = app_factory(SIGNING_KEY=signing_key.strip())
    deadline = time.monotonic() + 60
    with app.app_context():
        while time.monotonic() < deadline:
            if not db.session.scalar(select(func.count()).select_from(LedgerPending)):
                break
            db.session.rollback()
            time.sleep(0.1)
        reads = db.session.scalar(
            select(func.count())
            .select_from(AuditEvent)
            .where(AuditEvent.type == "api:profile:read", AuditEvent.brand == reading["brand_id"])
        )
        assert reads == answers.count(200), (reads, answers.count(200), answers.count(503))
        result = LogVerifier(db.session, app.extensions["sayso_ledger_key"]).verify()
    assert result.ok and result.pending == 0, result
