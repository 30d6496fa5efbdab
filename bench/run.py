"""The benchmark runner: every scenario, on SQLite and on PostgreSQL, baselines in the same run.

For each database it migrates a fresh database, seeds it, starts Sayso under gunicorn (two
workers, the bench app of :mod:`bench.app`) on a free loopback port, drives load from a
separate process (:mod:`bench.load`) with bounded request counts and deadlines, and
finally writes ``docs/benchmarks.md`` and ``docs/benchmarks.svg``.

Knobs (environment): ``BENCH_SCALE`` (``small`` or ``full``), ``BENCH_DATABASES``
(``sqlite,postgresql``), ``BENCH_POSTGRES_URL`` (an admin URL with rights to create
databases), ``BENCH_OUTPUT`` (the Markdown file to write).
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import re
import secrets
import socket
import sqlite3
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from contextlib import ExitStack, closing
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from tempfile import TemporaryDirectory
from urllib.parse import parse_qs, urlencode, urlsplit

import flask_migrate
import requests
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from bench import seed
from bench.app import STATEMENTS_HEADER, baseline_metadata
from bench.load import percentile
from sayso import create_app, services
from sayso.config import new_key
from sayso.extensions import db
from sayso.models import Account, AuditEvent, Grant
from sayso.services.ledger import GENESIS_HASH, cyclic_gc_paused

ROOT = Path(__file__).resolve().parent.parent
SCALES = {
    # A quick run (a few minutes) that exercises every scenario at toy sizes.
    "small": {
        "consumers": [1_000, 10_000],
        "grants_each": 3,
        "events": [10_000, 50_000],
        "requests": 400,
        "codes": 150,
        "s3_trials": 20,
        "s10_requests": (1_000, 5_000),
    },
    # The sizes: 1M consumers with 10M grants (S8), 1M ledger events (S6, S7),
    # 1,000 revoke trials (S3), RSS after 100k requests (S10). About 13 minutes on 2 cores.
    "full": {
        "consumers": [10_000, 100_000, 1_000_000],
        "grants_each": 10,
        "events": [100_000, 1_000_000],
        "requests": 4_000,
        "codes": 300,
        "s3_trials": 1_000,
        "s10_requests": (1_000, 100_000),
    },
}
WORKERS = 2
# Threads per gunicorn worker: the profile reads a worker serves at once share a
# transaction and its commit (database.GroupCommit). Every baseline runs on the same server.
THREADS = int(os.environ.get("BENCH_THREADS", "4"))
# Connections the load generator keeps busy: one per request slot of the server (workers
# x threads), so the server is saturated with neither idle slots nor a queue.
CONCURRENCY = int(os.environ.get("BENCH_CONCURRENCY", str(WORKERS * THREADS)))
S10_CHUNK = 10_000
# Parts each side of a measured pair is run in, alternating with the other side.
PAIR_ROUNDS = 4
S9_ROUNDS = 6
S7_ROUNDS = 10
LOAD_DEADLINE_SECONDS = 120
STARTUP_SECONDS = 60
ALL_FIELDS = ["interests", "browsing_categories", "channels"]
SCOPES = {
    "interests:read": "recommend books by authors you like",
    "browsing_categories:read": "choose what to show you first",
    "channels:read": "email you no more often than you allow",
}
DISCLOSURES = {
    "interests": [{"text": "crime fiction"}, {"text": "Patricia Highsmith"}],
    "browsing_categories": [{"topic_id": 332, "weight": 0.25}],
    "channels": [{"channel": "email", "max_per_week": 1}],
}
PASSWORD = "correct horse battery staple 42"  # noqa: S105  (a bench consumer's password)
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def log(message: str) -> None:
    """Progress on stderr, with the time."""
    print(f"[bench {datetime.now(UTC):%H:%M:%S}] {message}", file=sys.stderr, flush=True)


# --- databases -----------------------------------------------------------------------------


class Database:
    """A fresh database of one backend for one run, or a copy of one (``template``, which
    nobody may be connected to); dropped at the end."""

    def __init__(self, backend: str, workdir: Path, template: Database | None = None):
        self.backend = backend
        self.workdir = workdir
        self._admin = None
        if backend == "sqlite":
            path = workdir / ("bench.sqlite3" if template is None else "bench-copy.sqlite3")
            self.url = f"sqlite:///{path}"
            if template is not None:
                source = sqlite3.connect(make_url(template.url).database)
                with closing(source), closing(sqlite3.connect(path)) as copy:
                    source.backup(copy)
        else:
            admin_url = os.environ.get(
                "BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
            )
            admin = make_url(admin_url).set(drivername="postgresql+psycopg")
            self.name = f"sayso_bench_{secrets.token_hex(4)}"
            self._admin = create_engine(admin, isolation_level="AUTOCOMMIT")
            copied = f' TEMPLATE "{template.name}"' if template is not None else ""
            with self._admin.connect() as conn:
                conn.execute(text(f'CREATE DATABASE "{self.name}"{copied}'))
            self.url = admin.set(database=self.name).render_as_string(hide_password=False)

    def drop(self) -> None:
        """Drop the PostgreSQL database (the SQLite file goes with the temporary folder)."""
        if self._admin is not None:
            with self._admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)'))
            self._admin.dispose()


def app_config(instance: Path, url: str, keys: dict) -> dict:
    """The in-process app's configuration: the same keys as the server's."""
    return {
        "ENV": "production",
        "INSTANCE_PATH": str(instance),
        "SQLALCHEMY_DATABASE_URI": url,
        "SECRET_KEY": keys["secret"],
        "MASTER_KEY": keys["master"],
        "SIGNING_KEY": keys["signing"],
        "LOG_LEVEL": "WARNING",
    }


# --- the server ----------------------------------------------------------------------------


def free_port() -> int:
    """A free TCP port on loopback."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    """Sayso's bench app under gunicorn with two workers on loopback."""

    def __init__(self, url: str, keys: dict, workdir: Path):
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log_path = workdir / "gunicorn.log"
        env = {k: v for k, v in os.environ.items() if not k.startswith("SAYSO_")}
        env.update(
            SAYSO_ENV="production",
            SAYSO_COOKIE_SECURE="false",
            SAYSO_INSTANCE_PATH=str(workdir / "instance"),
            SAYSO_DATABASE_URL=url,
            SAYSO_SECRET_KEY=keys["secret"],
            SAYSO_MASTER_KEY=keys["master"],
            SAYSO_SIGNING_KEY=keys["signing"],
            # Sign-up happens a few times per run; its hashing cost is not under test.
            SAYSO_ARGON2_TIME_COST="1",
            SAYSO_ARGON2_MEMORY_COST=str(8 * 1024),
            SAYSO_LOG_LEVEL="WARNING",
            PYTHONPATH=str(ROOT),
        )
        gunicorn = Path(sys.executable).parent / "gunicorn"
        self._log = open(self.log_path, "wb")  # noqa: SIM115  (closed in stop())
        self.process = subprocess.Popen(  # noqa: S603  (our own gunicorn, fixed arguments)
            [
                str(gunicorn),
                "-w",
                str(WORKERS),
                "--threads",
                str(THREADS),
                "-b",
                f"127.0.0.1:{self.port}",
                "--chdir",
                str(ROOT),
                "bench.app:create_bench_app()",
            ],
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        self._wait_until_ready()

    def _wait_until_ready(self) -> None:
        deadline = time.monotonic() + STARTUP_SECONDS
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited:\n{self.log_tail()}")
            try:
                healthy = requests.get(self.base + "/healthz", timeout=5).status_code == 200
            except requests.RequestException:
                healthy = False
            booted = self.log_path.read_text(errors="replace").count("Booting worker") >= 2
            if healthy and booted:
                return
            time.sleep(0.1)
        raise RuntimeError(f"gunicorn not ready in {STARTUP_SECONDS} s:\n{self.log_tail()}")

    def log_tail(self) -> str:
        """The end of gunicorn's log."""
        return self.log_path.read_text(errors="replace")[-3000:]

    def stop(self) -> None:
        """Stop gunicorn (by its own pid) and wait for it."""
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=15)
        self._log.close()

    def load(self, requests_: list[dict], count: int, cycle=True, concurrency=CONCURRENCY):
        """Run :mod:`bench.load` in its own process against this server; its result."""
        job = {
            "host": "127.0.0.1",
            "port": self.port,
            "requests": requests_,
            "count": count,
            "cycle": cycle,
            "concurrency": concurrency,
            "deadline_seconds": LOAD_DEADLINE_SECONDS,
        }
        done = subprocess.run(
            [sys.executable, "-m", "bench.load"],
            input=json.dumps(job),
            capture_output=True,
            text=True,
            check=True,
            cwd=ROOT,
            timeout=LOAD_DEADLINE_SECONDS + 60,
        )
        return json.loads(done.stdout)

    def worker_rss(self) -> dict[int, int]:
        """Resident set size (kB) of each worker, asking until both have answered."""
        seen: dict[int, int] = {}
        for _ in range(200):
            # A new connection each time, so either worker may accept it.
            answer = requests.get(
                self.base + "/_bench/rss", headers={"Connection": "close"}, timeout=10
            ).json()
            seen[answer["pid"]] = answer["rss_kb"]
            if len(seen) >= 2:
                break
        return seen


