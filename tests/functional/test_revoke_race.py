"""A revoke takes effect on the very next request, across worker processes.

Sayso runs under gunicorn with two workers of four threads on this test's database, so
reads served together share a transaction and its commit. Reader threads
hammer ``/api/v1/profile`` with a brand's token while the consumer revokes the brand;
no read that *started* after the revoke *returned* may succeed. Everything goes over
real HTTP, as a browser and a brand's server would talk to Sayso.
"""

from __future__ import annotations

import re
import threading
import time
from types import SimpleNamespace
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from sayso.config import new_key
from tests.helpers import PASSWORD, emailed_link
from tests.oauth_helpers import authorize_url, make_brand, pkce
from tests.servers import gunicorn, tail

TRIALS = 5
READERS = 4
SUCCESSES_BEFORE_REVOKE = 8  # per trial: the token demonstrably works first
READS_AFTER_REVOKE = 20  # per trial: reads started after the revoke returned
MAX_READS_PER_TRIAL = 150  # a hard bound, whatever the timing
TRIAL_SECONDS = 8.0
FIELDS = ["interests", "channels"]
DISCLOSURES = {
    "interests": [{"text": "crime fiction"}],
    "channels": [{"channel": "email", "max_per_week": 1}],
}
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture
def sayso_server(database_url, app_factory, tmp_path):
    """Sayso under gunicorn (two workers, four threads each) on this test's database;
    stopped however the test ends. Its master key is shared with an in-process app, whose
    CLI creates the brand. Threads, as docs/configuration.md recommends: reads a worker
    serves at once may share a transaction (db.GroupCommit, on SQLite), and the
    guarantee must hold there."""
    master_key = new_key()
    app = app_factory(MASTER_KEY=master_key)
    with gunicorn(database_url, tmp_path, MASTER_KEY=master_key) as server:
        yield SimpleNamespace(url=server.url, runner=app.test_cli_runner(), log=server.log)


def _csrf_from(http: requests.Session, url: str) -> str:
    match = _CSRF.search(http.get(url, timeout=10).text)
    assert match, f"no CSRF token on {url}"
    return match.group(1)


def _sign_up(http: requests.Session, base: str, app) -> dict:
    """Sign up through the form, follow the emailed confirmation link (the in-process
    ``app``, on the same database and master key, delivers it) and disclose; the headers
    a JSON write needs."""
    answer = http.post(
        base + "/signup",
        data={
            "email": "ada@example.org",
            "password": PASSWORD,
            "csrf_token": _csrf_from(http, base + "/signup"),
        },
        allow_redirects=False,
        timeout=10,
    )
    assert answer.status_code == 200, answer.text
    link = base + emailed_link(app, "ada@example.org", "/account/confirm/")
    confirmed = http.post(
        link,
        data={"password": PASSWORD, "csrf_token": _csrf_from(http, link)},
        allow_redirects=False,
        timeout=10,
    )
    assert confirmed.status_code == 302, confirmed.text
    headers = {"X-CSRFToken": http.get(base + "/api/v1/me", timeout=10).json()["csrf_token"]}
    put = http.put(base + "/api/v1/me/disclosures", json=DISCLOSURES, headers=headers, timeout=10)
    assert put.status_code == 200, put.text
    return headers


def _connect(http: requests.Session, base: str, brand: dict) -> str:
    """Consent (again) on the page, then exchange the code with PKCE; the access token."""
    verifier, challenge = pkce()
    url = base + authorize_url(brand, challenge=challenge, prompt="consent")
    page = http.get(url, allow_redirects=False, timeout=10)
    assert page.status_code == 200, page.text
    answer = http.post(
        url,
        data={
            "csrf_token": _CSRF.search(page.text).group(1),
            "decision": "allow",
            "field": FIELDS,
            "expiry": "1y",
        },
        allow_redirects=False,
        timeout=10,
    )
    assert answer.status_code == 302, answer.text
    code = parse_qs(urlsplit(answer.headers["Location"]).query)["code"][0]
    token = requests.post(
        base + "/oauth/token",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": brand["redirect_uri"],
            "code_verifier": verifier,
        },
        auth=(brand["client_id"], brand["client_secret"]),
        timeout=10,
    )
    assert token.status_code == 200, token.text
    return token.json()["access_token"]


def _read_until_stopped(url: str, access_token: str, stop: threading.Event, records: list):
    """One brand server reading the profile in a loop: (started, status) per read."""
    headers = {"Authorization": f"Bearer {access_token}"}
    with requests.Session() as http:
        while not stop.is_set() and len(records) < MAX_READS_PER_TRIAL:
            started = time.monotonic()
            try:
                status = http.get(url, headers=headers, timeout=10).status_code
            except requests.RequestException as exc:
                status = type(exc).__name__
            records.append((started, status))


def _wait_for(condition, deadline: float) -> None:
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.002)


def _trial(http, base, brand, csrf_headers) -> dict:
    """One token, readers racing one revoke; what the reads saw."""
    access_token = _connect(http, base, brand)
    records: list = []
    stop = threading.Event()
    readers = [
        threading.Thread(
            target=_read_until_stopped,
            args=(base + "/api/v1/profile", access_token, stop, records),
        )
        for _ in range(READERS)
    ]
    deadline = time.monotonic() + TRIAL_SECONDS
    for reader in readers:
        reader.start()
    try:
        _wait_for(
            lambda: sum(status == 200 for _, status in records) >= SUCCESSES_BEFORE_REVOKE,
            deadline,
        )
        revoke = http.delete(
            f"{base}/api/v1/me/grants/{brand['brand_id']}", headers=csrf_headers, timeout=10
        )
        revoke_returned = time.monotonic()
        assert revoke.status_code == 200, revoke.text
        assert revoke.json() == {"revoked": {brand["brand_id"]: sorted(FIELDS)}}
        _wait_for(
            lambda: sum(started > revoke_returned for started, _ in records) >= READS_AFTER_REVOKE,
            deadline,
        )
    finally:
        stop.set()
        for reader in readers:
            reader.join(timeout=15)
    assert not any(reader.is_alive() for reader in readers)
    before = [status for started, status in records if started <= revoke_returned]
    after = [status for started, status in records if started > revoke_returned]
    return {"before": before, "after": after}


def test_revoke_during_concurrent_reads_across_two_workers_leaves_no_later_read(sayso_server):
    base = sayso_server.url
    brand = make_brand(sayso_server.runner)
    began = time.monotonic()
    results = []
    with requests.Session() as http:
        csrf_headers = _sign_up(http, base, sayso_server.runner.app)
        for _ in range(TRIALS):
            results.append(_trial(http, base, brand, csrf_headers))
    elapsed = time.monotonic() - began

    log = tail(sayso_server.log)
    for number, result in enumerate(results, 1):
        # The race was real: the token read before the revoke, and reads kept coming after.
        assert result["before"].count(200) >= SUCCESSES_BEFORE_REVOKE, (number, result, log)
        assert len(result["after"]) >= READS_AFTER_REVOKE, (number, result, log)
        # Reads in flight during the revoke may go either way; nothing else may happen.
        assert set(result["before"]) <= {200, 401}, (number, result, log)
        # The property: not one read that started after the revoke returned succeeded.
        assert set(result["after"]) == {401}, (number, result, log)
    reads = sum(len(r["before"]) + len(r["after"]) for r in results)
    late = sum(len(r["after"]) for r in results)
    print(f"revoke race: {TRIALS} trials, {reads} reads, {late} after revoke, {elapsed:.1f} s")