# --- the OAuth dance, over HTTP ------------------------------------------------------------


def pkce() -> tuple[str, str]:
    """A fresh (verifier, S256 challenge) pair."""
    verifier = secrets.token_urlsafe(48)
    return verifier, create_s256_code_challenge(verifier)


@dataclass
class Consumer:
    """A signed-up consumer's browser session and the headers a JSON write needs."""

    http: requests.Session
    headers: dict


@dataclass
class Brand:
    """A brand made through the CLI."""

    client_id: str
    client_secret: str
    brand_id: str
    redirect_uri: str
    fields: list[str] = field(default_factory=list)

    def authorize_path(self, challenge: str) -> str:
        """The consent page's path for a fresh PKCE challenge."""
        params = {
            "response_type": "code",
            "client_id": self.client_id,
            "redirect_uri": self.redirect_uri,
            "scope": " ".join(SCOPES),
            "state": "bench",
            "code_challenge": challenge,
            "code_challenge_method": "S256",
            "prompt": "consent",
        }
        return "/oauth/authorize?" + urlencode(params)


def make_brand(runner, name: str, domain: str, fields: list[str]) -> Brand:
    """A brand and its client, through the CLI as an operator would."""
    redirect = f"https://{domain}/callback"
    args = ["brands", "create", name, "--domain", domain, "--redirect-uri", redirect, "--json"]
    for scope, purpose in SCOPES.items():
        args += ["--scope", f"{scope}={purpose}"]
    result = runner.invoke(args=args)
    if result.exit_code != 0:
        raise RuntimeError(result.output)
    made = json.loads(result.output)
    return Brand(made["client_id"], made["client_secret"], made["brand_id"], redirect, fields)


def sign_up(base: str, email: str) -> Consumer:
    """Sign up through the form and disclose every field."""
    http = requests.Session()
    page = http.get(base + "/signup", timeout=10).text
    answer = http.post(
        base + "/signup",
        data={"email": email, "password": PASSWORD, "csrf_token": _CSRF.search(page).group(1)},
        allow_redirects=False,
        timeout=10,
    )
    if answer.status_code != 302:
        raise RuntimeError(f"sign-up failed: {answer.status_code} {answer.text[:500]}")
    headers = {"X-CSRFToken": http.get(base + "/api/v1/me", timeout=10).json()["csrf_token"]}
    put = http.put(base + "/api/v1/me/disclosures", json=DISCLOSURES, headers=headers, timeout=10)
    if put.status_code != 200:
        raise RuntimeError(f"disclosure failed: {put.status_code} {put.text[:500]}")
    return Consumer(http, headers)


@dataclass
class Code:
    """A fresh authorization code and what redeeming it needs."""

    code: str
    verifier: str
    statements: int  # what the consent page and the consent itself executed
    seconds: float  # how long the consent POST (the grant) took


def consent(base: str, consumer: Consumer, brand: Brand) -> Code:
    """Open the consent page, allow the brand's fields; the code it redirects with."""
    verifier, challenge = pkce()
    url = base + brand.authorize_path(challenge)
    page = consumer.http.get(url, allow_redirects=False, timeout=10)
    if page.status_code != 200:
        raise RuntimeError(f"consent page: {page.status_code} {page.text[:500]}")
    began = time.perf_counter()
    answer = consumer.http.post(
        url,
        data={
            "csrf_token": _CSRF.search(page.text).group(1),
            "decision": "allow",
            "field": brand.fields,
            "expiry": "1y",
        },
        allow_redirects=False,
        timeout=10,
    )
    seconds = time.perf_counter() - began
    if answer.status_code != 302:
        raise RuntimeError(f"consent: {answer.status_code} {answer.text[:500]}")
    code = parse_qs(urlsplit(answer.headers["Location"]).query)["code"][0]
    used = int(page.headers[STATEMENTS_HEADER]) + int(answer.headers[STATEMENTS_HEADER])
    return Code(code, verifier, used, seconds)


def token_form(brand: Brand, code: Code) -> str:
    """The token request's form body for one code."""
    return urlencode(
        {
            "grant_type": "authorization_code",
            "code": code.code,
            "redirect_uri": brand.redirect_uri,
            "code_verifier": code.verifier,
        }
    )


def basic_auth(brand: Brand) -> str:
    """A client_secret_basic Authorization header value."""
    import base64

    raw = f"{brand.client_id}:{brand.client_secret}".encode()
    return "Basic " + base64.b64encode(raw).decode()


def exchange(base: str, brand: Brand, code: Code) -> tuple[str, int]:
    """Redeem a code; the access token and the statements the exchange executed."""
    answer = requests.post(
        base + "/oauth/token",
        data=token_form(brand, code),
        headers={
            "Authorization": basic_auth(brand),
            "Content-Type": "application/x-www-form-urlencoded",
        },
        timeout=10,
    )
    if answer.status_code != 200:
        raise RuntimeError(f"token: {answer.status_code} {answer.text[:500]}")
    return answer.json()["access_token"], int(answer.headers[STATEMENTS_HEADER])


def fresh_token(server, consumer: Consumer, brand: Brand) -> str:
    """A new access token for ``brand`` (consent, then the code exchange)."""
    return exchange(server.base, brand, consent(server.base, consumer, brand))[0]


def profile_request(access_token: str) -> dict:
    """A load-generator request spec for one profile read."""
    return {
        "method": "GET",
        "path": "/api/v1/profile",
        "headers": {"Authorization": f"Bearer {access_token}"},
    }


BARE = {"method": "GET", "path": "/_bench/bare"}


# --- scenarios -----------------------------------------------------------------------------


def measure_pair(server: Server, measured: dict, baseline: dict, count: int) -> tuple:
    """Measured and baseline, interleaved in ``PAIR_ROUNDS`` parts each, so drift (and a
    passing hiccup of the machine) hits both alike."""
    parts = {"m": [], "b": []}
    server.load([measured], max(20, count // 10))  # warm-up, not recorded
    server.load([baseline], max(20, count // 10))
    for _ in range(PAIR_ROUNDS):
        parts["m"].append(server.load([measured], count // PAIR_ROUNDS))
        parts["b"].append(server.load([baseline], count // PAIR_ROUNDS))
    return all_ok(combine(parts["m"])), all_ok(combine(parts["b"]))


def all_ok(result: dict) -> dict:
    """``result``, if every request succeeded: timing errors (an expired token's 401s, a
    500) would measure the wrong thing, so the run stops instead."""
    if set(result["statuses"]) != {"200"} or result["timed_out"]:
        raise RuntimeError(f"not every request succeeded: {result}")
    return result


def combine(results: list[dict]) -> dict:
    """Load results as one: total count over total time, percentiles over every request."""
    count = sum(r["count"] for r in results)
    wall = sum(r["wall_seconds"] for r in results)
    statuses: dict = {}
    for r in results:
        for key, value in r["statuses"].items():
            statuses[key] = statuses.get(key, 0) + value
    stmts = [r["statements"] for r in results if r["statements"] is not None]
    latencies = sorted(latency for r in results for latency in r["latencies_ms"])
    return {
        "count": count,
        "statuses": statuses,
        "wall_seconds": wall,
        "rps": count / wall if wall else 0.0,
        "p50_ms": percentile(latencies, 0.50),
        "p99_ms": percentile(latencies, 0.99),
        "statements": statistics.mean(stmts) if stmts else None,
        "timed_out": any(r["timed_out"] for r in results),
    }


def revoke_race(server: Server, consumer: Consumer, brand: Brand, trials: int) -> dict:
    """S3: readers on both workers race one revoke per trial; late successes, and latencies.

    The revoke is compared with a grant made under the same load: while the readers run,
    the consumer gives the same consent again (the same consent POST, the same upsert and
    ledger event) just before revoking. The first grant of each trial, made while nothing
    else runs, is reported too (``idle_grant_p99_ms``): against it the ratio would measure
    the readers' load, not what a revoke costs next to a grant.
    """
    url_path = "/api/v1/profile"
    late_successes = late_reads = 0
    idle_grant_seconds: list[float] = []
    grant_seconds: list[float] = []
    revoke_seconds: list[float] = []
    for _ in range(trials):
        code = consent(server.base, consumer, brand)
        idle_grant_seconds.append(code.seconds)
        access_token, _ = exchange(server.base, brand, code)
        records: list = []
        stop = threading.Event()

        def read(records=records, stop=stop, access_token=access_token):
            with requests.Session() as http:
                while not stop.is_set() and len(records) < 200:
                    started = time.monotonic()
                    try:
                        status = http.get(
                            server.base + url_path,
                            headers={"Authorization": f"Bearer {access_token}"},
                            timeout=10,
                        ).status_code
                    except requests.RequestException as exc:
                        status = type(exc).__name__
                    records.append((started, status))

        readers = [threading.Thread(target=read) for _ in range(4)]
        for reader in readers:
            reader.start()
        deadline = time.monotonic() + 8
        while sum(s == 200 for _, s in records) < 4 and time.monotonic() < deadline:
            time.sleep(0.002)
        grant_seconds.append(consent(server.base, consumer, brand).seconds)
        began = time.perf_counter()
        answer = consumer.http.delete(
            f"{server.base}/api/v1/me/grants/{brand.brand_id}",
            headers=consumer.headers,
            timeout=10,
        )
        revoke_seconds.append(time.perf_counter() - began)
        returned = time.monotonic()
        if answer.status_code != 200:
            raise RuntimeError(f"revoke: {answer.status_code} {answer.text[:300]}")
        while sum(t > returned for t, _ in records) < 8 and time.monotonic() < deadline:
            time.sleep(0.002)
        stop.set()
        for reader in readers:
            reader.join(timeout=15)
        after = [s for t, s in records if t > returned]
        late_reads += len(after)
        late_successes += sum(s == 200 for s in after)
    from bench.load import percentile

    return {
        "trials": trials,
        "late_reads": late_reads,
        "late_successes": late_successes,
        "idle_grant_p99_ms": percentile(sorted(idle_grant_seconds), 0.99) * 1000,
        "grant_p99_ms": percentile(sorted(grant_seconds), 0.99) * 1000,
        "revoke_p99_ms": percentile(sorted(revoke_seconds), 0.99) * 1000,
    }


def raw_hashlib_seconds(ledger) -> tuple[float, int]:
    """The S6 baseline: chain SHA-256 over every stored canonical byte string and nothing
    else, fetched exactly as ``Ledger.verify`` fetches its rows (``Ledger.raw_batches``:
    the same driver cursor, the same batches, in the same transaction)."""
    began = time.perf_counter()
    prev = bytes.fromhex(GENESIS_HASH)
    count = 0
    sha256 = hashlib.sha256
    with cyclic_gc_paused():  # as verify's walk runs
        for rows in ledger.raw_batches("seq, canonical"):
            for _seq, canonical in rows:
                prev = sha256(prev + canonical).digest()
            count += len(rows)
    return time.perf_counter() - began, count


def verify_timings(app) -> dict:
    """S6: ``Ledger.verify`` and raw hashlib over the same stored bytes (the canonical
    column), fetched the same way. A checkpoint is made first, for S7."""
    with app.app_context():
        ledger = services.ledger()
        ledger.checkpoint()
        # Baseline and verify take turns, three times, and each keeps its best: a cold
        # cache or a scheduler hiccup then cannot land on one side only.
        full_runs, raw_runs = [], []
        for _ in range(3):
            raw_seconds, raw_count = raw_hashlib_seconds(ledger)
            raw_runs.append(raw_seconds)
            began = time.perf_counter()
            full = ledger.verify()
            full_runs.append(time.perf_counter() - began)
        db.session.remove()
    if not full.ok:
        raise RuntimeError(f"ledger does not verify: {full}")
    return {
        "events": full.checked,
        "verify_seconds": min(full_runs),
        "raw_seconds": min(raw_runs),
        "raw_count": raw_count,
    }


def interleaved_s7(apps: list) -> list[dict]:
    """S7: ``verify --since-checkpoint`` on each ledger (the smallest kept as a copy while
    the other grew), in ``S7_ROUNDS`` alternated rounds of 21 walks after one to warm the
    statement caches; each ledger's median walk. A walk takes a millisecond or two, and
    on this machine consecutive medians of the same walk moved by more than S7's ±20 %:
    alternated, the machine's drift hits every size alike."""
    walks: list[list[float]] = [[] for _ in apps]
    checked = [0] * len(apps)
    for round_ in range(S7_ROUNDS + 1):
        for index in range(len(apps)) if round_ % 2 else reversed(range(len(apps))):
            with apps[index].app_context():
                ledger = services.ledger()
                for _ in range(1 if round_ == 0 else 21):
                    began = time.perf_counter()
                    since = ledger.verify(since_checkpoint=True)
                    if round_:
                        walks[index].append(time.perf_counter() - began)
                db.session.remove()
            if not since.ok:
                raise RuntimeError(f"ledger does not verify since its checkpoint: {since}")
            checked[index] = since.checked
    return [
        {"since_seconds": statistics.median(times), "since_checked": count}
        for times, count in zip(walks, checked, strict=True)
    ]


def run_backend(backend: str, scale: dict, stack: ExitStack) -> tuple[dict, Callable]:
    """Every scenario on one database backend but S9. The server and its database stay up
    until ``stack`` closes; returned with the results is what S9 reads with there."""
    out: dict = {"backend": backend, "sizes": []}
    keys = {"secret": new_key(), "master": new_key(), "signing": new_key()}
    workdir = Path(stack.enter_context(TemporaryDirectory(prefix=f"sayso-bench-{backend}-")))
    database = Database(backend, workdir)
    stack.callback(database.drop)
    app = create_app(app_config(workdir / "cli-instance", database.url, keys))
    stack.callback(_release, app)
    with app.app_context():
        flask_migrate.upgrade()
        baseline_metadata.create_all(db.engine)
        db.session.remove()

    # S6/S7 first: the ledger grows to each size, verified at each. A copy of the database
    # at the first size stays, so that S7 can time both sizes side by side.
    out["ledger"] = []
    have = 0
    smallest, largest = scale["events"][0], scale["events"][-1]
    walked = {}  # index in out["ledger"] -> the app whose ledger S7 walks at that size
    for size in scale["events"]:
        log(f"{backend}: seeding the ledger to {size:,} events")
        with app.app_context():
            seed.ledger_events(db.session, size - have)
            db.session.remove()
        have = size
        log(f"{backend}: verifying {size:,} events")
        out["ledger"].append(verify_timings(app))
        if size == smallest != largest:
            _release(app)
            copy = Database(backend, workdir, template=database)
            stack.callback(copy.drop)
            walked[0] = create_app(app_config(workdir / "copy", copy.url, keys))
            stack.callback(_release, walked[0])
    walked[len(out["ledger"]) - 1] = app
    log(f"{backend}: S7 verify --since-checkpoint at {smallest:,} and {largest:,}")
    for index, walks in zip(walked, interleaved_s7(list(walked.values())), strict=True):
        out["ledger"][index].update(walks)

    # Filler consumers and grants, then the server.
    with app.app_context():
        seed.filler_brands(db.session, scale["grants_each"])
        db.session.remove()
    first = scale["consumers"][0]
    log(f"{backend}: seeding {first:,} consumers x {scale['grants_each']} grants")
    with app.app_context():
        seed.filler_consumers(db.session, 0, first, scale["grants_each"])
        db.session.remove()
    server = Server(database.url, keys, workdir)
    stack.callback(server.stop)
    results, reads = scenarios(app, server, scale, backend, out)
    out.update(results)
    return out, reads


def _release(app) -> None:
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def interleaved_s9(readers: dict[str, Callable], count: int) -> dict:
    """S9: S1 on each database, both servers up (each at the largest size, after S8), in
    ``S9_ROUNDS`` alternated rounds: the drift of the machine over a run, which moved S1 on
    PostgreSQL by half between sizes with nothing else changed, hits both alike. One
    server is loaded at a time; the other idles."""
    reads = {backend: make() for backend, make in readers.items()}  # tokens minted now
    parts: dict[str, list] = {backend: [] for backend in reads}
    for server, request in reads.values():
        server.load([request], max(20, count // 10))  # warm-up, not recorded
    order = list(reads)
    for round_ in range(S9_ROUNDS):
        for backend in order if round_ % 2 == 0 else order[::-1]:
            server, request = reads[backend]
            parts[backend].append(server.load([request], count // S9_ROUNDS))
    return {backend: all_ok(combine(results)) for backend, results in parts.items()}


def sizes(app) -> dict:
    """How big the database is now."""
    with app.app_context():
        counted = {
            "consumers": seed.count_rows(db.session, Account),
            "grants": seed.count_rows(db.session, Grant),
            "events": seed.count_rows(db.session, AuditEvent),
        }
        db.session.remove()
    return counted


def scenarios(app, server: Server, scale: dict, backend: str, out: dict) -> tuple[dict, Callable]:
    """S1-S5, S8 and S10 against a running server; and how S9 reads from it later (a
    fresh token each time it is asked)."""
    result: dict = {}
    runner = app.test_cli_runner()
    one = make_brand(runner, "Bookshop", "bookshop.example", ["interests"])
    three = make_brand(runner, "Cafe", "cafe.example", list(ALL_FIELDS))
    racer = make_brand(runner, "Racer", "racer.example", ["interests", "channels"])
    consumer = sign_up(server.base, "ada@example.org")
    token_one = fresh_token(server, consumer, one)
    token_three = fresh_token(server, consumer, three)
    count = scale["requests"]

    log(f"{backend}: S1 profile read vs bare endpoint")
    s1, bare = measure_pair(server, profile_request(token_one), BARE, count)
    result["S1"] = {"measured": s1, "baseline": bare}
    result["sizes"] = [{**sizes(app), "s1": s1, "bare": bare}]

    log(f"{backend}: S2 three fields vs one")
    s2, s2_base = measure_pair(
        server, profile_request(token_three), profile_request(token_one), count
    )
    result["S2"] = {"measured": s2, "baseline": s2_base}

    log(f"{backend}: S4 token endpoint vs bare form + INSERT")
    codes = [consent(server.base, consumer, one) for _ in range(scale["codes"])]
    auth = {
        "Authorization": basic_auth(one),
        "Content-Type": "application/x-www-form-urlencoded",
    }
    token_requests = [
        {"method": "POST", "path": "/oauth/token", "headers": auth, "body": token_form(one, c)}
        for c in codes
    ]
    s4 = server.load(token_requests, len(token_requests), cycle=False)
    insert_requests = [dict(r, path="/_bench/insert") for r in token_requests]
    s4_base = server.load(insert_requests, len(insert_requests), cycle=False)
    result["S4"] = {"measured": s4, "baseline": s4_base}

    log(f"{backend}: S5 statements for the whole flow")
    code = consent(server.base, consumer, one)
    access, exchanged = exchange(server.base, one, code)
    first_read = requests.get(
        server.base + "/api/v1/profile", headers={"Authorization": f"Bearer {access}"}, timeout=10
    )
    result["S5"] = {
        "statements": code.statements + exchanged + int(first_read.headers[STATEMENTS_HEADER]),
        "parts": {
            "authorize+consent": code.statements,
            "token": exchanged,
            "first read": int(first_read.headers[STATEMENTS_HEADER]),
        },
    }

    log(f"{backend}: S3 revoke race, {scale['s3_trials']} trials")
    result["S3"] = revoke_race(server, consumer, racer, scale["s3_trials"])

    log(f"{backend}: S10 worker RSS")
    small, large = scale["s10_requests"]
    # Access tokens live 10 minutes: each chunk reads with a token minted just before it.
    all_ok(server.load([profile_request(fresh_token(server, consumer, one))], small))
    rss_small = server.worker_rss()
    for done in range(small, large, S10_CHUNK):  # chunks, each well inside the deadline
        reads = [profile_request(fresh_token(server, consumer, one))]
        all_ok(server.load(reads, min(S10_CHUNK, large - done)))
    rss_large = server.worker_rss()
    result["S10"] = {"after": (small, rss_small), "after_large": (large, rss_large)}

    for previous, size in zip(scale["consumers"], scale["consumers"][1:], strict=False):
        log(f"{backend}: S8 growing to {size:,} consumers x {scale['grants_each']} grants")
        began = time.perf_counter()
        with app.app_context():
            seed.filler_consumers(db.session, previous, size, scale["grants_each"])
            db.session.remove()
        log(f"{backend}: seeded in {time.perf_counter() - began:.0f} s; S1 again")
        reads = profile_request(fresh_token(server, consumer, one))  # the old one expired
        s1_big, bare_big = measure_pair(server, reads, BARE, count)
        result["sizes"].append({**sizes(app), "s1": s1_big, "bare": bare_big})
    return result, lambda: (server, profile_request(fresh_token(server, consumer, one)))


# --- the report ----------------------------------------------------------------------------


def _fmt(value, digits=2) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def rows_for(out: dict) -> list[dict]:
    """The table's rows for one backend."""
    b = out["backend"]
    rows = []

    def load_row(name, what, measured, baseline, base_name, target, ok_fn):
        ratio = measured["rps"] / baseline["rps"] if baseline["rps"] else 0.0
        rows.append(
            {
                "scenario": name,
                "db": b,
                "measured": what,
                "baseline": base_name,
                "ratio": f"{ratio:.2f}x",
                "target": target,
                "met": ok_fn(ratio),
                "rps": f"{measured['rps']:.0f} / {baseline['rps']:.0f}",
                "p50": f"{measured['p50_ms']:.1f} / {baseline['p50_ms']:.1f}",
                "p99": f"{measured['p99_ms']:.1f} / {baseline['p99_ms']:.1f}",
                "stmts": f"{_fmt(measured['statements'], 1)} / {_fmt(baseline['statements'], 1)}",
                "statuses": f"{measured['statuses']} / {baseline['statuses']}",
            }
        )

    s1 = out["S1"]
    load_row(
        "S1",
        "GET /api/v1/profile",
        s1["measured"],
        s1["baseline"],
        "bare jsonify",
        "≥ 0.5x",
        lambda r: r >= 0.5,
    )
    s2 = out["S2"]
    load_row(
        "S2",
        "profile, 3 fields",
        s2["measured"],
        s2["baseline"],
        "profile, 1 field",
        "≥ 0.9x",
        lambda r: r >= 0.9,
    )
    s3 = out["S3"]
    ratio3 = s3["revoke_p99_ms"] / s3["grant_p99_ms"] if s3["grant_p99_ms"] else 0.0
    rows.append(
        {
            "scenario": "S3",
            "db": b,
            "measured": f"{s3['late_successes']} late successes in {s3['late_reads']} reads "
            f"after revoke, {s3['trials']} trials; revoke p99 {s3['revoke_p99_ms']:.1f} ms",
            "baseline": f"grant p99 {s3['grant_p99_ms']:.1f} ms under the same reads "
            f"({s3['idle_grant_p99_ms']:.1f} ms with nothing else running)",
            "ratio": f"{ratio3:.2f}x",
            "target": "0 late; ≤ 1.5x (1,000 trials)",
            "met": s3["late_successes"] == 0 and ratio3 <= 1.5,
            "rps": "—",
            "p50": "—",
            "p99": f"{s3['revoke_p99_ms']:.1f} / {s3['grant_p99_ms']:.1f}",
            "stmts": "—",
            "statuses": "",
        }
    )
    s4 = out["S4"]
    load_row(
        "S4",
        "POST /oauth/token (code)",
        s4["measured"],
        s4["baseline"],
        "form parse + 1 INSERT",
        "≥ 0.5x",
        lambda r: r >= 0.5,
    )
    s5 = out["S5"]
    rows.append(
        {
            "scenario": "S5",
            "db": b,
            "measured": "authorize → consent → token → first read: "
            + ", ".join(f"{k} {v}" for k, v in s5["parts"].items()),
            "baseline": "12 statements",
            "ratio": f"{s5['statements']} stmts",
            "target": "≤ 12",
            "met": s5["statements"] <= 12,
            "rps": "—",
            "p50": "—",
            "p99": "—",
            "stmts": str(s5["statements"]),
            "statuses": "",
        }
    )
    ledger = out["ledger"]
    big = ledger[-1]
    ratio6 = big["raw_seconds"] / big["verify_seconds"] if big["verify_seconds"] else 0.0
    rows.append(
        {
            "scenario": "S6",
            "db": b,
            "measured": f"Ledger.verify, {big['events']:,} events: {big['verify_seconds']:.2f} s",
            "baseline": f"raw hashlib, same bytes: {big['raw_seconds']:.2f} s",
            "ratio": f"{ratio6:.2f}x",
            "target": "≥ 0.6x; 1M in < 3 s",
            "met": ratio6 >= 0.6 and big["verify_seconds"] * 1_000_000 / big["events"] < 3,
            "rps": f"{big['events'] / big['verify_seconds']:.0f} ev/s",
            "p50": "—",
            "p99": "—",
            "stmts": "—",
            "statuses": "",
        }
    )
    small = ledger[0]
    ratio7 = big["since_seconds"] / small["since_seconds"] if small["since_seconds"] else 0.0
    rows.append(
        {
            "scenario": "S7",
            "db": b,
            "measured": f"verify --since-checkpoint at {big['events']:,}, interleaved: "
            f"{big['since_seconds'] * 1000:.1f} ms",
            "baseline": f"at {small['events']:,}: {small['since_seconds'] * 1000:.1f} ms",
            "ratio": f"{ratio7:.2f}x",
            "target": "0.8-1.2x",
            "met": 0.8 <= ratio7 <= 1.2,
            "rps": "—",
            "p50": "—",
            "p99": "—",
            "stmts": "—",
            "statuses": "",
        }
    )
    first, last = out["sizes"][0], out["sizes"][-1]
    ratio8 = last["s1"]["p99_ms"] / first["s1"]["p99_ms"] if first["s1"]["p99_ms"] else 0.0
    rows.append(
        {
            "scenario": "S8",
            "db": b,
            "measured": f"S1 p99 at {last['consumers']:,} consumers / {last['grants']:,} grants",
            "baseline": f"at {first['consumers']:,} / {first['grants']:,}",
            "ratio": f"{ratio8:.2f}x",
            "target": "≤ 1.2x (1M / 10M)",
            "met": ratio8 <= 1.2,
            "rps": f"{last['s1']['rps']:.0f} / {first['s1']['rps']:.0f}",
            "p50": f"{last['s1']['p50_ms']:.1f} / {first['s1']['p50_ms']:.1f}",
            "p99": f"{last['s1']['p99_ms']:.1f} / {first['s1']['p99_ms']:.1f}",
            "stmts": _fmt(last["s1"]["statements"], 1),
            "statuses": "",
        }
    )
    s10 = out["S10"]
    small_n, small_rss = s10["after"]
    large_n, large_rss = s10["after_large"]
    worst = max(large_rss.values()) if large_rss else 0
    growth = max(
        (large_rss[pid] / small_rss[pid] for pid in large_rss if pid in small_rss), default=0.0
    )
    rows.append(
        {
            "scenario": "S10",
            "db": b,
            "measured": f"worker RSS after {large_n:,} requests: "
            + ", ".join(f"{v / 1024:.0f} MB" for v in large_rss.values()),
            "baseline": f"after {small_n:,}: "
            + ", ".join(f"{v / 1024:.0f} MB" for v in small_rss.values()),
            "ratio": f"{growth:.2f}x",
            "target": "≤ 1.1x, ≤ 150 MB (100k requests)",
            "met": growth <= 1.1 and worst / 1024 <= 150,
            "rps": "—",
            "p50": "—",
            "p99": "—",
            "stmts": "—",
            "statuses": "",
        }
    )
    return rows


def s9_row(results: dict, s9: dict | None) -> dict | None:
    """S1 on PostgreSQL against S1 on SQLite (both durable: WAL + synchronous=FULL; fsync
    on), measured interleaved at the largest size (:func:`interleaved_s9`)."""
    if not s9:
        return None
    pg, lite = s9["postgresql"], s9["sqlite"]
    ratio = pg["rps"] / lite["rps"] if lite["rps"] else 0.0
    largest = f"{results['postgresql']['sizes'][-1]['consumers']:,} consumers"
    return {
        "scenario": "S9",
        "db": "both",
        "measured": f"S1 on PostgreSQL ({largest}, interleaved)",
        "baseline": "S1 on SQLite (the same)",
        "ratio": f"{ratio:.2f}x",
        "target": "≥ 0.8x",
        "met": ratio >= 0.8,
        "rps": f"{pg['rps']:.0f} / {lite['rps']:.0f}",
        "p50": f"{pg['p50_ms']:.1f} / {lite['p50_ms']:.1f}",
        "p99": f"{pg['p99_ms']:.1f} / {lite['p99_ms']:.1f}",
        "stmts": f"{_fmt(pg['statements'], 1)} / {_fmt(lite['statements'], 1)}",
        "statuses": "",
    }


def plot(results: dict, path: Path) -> str:
    """Throughput and p99 of S1 against database size; the file name written."""
    import matplotlib

    matplotlib.use("svg")
    import matplotlib.pyplot as plt

    figure, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    for backend, out in results.items():
        xs = [s["consumers"] for s in out["sizes"]]
        left.plot(xs, [s["s1"]["rps"] for s in out["sizes"]], marker="o", label=f"S1 {backend}")
        left.plot(
            xs,
            [s["bare"]["rps"] for s in out["sizes"]],
            ls="--",
            marker=".",
            label=f"bare {backend}",
        )
        right.plot(xs, [s["s1"]["p99_ms"] for s in out["sizes"]], marker="o", label=backend)
    for axis, label in ((left, "requests/s"), (right, "S1 p99 (ms)")):
        axis.set_xscale("log")
        axis.set_xlabel("consumers (grants = consumers x grants each)")
        axis.set_ylabel(label)
        axis.grid(True, alpha=0.3)
        axis.legend(fontsize=8)
        axis.set_ylim(bottom=0)
    left.set_title("Throughput against database size")
    right.set_title("p99 against database size")
    figure.tight_layout()
    figure.savefig(path, metadata={"Date": None})
    return path.name


SIZE_HEADER = (
    "| db | consumers | grants | ledger events | S1 req/s | S1 p50 ms | S1 p99 ms "
    "| bare req/s | S1 statuses |\n|---|---|---|---|---|---|---|---|---|"
)


def write_report(
    results: dict, s9: dict | None, scale_name: str, scale: dict, path: Path, elapsed: float
):
    """docs/benchmarks.md (the generated part) and the plot beside it."""
    rows = []
    for out in results.values():
        rows.extend(rows_for(out))
    s9_result = s9_row(results, s9)
    if s9_result:
        rows.append(s9_result)
    rows.sort(key=lambda r: (int(r["scenario"][1:]), r["db"]))
    try:
        image = plot(results, path.with_suffix(".svg"))
        picture = f"![S1 throughput and p99 against database size]({image})"
    except ImportError:
        picture = "(matplotlib is not installed: `pip install -e '.[bench]'` to draw the plot)"
    header = (
        "| scenario | db | measured | baseline | ratio | target | met? | req/s (m / b) "
        "| p50 ms (m / b) | p99 ms (m / b) | statements/request (m / b) |\n"
        "|---|---|---|---|---|---|---|---|---|---|---|\n"
    )
    body = "".join(
        f"| {r['scenario']} | {r['db']} | {r['measured']} | {r['baseline']} | {r['ratio']} "
        f"| {r['target']} | {'yes' if r['met'] else '**no**'} | {r['rps']} | {r['p50']} "
        f"| {r['p99']} | {r['stmts']} |\n"
        for r in rows
    )
    size_lines = ""
    for backend, out in results.items():
        for s in out["sizes"]:
            size_lines += (
                f"| {backend} | {s['consumers']:,} | {s['grants']:,} | {s['events']:,} "
                f"| {s['s1']['rps']:.0f} | {s['s1']['p50_ms']:.1f} | {s['s1']['p99_ms']:.1f} "
                f"| {s['bare']['rps']:.0f} | {s['s1']['statuses']} |\n"
            )
    ledger_lines = ""
    for backend, out in results.items():
        for led in out["ledger"]:
            since = (  # S7 walks the first and the last size only
                f"{led['since_seconds'] * 1000:.1f} ({led['since_checked']} events)"
                if "since_seconds" in led
                else "—"
            )
            ledger_lines += (
                f"| {backend} | {led['events']:,} | {led['verify_seconds']:.2f} "
                f"| {led['raw_seconds']:.2f} | {led['raw_seconds'] / led['verify_seconds']:.2f}x "
                f"| {since} |\n"
            )
    machine = (
        f"{platform.node()}: {platform.platform()}, Python {platform.python_version()}, "
        f"{os.cpu_count()} CPUs"
    )
    generated = f"""<!-- generated by `make bench` (bench/run.py); edit the notes outside it -->
## Results ({scale_name} scale)

Run on {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {machine}; the whole run took {elapsed / 60:.1f} min.
Command: `BENCH_SCALE={scale_name} make bench`. Scale: {json.dumps(scale)}.
Load: {CONCURRENCY} keep-alive connections from a separate process (`bench/load.py`), gunicorn
`--workers {WORKERS} --threads {THREADS}`, `SAYSO_ENV=production`. "m / b" = measured / baseline.

{header}{body}
### S1 against database size (S8)

{picture}

{SIZE_HEADER}
{size_lines}
### Ledger verification (S6, S7)

| db | events | `Ledger.verify` s | raw hashlib s | ratio | `--since-checkpoint` ms |
|---|---|---|---|---|---|
{ledger_lines}
<!-- end generated -->
"""
    existing = path.read_text() if path.exists() else ""
    start, end = "<!-- generated by", "<!-- end generated -->"
    if start in existing and end in existing:
        before = existing[: existing.index(start)]
        after = existing[existing.index(end) + len(end) + 1 :]
        path.write_text(before + generated + after)
    else:
        path.write_text(existing + ("\n" if existing else "") + generated)
    # The raw numbers, for anyone who wants to look closer (not committed).
    raw = {**results, "S9": s9}
    (ROOT / "bench" / "last-run.json").write_text(json.dumps(raw, indent=1, default=str))


def main() -> None:
    """Run every scenario on every database; write the report."""
    scale_name = os.environ.get("BENCH_SCALE", "full")
    scale = SCALES[scale_name]
    backends = os.environ.get("BENCH_DATABASES", "sqlite,postgresql").split(",")
    output = Path(os.environ.get("BENCH_OUTPUT", ROOT / "docs" / "benchmarks.md"))
    began = time.perf_counter()
    results, readers = {}, {}
    with ExitStack() as stack:  # every server and database stays up until S9 is done
        for backend in backends:
            log(f"{backend}: starting ({scale_name} scale)")
            results[backend], readers[backend] = run_backend(backend, scale, stack)
        s9 = None
        if {"sqlite", "postgresql"} <= set(readers):
            log("S9: S1 on PostgreSQL and on SQLite, interleaved")
            s9 = interleaved_s9(readers, scale["requests"])
    write_report(results, s9, scale_name, scale, output, time.perf_counter() - began)
    log(f"wrote {output} in {(time.perf_counter() - began) / 60:.1f} min")
