"""The benchmark runner: every scenario, on SQLite and on PostgreSQL, baselines in the same run.

For each database it migrates a fresh database, seeds its ledger through the sequencer
(S6, S7, S12's integration), starts a witness (``sayso witness serve``) and Sayso under
gunicorn (two workers, the bench app of :mod:`bench.app`, its background sequencer asking
that witness to cosign) on free loopback ports, drives load from a separate process
(:mod:`bench.load`) with bounded request counts and deadlines. S11 then runs two such
servers on a PostgreSQL database of its own behind a delaying proxy (:mod:`bench.proxy`).
Finally it writes ``docs/benchmarks.md`` and ``docs/benchmarks.svg``.

Knobs (environment): ``BENCH_SCALE`` (``small`` or ``full``), ``BENCH_DATABASES``
(``sqlite,postgresql``), ``BENCH_POSTGRES_URL`` (an admin URL with rights to create
databases), ``BENCH_OUTPUT`` (the Markdown file to write).
"""

from __future__ import annotations

import bisect
import hashlib
import itertools
import json
import os
import platform
import re
import resource
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
from sqlalchemy import bindparam, create_engine, func, select, text
from sqlalchemy.engine import make_url

from bench import seed
from bench.app import STATEMENTS_HEADER, baseline_metadata
from bench.load import percentile
from bench.proxy import measure_round_trip
from sayso import create_app
from sayso.config import new_key
from sayso.extensions import db
from sayso.ledger import proofs
from sayso.ledger.sequencer import Sequencer
from sayso.ledger.tree import TILE_WIDTH, verify_consistency
from sayso.ledger.verify import BATCH as VERIFY_BATCH
from sayso.ledger.verify import LogVerifier, cyclic_gc_paused
from sayso.models import (
    Account,
    AuditEvent,
    Grant,
    LedgerCheckpoint,
    LedgerCosignature,
    LedgerLeaf,
    LedgerPending,
)

ROOT = Path(__file__).resolve().parent.parent
SCALES = {
    # A quick run (a few minutes) that exercises every scenario at toy sizes.
    "small": {
        "consumers": [1_000, 10_000],
        "grants_each": 3,
        "events": [10_000, 50_000],
        "s12_entries": 20_000,
        "s12_reads": 3_000,
        "s11_requests": 200,
        "requests": 400,
        "codes": 150,
        "s3_trials": 20,
        "s10_requests": (1_000, 5_000),
    },
    # The issue's sizes: 1M consumers with 10M grants (S8), 1M ledger entries (S6, S7),
    # 200k entries integrated at once (S12), 1,000 revoke trials (S3), RSS after 100k
    # requests (S10).
    "full": {
        "consumers": [10_000, 100_000, 1_000_000],
        "grants_each": 10,
        "events": [100_000, 1_000_000],
        "s12_entries": 200_000,
        "s12_reads": 20_000,
        "s11_requests": 1_500,
        "requests": 4_000,
        "codes": 300,
        "s3_trials": 1_000,
        "s10_requests": (1_000, 100_000),
    },
}
WORKERS = 2
# Threads per gunicorn worker: the profile reads a worker serves at once share a
# transaction and its commit (db.GroupCommit). Every baseline runs on the same server.
THREADS = int(os.environ.get("BENCH_THREADS", "4"))
# Connections the load generator keeps busy: one per request slot of the server (workers
# x threads), so the server is saturated with neither idle slots nor a queue.
CONCURRENCY = int(os.environ.get("BENCH_CONCURRENCY", str(WORKERS * THREADS)))
S10_CHUNK = 10_000
# Parts each side of a measured pair is run in, alternating with the other side.
PAIR_ROUNDS = 4
S9_ROUNDS = 6
S7_ROUNDS = 10
S11_ROUNDS = 3
#: S11: how long the queue may take to empty after the last round.
S11_SETTLE_SECONDS = 20
# S11: the concurrent consumers, over two app servers (each WORKERS x THREADS slots).
S11_CONSUMERS = 16
S11_SERVERS = 2
# S11: the proxy's delay of each chunk, each way (about 1 ms a round trip).
PROXY_DELAY_MS = 0.5
# The seeded log gets a checkpoint every this many entries, as a sequencer leaves a log
# that took about this many entries a second (it signs one checkpoint a round).
CHECKPOINT_EVERY = 1_000
# The sequencer's round (SAYSO_LEDGER_CHECKPOINT_SECONDS, the default): S12's yardstick.
CHECKPOINT_SECONDS = 1.0
# S12: how often the bench polls GET /ledger/checkpoint for a new cosigned checkpoint.
S12_POLL_SECONDS = 0.02
S12_SETTLE_SECONDS = 20
WITNESS_NAME = "bench.localhost/witness"
# Production needs an https issuer; every URL here is loopback, so it is only a name (the
# log's origin, "sayso.bench.localhost/ledger", comes from it, the same for every process).
ISSUER = "https://sayso.bench.localhost"
#: Production needs a mail server; no bench scenario sends mail (consumers come from the CLI).
MAIL_URL = "smtp://mail.bench.localhost:587"
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


def stop_process(process: subprocess.Popen) -> None:
    """Stop a process the bench started (by its own pid), killing it if it will not go."""
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=15)


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


def migrated_app(backend: str, workdir: Path, keys: dict, stack: ExitStack):
    """A fresh database of ``backend``, migrated, with the bench's baseline tables, and an
    in-process app on it; both released when ``stack`` closes."""
    database = Database(backend, workdir)
    stack.callback(database.drop)
    app = create_app(app_config(workdir / "cli-instance", database.url, keys))
    stack.callback(_release, app)
    with app.app_context():
        flask_migrate.upgrade()
        baseline_metadata.create_all(db.engine)
        db.session.remove()
    return database, app


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
        "ISSUER": ISSUER,
        "MAIL_URL": MAIL_URL,
    }


# --- the server ----------------------------------------------------------------------------


def free_port() -> int:
    """A free TCP port on loopback."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    """Sayso's bench app under gunicorn with two workers on loopback, in production mode,
    with its background sequencer (one process of every server on a database is elected)."""

    def __init__(
        self, url: str, keys: dict, workdir: Path, name="gunicorn", env=None, root: Path = ROOT
    ):
        # ``root``: the checkout whose Sayso (``server/``) and bench app it runs (bench/ab.py
        # runs an earlier revision beside this one).
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log_path = workdir / f"{name}.log"
        environment = {k: v for k, v in os.environ.items() if not k.startswith("SAYSO_")}
        environment.update(
            SAYSO_ENV="production",
            SAYSO_COOKIE_SECURE="false",
            SAYSO_INSTANCE_PATH=str(workdir / f"{name}-instance"),
            SAYSO_DATABASE_URL=url,
            SAYSO_SECRET_KEY=keys["secret"],
            SAYSO_MASTER_KEY=keys["master"],
            SAYSO_SIGNING_KEY=keys["signing"],
            # Sign-up happens a few times per run; its hashing cost is not under test.
            SAYSO_ARGON2_TIME_COST="1",
            SAYSO_ARGON2_MEMORY_COST=str(8 * 1024),
            SAYSO_LOG_LEVEL="WARNING",
            SAYSO_ISSUER=ISSUER,
            SAYSO_MAIL_URL=MAIL_URL,
            # The defaults, said: a sequencer thread in each process, one elected; a round
            # (integrate, sign if the tree grew, ask the witnesses) every second.
            SAYSO_LEDGER_SEQUENCER="background",
            SAYSO_LEDGER_CHECKPOINT_SECONDS=str(CHECKPOINT_SECONDS),
            PYTHONPATH=os.pathsep.join([str(root), str(root / "server")]),
        )
        environment.update(env or {})
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
                str(root),
                "bench.app:create_bench_app()",
            ],
            env=environment,
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
        stop_process(self.process)
        self._log.close()

    def load(self, requests_: list[dict], count: int, cycle=True, concurrency=CONCURRENCY):
        """Run :mod:`bench.load` in its own process against this server; its result."""
        return load([self.port], requests_, count, cycle=cycle, concurrency=concurrency)

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


def load(
    ports: list[int],
    requests_: list[dict],
    count: int,
    cycle=True,
    concurrency=CONCURRENCY,
    per_connection=False,
) -> dict:
    """Run :mod:`bench.load` in its own process: connection ``i`` talks to
    ``ports[i % len(ports)]`` (and, ``per_connection``, sends ``requests_[i]`` only)."""
    job = {
        "host": "127.0.0.1",
        "ports": ports,
        "requests": requests_,
        "count": count,
        "cycle": cycle,
        "concurrency": concurrency,
        "per_connection": per_connection,
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


def _sayso(args: list[str], workdir: Path, **popen) -> subprocess.Popen | str:
    """Run the ``sayso`` command (for its ``witness`` commands, which read none of Sayso's
    configuration; a throwaway instance folder keeps the app it loads away from ours)."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("SAYSO_")}
    environment["SAYSO_INSTANCE_PATH"] = str(workdir / "sayso-cli-instance")
    command = [str(Path(sys.executable).parent / "sayso"), *args]
    if popen:
        return subprocess.Popen(command, env=environment, cwd=workdir, **popen)  # noqa: S603
    done = subprocess.run(  # noqa: S603  (our own command, fixed arguments)
        command, env=environment, cwd=workdir, capture_output=True, text=True, timeout=60
    )
    if done.returncode != 0:
        raise RuntimeError(f"sayso {' '.join(args)}: {done.stdout}{done.stderr}")
    return done.stdout


class WitnessProcess:
    """``sayso witness serve`` on a free loopback port, its own key and SQLite file,
    following one log: set up with its own commands, as an operator would."""

    def __init__(self, workdir: Path, origin: str, log_vkey: str):
        folder = workdir / "witness"
        folder.mkdir()
        files = ["--db", str(folder / "witness.sqlite3")]
        files_and_key = [*files, "--key", str(folder / "witness.key"), "--name", WITNESS_NAME]
        self.vkey = _sayso(["witness", "init", *files_and_key], folder).strip().splitlines()[-1]
        _sayso(["witness", "add-log", *files, origin, log_vkey], folder)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._log = open(folder / "witness.log", "wb")  # noqa: SIM115  (closed in stop())
        self.process = _sayso(
            ["witness", "serve", *files_and_key, "--host", "127.0.0.1", "--port", str(self.port)],
            folder,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + STARTUP_SECONDS
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError("the witness exited: see " + str(folder / "witness.log"))
            try:
                requests.get(self.url + "/", timeout=2)
                return
            except requests.RequestException:
                time.sleep(0.1)
        raise RuntimeError("the witness did not start")

    @property
    def config(self) -> str:
        """Its entry in SAYSO_WITNESSES."""
        return f"{self.url} {self.vkey}"

    def stop(self) -> None:
        """Stop it (by its own pid)."""
        stop_process(self.process)
        self._log.close()


class DelayProxy:
    """:mod:`bench.proxy` in its own process, in front of PostgreSQL on loopback."""

    def __init__(self, upstream_port: int, delay_ms: float = PROXY_DELAY_MS):
        self.process = subprocess.Popen(  # noqa: S603  (our own module, fixed arguments)
            [
                sys.executable,
                "-m",
                "bench.proxy",
                "--upstream-port",
                str(upstream_port),
                "--delay-ms",
                str(delay_ms),
            ],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            text=True,
        )
        line = self.process.stdout.readline()
        if not line.startswith("listening on "):
            self.stop()
            raise RuntimeError(f"bench.proxy did not start: {line!r}")
        self.port = int(line.split()[-1])

    def stop(self) -> None:
        """Stop it (by its own pid)."""
        stop_process(self.process)


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


def sign_up(runner, base: str, email: str) -> Consumer:
    """A consumer made with the CLI (a confirmed address: signing up through the form waits
    for an emailed link), signed in through the form, who discloses every field."""
    made = runner.invoke(args=["consumers", "create", email, "--password-stdin"], input=PASSWORD)
    if made.exit_code != 0:
        raise RuntimeError(made.output)
    http = requests.Session()
    page = http.get(base + "/login", timeout=10).text
    answer = http.post(
        base + "/login",
        data={"email": email, "password": PASSWORD, "csrf_token": _CSRF.search(page).group(1)},
        allow_redirects=False,
        timeout=10,
    )
    if answer.status_code != 302:
        raise RuntimeError(f"sign-in failed: {answer.status_code} {answer.text[:500]}")
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
#: One INSERT and its COMMIT, nothing else: S11's baseline, and S1's yardstick of what any
#: request that durably writes one row costs on the same server (a profile read must).
COMMIT = {"method": "POST", "path": "/_bench/commit"}


# --- scenarios -----------------------------------------------------------------------------


def measure_pair(server: Server, measured: dict, baseline: dict, count: int) -> tuple:
    """Measured and baseline, interleaved in ``PAIR_ROUNDS`` parts each, so drift (and a
    passing hiccup of the machine) hits both alike."""
    return measure_interleaved(server, [measured, baseline], count)


def measure_interleaved(server: Server, specs: list[dict], count: int) -> tuple:
    """Each of ``specs`` in turn, ``PAIR_ROUNDS`` times over: ``count`` requests each."""
    parts: list[list] = [[] for _ in specs]
    for spec in specs:
        server.load([spec], max(20, count // 10))  # warm-up, not recorded
    for _ in range(PAIR_ROUNDS):
        for spec, part in zip(specs, parts, strict=True):
            part.append(server.load([spec], count // PAIR_ROUNDS))
    return tuple(all_ok(combine(part)) for part in parts)


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


def raw_leaf_seconds(session, interior: bool = False) -> tuple[float, int]:
    """The S6 baseline: SHA-256 of every stored entry (``0x00 ‖ salt ‖ canonical``, its
    leaf hash) and nothing else, fetched exactly as ``LogVerifier`` fetches its leaves
    (``verify._leaf_hashes``: the same SQL on the driver's own cursor, binary on
    PostgreSQL, the same batches, in the same transaction). With ``interior``, the tree's
    interior nodes too (``0x01 ‖ left ‖ right``, each full tile of 256 leaves reduced to
    its root; the few nodes above the tiles are left out): the hashing no verifier of an
    RFC 9162 tree can skip, as a second yardstick."""
    connection = session.connection()
    driver = connection.connection.driver_connection
    postgresql = connection.dialect.name == "postgresql"
    cursor = driver.cursor(binary=True) if postgresql else driver.cursor()
    mark = "%s" if postgresql else "?"
    walk = (
        "SELECT l.leaf_index, e.salt, e.canonical FROM ledger_leaves l "  # noqa: S608
        "LEFT JOIN audit_events e ON e.seq = l.seq "
        f"WHERE l.leaf_index >= {mark} AND l.leaf_index < {mark} ORDER BY l.leaf_index"
    )
    sha256 = hashlib.sha256
    began = time.perf_counter()
    count = 0
    with cyclic_gc_paused():  # as verify's walk runs
        while True:
            cursor.execute(walk, (count, count + VERIFY_BATCH))
            rows = cursor.fetchall()
            if not rows:
                break
            leaves = [sha256(b"\x00" + salt + canonical).digest() for _, salt, canonical in rows]
            if interior:
                for first in range(0, len(leaves) - TILE_WIDTH + 1, TILE_WIDTH):
                    level = leaves[first : first + TILE_WIDTH]
                    while len(level) > 1:
                        pairs = iter(level)
                        level = [sha256(b"\x01" + a + b).digest() for a, b in zip(pairs, pairs)]  # noqa: B905
            count += len(rows)
    cursor.close()
    return time.perf_counter() - began, count


def verify_timings(app) -> dict:
    """S6: ``LogVerifier.verify`` (the tree rebuilt from every entry, each stored tile and
    checkpoint checked) and raw hashlib over the same stored bytes, fetched the same way."""
    with app.app_context():
        key = app.extensions["sayso_ledger_key"]
        # Baseline and verify take turns, three times, and each keeps its best: a cold
        # cache or a scheduler hiccup then cannot land on one side only.
        full_runs, raw_runs, tree_runs = [], [], []
        for _ in range(3):
            raw_seconds, raw_count = raw_leaf_seconds(db.session)
            raw_runs.append(raw_seconds)
            db.session.rollback()
            tree_runs.append(raw_leaf_seconds(db.session, interior=True)[0])
            db.session.rollback()
            began = time.perf_counter()
            full = LogVerifier(db.session, key).verify()
            full_runs.append(time.perf_counter() - began)
            db.session.rollback()
        db.session.remove()
    if not full.ok or full.pending or raw_count != full.size:
        raise RuntimeError(f"the log does not verify, or not all of it: {full}, raw {raw_count}")
    return {
        "events": full.size,
        "checkpoints": full.checkpoints_checked,
        "verify_seconds": min(full_runs),
        "raw_seconds": min(raw_runs),
        "raw_tree_seconds": min(tree_runs),
        "raw_count": raw_count,
    }


def raw_queue_seconds(session, batch: int) -> tuple[float, int]:
    """S12's baseline: the leaf hash of every queued entry and nothing else, fetched as
    the sequencer fetches them (the queue joined to the events, ``batch`` at a time, in
    ``seq`` order, through SQLAlchemy; keyset-paged, since this reads without dequeuing)."""
    pending, events = LedgerPending.__table__, AuditEvent.__table__
    query = (
        select(pending.c.seq, events.c.salt, events.c.canonical)
        .select_from(pending.outerjoin(events, events.c.seq == pending.c.seq))
        .where(pending.c.seq > bindparam("after"))
        .order_by(pending.c.seq)
        .limit(bindparam("limit"))
    )
    sha256 = hashlib.sha256
    began = time.perf_counter()
    after = count = 0
    while rows := session.execute(query, {"after": after, "limit": batch}).all():
        for _seq, salt, canonical in rows:
            sha256(b"\x00" + salt + canonical).digest()
        count += len(rows)
        after = rows[-1][0]
    return time.perf_counter() - began, count


def integration_timings(app, queued: int) -> dict:
    """S12, integration: ``Sequencer.integrate_all`` over ``queued`` entries waiting at
    once (batches of ``SAYSO_LEDGER_BATCH``, one transaction each: leaf hashes, tiles,
    leaf rows, dequeue, the tree's state), against the leaf hashes of the same entries
    alone, fetched the same way, timed just before."""
    with app.app_context():
        batch = app.config["LEDGER_BATCH"]
        raw_seconds, raw_count = raw_queue_seconds(db.session, batch)
        db.session.rollback()
        sequencer = Sequencer(db.session, app.extensions["sayso_ledger_key"], batch)
        began = time.perf_counter()
        integrated = sequencer.integrate_all()
        seconds = time.perf_counter() - began
        began = time.perf_counter()
        sequencer.checkpoint()
        checkpoint_seconds = time.perf_counter() - began
        db.session.remove()
    if integrated != queued or raw_count != queued:
        raise RuntimeError(f"S12: {queued} queued, {raw_count} hashed, {integrated} integrated")
    return {
        "entries": integrated,
        "batch": batch,
        "seconds": seconds,
        "raw_seconds": raw_seconds,
        "checkpoint_seconds": checkpoint_seconds,
    }


def newest_two_checkpoints(session) -> list:
    """The last two checkpoints (older first): what a witness checks a new one against."""
    rows = session.execute(
        select(LedgerCheckpoint.size, LedgerCheckpoint.root)
        .order_by(LedgerCheckpoint.size.desc())
        .limit(2)
    ).all()
    return [(size, bytes(root)) for size, root in reversed(rows)]


def interleaved_s7(apps: list) -> list[dict]:
    """S7: checking a new checkpoint against the last, on each log (the smallest kept as a
    copy while the other grew): a consistency proof between its last two checkpoints built
    from the stored tiles (``proofs.consistency``, a fresh tile cache each time, so the
    tiles are read from the database) and verified (``tree.verify_consistency``), in
    ``S7_ROUNDS`` alternated rounds of 21 after one to warm up; each log's median."""
    timings: list[list[float]] = [[] for _ in apps]
    ends, lengths = [None] * len(apps), [0] * len(apps)
    for index, app in enumerate(apps):
        with app.app_context():
            ends[index] = newest_two_checkpoints(db.session)
            db.session.remove()
    for round_ in range(S7_ROUNDS + 1):
        for index in range(len(apps)) if round_ % 2 else reversed(range(len(apps))):
            (old, old_root), (new, new_root) = ends[index]
            with apps[index].app_context():
                for _ in range(1 if round_ == 0 else 21):
                    began = time.perf_counter()
                    proof = proofs.consistency(db.session, old, new)
                    ok = verify_consistency(old, new, old_root, new_root, proof)
                    if round_:
                        timings[index].append(time.perf_counter() - began)
                    if not ok:
                        raise RuntimeError(f"no consistency from {old} to {new}")
                db.session.remove()
            lengths[index] = len(proof)
    return [
        {
            "proof_seconds": statistics.median(times),
            "proof_from": ends[index][0][0],
            "proof_to": ends[index][1][0],
            "proof_hashes": lengths[index],
        }
        for index, times in enumerate(timings)
    ]


def _cosigned_size(note: str) -> int | None:
    """The size of a served checkpoint if it carries the bench witness's cosignature."""
    lines = note.split("\n")
    if not any(line.startswith(f"\u2014 {WITNESS_NAME} ") for line in lines):
        return None
    return int(lines[1])


def _epoch(canonical: bytes) -> float:
    """An entry's ``occurred_at`` (set as its transaction wrote it, just before its
    commit) in seconds since the epoch."""
    moment = json.loads(bytes(canonical))["occurred_at"]
    return datetime.strptime(moment, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC).timestamp()


def _seconds(moment: datetime) -> float:
    """A stored time (UTC, naive or aware) in seconds since the epoch."""
    moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return moment.timestamp()


def inclusion_latency(app, server: Server, read: dict, count: int) -> dict:
    """S12, latency: S1's load (``count`` reads) while this process polls GET
    /ledger/checkpoint every ``S12_POLL_SECONDS`` and notes when each cosigned size first
    shows; then, for every read of the load (its entry, found in the database after the
    fact), the time from its entry's ``occurred_at`` to the first cosigned checkpoint that
    covers its leaf. ``occurred_at`` is set a little before the commit, and a checkpoint
    shows at most one poll after it was cosigned: both err towards a longer time."""
    with app.app_context():
        before = db.session.scalar(select(func.max(AuditEvent.seq))) or 0
        db.session.remove()
    seen: dict[int, float] = {}
    stop = threading.Event()

    def poll() -> None:
        with requests.Session() as http:
            while not stop.is_set():
                try:
                    answer = http.get(server.base + "/ledger/checkpoint", timeout=10)
                except requests.RequestException:
                    answer = None
                now = time.time()
                if answer is not None and answer.status_code == 200:
                    size = _cosigned_size(answer.text)
                    if size is not None and size not in seen:
                        seen[size] = now
                stop.wait(S12_POLL_SECONDS)

    poller = threading.Thread(target=poll, daemon=True)
    poller.start()
    try:
        began = time.time()
        loaded = all_ok(server.load([read], count))
        ended = time.time()
        # Until a cosigned checkpoint covers the last read (bounded).
        deadline = time.monotonic() + S12_SETTLE_SECONDS
        last_leaf = None
        while time.monotonic() < deadline:
            with app.app_context():
                last = db.session.scalar(select(func.max(AuditEvent.seq)))
                last_leaf = db.session.scalar(
                    select(LedgerLeaf.leaf_index).where(LedgerLeaf.seq == last)
                )
                db.session.remove()
            if last_leaf is not None and seen and max(seen) > last_leaf:
                break
            time.sleep(0.1)
    finally:
        stop.set()
        poller.join(timeout=15)
    with app.app_context():
        events, leaves = AuditEvent.__table__, LedgerLeaf.__table__
        rows = db.session.execute(
            select(events.c.canonical, leaves.c.leaf_index)
            .select_from(events.outerjoin(leaves, leaves.c.seq == events.c.seq))
            .where(events.c.seq > before)
        ).all()
        first_leaf = min((leaf for _, leaf in rows if leaf is not None), default=0)
        rounds = db.session.execute(
            select(LedgerCheckpoint.size, LedgerCheckpoint.signed_at, LedgerCosignature.cosigned_at)
            .select_from(LedgerCheckpoint)
            .outerjoin(LedgerCosignature, LedgerCosignature.size == LedgerCheckpoint.size)
            .where(LedgerCheckpoint.size > first_leaf)
            .order_by(LedgerCheckpoint.size)
        ).all()
        db.session.remove()
    # The first time any cosigned checkpoint covering leaf i showed: a suffix minimum.
    sizes = sorted(seen)
    earliest = [seen[size] for size in sizes]
    for i in range(len(earliest) - 2, -1, -1):
        earliest[i] = min(earliest[i], earliest[i + 1])
    latencies, uncovered = [], 0
    for canonical, leaf in rows:
        position = bisect.bisect_right(sizes, leaf) if leaf is not None else len(sizes)
        if position == len(sizes):
            uncovered += 1
            continue
        latencies.append(earliest[position] - _epoch(canonical))
    latencies.sort()
    # The same from the server's own clock: entry -> checkpoint signed -> cosignature stored.
    signed = [(size, _seconds(at)) for size, at, _ in rounds]
    cosigned = [(size, _seconds(at)) for size, _, at in rounds if at is not None]
    to_signed, to_cosigned = [], []
    for canonical, leaf in rows:
        if leaf is None:
            continue
        moment = _epoch(canonical)
        at = next((t for size, t in signed if size > leaf), None)
        if at is not None:
            to_signed.append(at - moment)
        at = next((t for size, t in cosigned if size > leaf), None)
        if at is not None:
            to_cosigned.append(at - moment)
    to_signed.sort()
    to_cosigned.sort()
    periods = sorted(b[1] - a[1] for a, b in itertools.pairwise(signed))
    witness_legs = sorted(_seconds(c) - _seconds(s) for _, s, c in rounds if c is not None)
    return {
        "server_clock": {
            "to_signed_p50_s": percentile(to_signed, 0.50),
            "to_signed_p99_s": percentile(to_signed, 0.99),
            "to_cosigned_p50_s": percentile(to_cosigned, 0.50),
            "to_cosigned_p99_s": percentile(to_cosigned, 0.99),
            "round_period_p50_s": percentile(periods, 0.50),
            "round_period_max_s": periods[-1] if periods else 0.0,
            "witness_leg_p50_s": percentile(witness_legs, 0.50),
            "witness_leg_max_s": witness_legs[-1] if witness_legs else 0.0,
            "checkpoints": len(signed),
        },
        "reads": len(rows),
        "load": {k: v for k, v in loaded.items() if k != "latencies_ms"},
        "load_seconds": ended - began,
        "cosigned_checkpoints_seen": sum(began <= t <= ended for t in seen.values()),
        "uncovered": uncovered,
        "p50_s": percentile(latencies, 0.50),
        "p99_s": percentile(latencies, 0.99),
        "max_s": latencies[-1] if latencies else 0.0,
        "min_s": latencies[0] if latencies else 0.0,
        "interval_s": CHECKPOINT_SECONDS,
        "poll_s": S12_POLL_SECONDS,
    }


def run_backend(backend: str, scale: dict, stack: ExitStack) -> tuple[dict, Callable]:
    """Every scenario on one database backend but S9 and S11. The server and its database
    stay up until ``stack`` closes; returned with the results is what S9 reads with there."""
    out: dict = {"backend": backend, "sizes": []}
    keys = {"secret": new_key(), "master": new_key(), "signing": new_key()}
    workdir = Path(stack.enter_context(TemporaryDirectory(prefix=f"sayso-bench-{backend}-")))
    database, app = migrated_app(backend, workdir, keys, stack)

    # S6/S7/S12 first: the log grows to each size through the sequencer, verified at each.
    # On the way to the last size, S12 times the integration of a large queue at once. A
    # copy of the database at the first size stays, so that S7 can time both side by side.
    out["ledger"] = []
    have = 0
    smallest, largest = scale["events"][0], scale["events"][-1]
    walked = {}  # index in out["ledger"] -> the app whose log S7 checks at that size
    for size in scale["events"]:
        if have:
            queued = min(scale["s12_entries"], size - have)
            log(f"{backend}: S12 integrating {queued:,} queued entries at once")
            with app.app_context():
                seed.queue_events(db.session, queued, start=have)
                db.session.remove()
            out["S12"] = integration_timings(app, queued)
            have += queued
        log(f"{backend}: growing the log to {size:,} entries")
        with app.app_context():
            seed.queue_events(db.session, size - have, start=have)
            seed.integrate_with_checkpoints(db.session, CHECKPOINT_EVERY)
            db.session.remove()
        have = size
        log(f"{backend}: verifying {size:,} entries")
        out["ledger"].append(verify_timings(app))
        if size == smallest != largest:
            _release(app)
            copy = Database(backend, workdir, template=database)
            stack.callback(copy.drop)
            walked[0] = create_app(app_config(workdir / "copy", copy.url, keys))
            stack.callback(_release, walked[0])
    walked[len(out["ledger"]) - 1] = app
    log(f"{backend}: S7 consistency proofs at {smallest:,} and {largest:,}")
    for index, timing in zip(walked, interleaved_s7(list(walked.values())), strict=True):
        out["ledger"][index].update(timing)

    # Filler consumers and grants, then a witness and the server.
    with app.app_context():
        seed.filler_brands(db.session, scale["grants_each"])
        db.session.remove()
    first = scale["consumers"][0]
    log(f"{backend}: seeding {first:,} consumers x {scale['grants_each']} grants")
    with app.app_context():
        seed.filler_consumers(db.session, 0, first, scale["grants_each"])
        db.session.remove()
    ledger_key = app.extensions["sayso_ledger_key"]
    witness = WitnessProcess(workdir, ledger_key.origin, ledger_key.verifier_key)
    stack.callback(witness.stop)
    server = Server(database.url, keys, workdir, env={"SAYSO_WITNESSES": witness.config})
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


_TICKS = os.sysconf("SC_CLK_TCK")


def _stat(pid: int) -> list[str]:
    """``/proc/<pid>/stat`` after the command name (state first), or [] if gone."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return []


def _cpu_seconds(pid: int) -> float:
    """User + system CPU a live process (all its threads) has used."""
    fields = _stat(pid)
    return (int(fields[11]) + int(fields[12])) / _TICKS if fields else 0.0


def _with_children(pid: int) -> list[int]:
    """A process and its children (gunicorn's master and its workers)."""
    children = [
        int(entry.name)
        for entry in Path("/proc").iterdir()
        if entry.name.isdigit() and (fields := _stat(int(entry.name))) and int(fields[1]) == pid
    ]
    return [pid, *children]


class CpuMeter:
    """CPU used by each side of S11 while a load runs, from ``/proc``: the app servers'
    processes, the proxy, this database's PostgreSQL backends (other databases on the
    same server are not counted), and the load generator (a child that has exited)."""

    def __init__(self, app, servers: list, proxy):
        self.app, self.servers, self.proxy = app, servers, proxy

    def snapshot(self) -> dict:
        """The counters now."""
        with self.app.app_context():
            backends = db.session.scalars(
                text(
                    "SELECT pid FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
            ).all()
            db.session.remove()
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        return {
            "app": sum(
                _cpu_seconds(pid) for s in self.servers for pid in _with_children(s.process.pid)
            ),
            "proxy": _cpu_seconds(self.proxy.process.pid),
            "postgres": {pid: _cpu_seconds(pid) for pid in backends},
            "load": children.ru_utime + children.ru_stime,
        }

    @staticmethod
    def spent(before: dict, after: dict) -> dict:
        """CPU seconds used between two snapshots, by side."""
        pids = set(before["postgres"]) | set(after["postgres"])
        return {
            "app": after["app"] - before["app"],
            "proxy": after["proxy"] - before["proxy"],
            "postgres": sum(
                after["postgres"].get(pid, before["postgres"].get(pid, 0.0))
                - before["postgres"].get(pid, 0.0)
                for pid in pids
            ),
            "load": after["load"] - before["load"],
        }


def scale_out(scale: dict) -> dict:
    """S11: profile reads through a delaying proxy (about 1 ms a round trip) in front of
    PostgreSQL, served by ``S11_SERVERS`` gunicorn servers (each ``WORKERS`` x ``THREADS``,
    one background sequencer elected among all their processes): reads/s with 1 consumer
    reading, and with ``S11_CONSUMERS`` at once (each its own consumer and token, spread
    over the servers), against the same two loads of an endpoint that does one INSERT
    and its COMMIT through the same proxy. ``S11_ROUNDS`` alternated rounds of the four.
    A PostgreSQL database of its own, migrated, with only S11's consumers in it."""
    out: dict = {}
    keys = {"secret": new_key(), "master": new_key(), "signing": new_key()}
    count = scale["s11_requests"]
    with ExitStack() as stack:
        workdir = Path(stack.enter_context(TemporaryDirectory(prefix="sayso-bench-s11-")))
        database, app = migrated_app("postgresql", workdir, keys, stack)
        direct = make_url(database.url)
        proxy = DelayProxy(direct.port or 5432)
        stack.callback(proxy.stop)
        connect = {
            "host": "127.0.0.1",
            "port": direct.port or 5432,
            "user": direct.username,
            "password": direct.password,
            "dbname": direct.database,
        }
        out["round_trip"] = measure_round_trip(connect, proxy.port)
        proxied = direct.set(host="127.0.0.1", port=proxy.port)
        proxied_url = proxied.render_as_string(hide_password=False)
        servers = []
        for number in range(S11_SERVERS):
            servers.append(Server(proxied_url, keys, workdir, name=f"s11-{number}"))
            stack.callback(servers[-1].stop)
        brand = make_brand(app.test_cli_runner(), "Reader", "reader.example", ["interests"])
        log(f"S11: {S11_CONSUMERS} consumers sign up and connect the brand")
        tokens = []
        for number in range(S11_CONSUMERS):
            server = servers[number % len(servers)]
            consumer = sign_up(app.test_cli_runner(), server.base, f"s11-{number}@example.org")
            tokens.append(fresh_token(server, consumer, brand))
        ports = [server.port for server in servers]
        parts = {
            # (ports, requests, concurrency, per_connection, count)
            "reads_1": ([ports[0]], [profile_request(tokens[0])], 1, False, count),
            "reads_n": (
                ports,
                [profile_request(token) for token in tokens],
                S11_CONSUMERS,
                True,
                count * 4,
            ),
            "base_1": ([ports[0]], [COMMIT], 1, False, count),
            "base_n": (ports, [COMMIT], S11_CONSUMERS, False, count * 4),
        }
        with app.app_context():
            size_before = db.session.scalar(text("SELECT size FROM ledger_state")) or 0
            db.session.remove()
        results: dict[str, list] = {name: [] for name in parts}
        for to, reqs, concurrency, per_connection, n in parts.values():  # warm-up
            load(to, reqs, max(20, n // 10), concurrency=concurrency, per_connection=per_connection)
        order = list(parts)
        meter = CpuMeter(app, servers, proxy)
        cpu = {name: dict.fromkeys(("app", "proxy", "postgres", "load"), 0.0) for name in parts}
        log(f"S11: {S11_ROUNDS} rounds of 1 and {S11_CONSUMERS} at once, reads and INSERTs")
        for round_ in range(S11_ROUNDS):
            for name in order if round_ % 2 == 0 else order[::-1]:
                to, reqs, concurrency, per_connection, n = parts[name]
                before = meter.snapshot()
                results[name].append(
                    load(to, reqs, n, concurrency=concurrency, per_connection=per_connection)
                )
                for side, seconds in meter.spent(before, meter.snapshot()).items():
                    cpu[name][side] += seconds
        for name, measured in results.items():
            out[name] = all_ok(combine(measured))
            # CPU per request (ms), by side: what caps the rate once the cores are busy.
            out[name]["cpu_ms"] = {
                side: seconds * 1000 / out[name]["count"] for side, seconds in cpu[name].items()
            }
        # The last reads integrated: the servers' sequencer empties the queue within a round
        # or two (what is left after S11_SETTLE_SECONDS is reported as pending).
        deadline = time.monotonic() + S11_SETTLE_SECONDS
        with app.app_context():
            while time.monotonic() < deadline and db.session.scalar(
                text("SELECT count(*) FROM ledger_pending")
            ):
                db.session.rollback()  # a fresh snapshot for the next count
                time.sleep(0.1)
            db.session.remove()
        with app.app_context():
            out["integrated"] = (
                db.session.scalar(text("SELECT size FROM ledger_state")) or 0
            ) - size_before
            out["pending"] = db.session.scalar(text("SELECT count(*) FROM ledger_pending"))
            out["checkpoints"] = db.session.scalar(text("SELECT count(*) FROM ledger_checkpoints"))
            db.session.remove()
    return out


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
    consumer = sign_up(runner, server.base, "ada@example.org")
    token_one = fresh_token(server, consumer, one)
    token_three = fresh_token(server, consumer, three)
    count = scale["requests"]

    log(f"{backend}: S1 profile read vs bare endpoint (and one INSERT + COMMIT)")
    s1, bare, floor = measure_interleaved(server, [profile_request(token_one), BARE, COMMIT], count)
    result["S1"] = {"measured": s1, "baseline": bare, "floor": floor}
    result["sizes"] = [{**sizes(app), "s1": s1, "bare": bare}]

    log(f"{backend}: S2 three fields vs one")
    s2, s2_base = measure_pair(
        server, profile_request(token_three), profile_request(token_one), count
    )
    result["S2"] = {"measured": s2, "baseline": s2_base}

    log(f"{backend}: S12 commit to cosigned checkpoint under S1's load")
    result["S12_latency"] = inclusion_latency(
        app, server, profile_request(fresh_token(server, consumer, one)), scale["s12_reads"]
    )

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


def _met(met) -> str:
    return "—" if met is None else ("yes" if met else "**no**")


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
    if "floor" in s1:
        load_row(
            "S1 yardstick",
            "POST /_bench/commit: one INSERT + COMMIT, nothing else",
            s1["floor"],
            s1["baseline"],
            "bare jsonify",
            "none (what one durable write costs)",
            lambda r: None,
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
            "measured": f"LogVerifier.verify, {big['events']:,} entries "
            f"({big['checkpoints']:,} checkpoints): {big['verify_seconds']:.2f} s",
            "baseline": f"raw hashlib of the same leaves, fetched the same way: "
            f"{big['raw_seconds']:.2f} s",
            "ratio": f"{ratio6:.2f}x",
            "target": "≥ 0.6x",
            "met": ratio6 >= 0.6,
            "rps": f"{big['events'] / big['verify_seconds']:.0f} entries/s",
            "p50": "—",
            "p99": "—",
            "stmts": "—",
            "statuses": "",
        }
    )
    small = ledger[0]
    ratio7 = big["proof_seconds"] / small["proof_seconds"] if small["proof_seconds"] else 0.0
    rows.append(
        {
            "scenario": "S7",
            "db": b,
            "measured": f"consistency proof {big['proof_from']:,} → {big['proof_to']:,} "
            f"built from tiles and verified, interleaved: {big['proof_seconds'] * 1000:.2f} ms",
            "baseline": f"{small['proof_from']:,} → {small['proof_to']:,}: "
            f"{small['proof_seconds'] * 1000:.2f} ms",
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
    s12 = out["S12"]
    rate = s12["entries"] / s12["seconds"] if s12["seconds"] else 0.0
    raw_rate = s12["entries"] / s12["raw_seconds"] if s12["raw_seconds"] else 0.0
    rows.append(
        {
            "scenario": "S12",
            "db": b,
            "measured": f"Sequencer.integrate_all, {s12['entries']:,} queued entries "
            f"(batches of {s12['batch']:,}): {s12['seconds']:.2f} s, {rate:,.0f} entries/s "
            f"({rate / 20_000:.2f}x the target's 20,000/s)",
            "baseline": f"leaf hashes alone, the same entries fetched the same way: "
            f"{s12['raw_seconds']:.2f} s, {raw_rate:,.0f}/s",
            "ratio": f"{rate / raw_rate:.2f}x" if raw_rate else "—",
            "target": "≥ 20,000 entries/s",
            "met": rate >= 20_000,
            "rps": f"{rate:,.0f} / {raw_rate:,.0f} entries/s",
            "p50": "—",
            "p99": "—",
            "stmts": "—",
            "statuses": "",
        }
    )
    lat = out["S12_latency"]
    rows.append(
        {
            "scenario": "S12",
            "db": b,
            "measured": f"commit → cosigned checkpoint covering it, {lat['reads']:,} reads "
            f"under S1's load ({lat['load']['rps']:.0f} reads/s): p99 {lat['p99_s']:.2f} s"
            + (f", {lat['uncovered']} not covered in time" if lat["uncovered"] else ""),
            "baseline": f"the sequencer's round, {lat['interval_s']:.0f} s "
            f"(p50 {lat['p50_s']:.2f} s, max {lat['max_s']:.2f} s)",
            "ratio": f"{lat['p99_s'] / lat['interval_s']:.2f}x",
            "target": "p99 ≤ 1.5 s",
            "met": lat["p99_s"] <= 1.5 and not lat["uncovered"],
            "rps": f"{lat['load']['rps']:.0f}",
            "p50": f"{lat['p50_s'] * 1000:.0f}",
            "p99": f"{lat['p99_s'] * 1000:.0f}",
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


def s11_row(s11: dict | None) -> dict | None:
    """S11: reads' scaling from 1 to ``S11_CONSUMERS`` against the INSERT endpoint's."""
    if not s11:
        return None
    r1, rn, b1, bn = (s11[k] for k in ("reads_1", "reads_n", "base_1", "base_n"))
    reads = rn["rps"] / r1["rps"] if r1["rps"] else 0.0
    base = bn["rps"] / b1["rps"] if b1["rps"] else 0.0
    ratio = reads / base if base else 0.0
    added = (s11["round_trip"]["proxied"] - s11["round_trip"]["direct"]) * 1000
    return {
        "scenario": "S11",
        "db": "postgresql",
        "measured": f"profile reads/s at {S11_CONSUMERS} consumers / at 1, {S11_SERVERS} "
        f"servers behind a proxy adding {added:.2f} ms a round trip: {reads:.2f}x",
        "baseline": f"the same for 1 INSERT + COMMIT: {base:.2f}x",
        "ratio": f"{ratio:.2f}x",
        "target": "≥ 6x; ≥ 0.6x the baseline's",
        "met": reads >= 6 and ratio >= 0.6,
        "rps": f"{rn['rps']:.0f}, {r1['rps']:.0f} / {bn['rps']:.0f}, {b1['rps']:.0f}",
        "p50": f"{rn['p50_ms']:.1f}, {r1['p50_ms']:.1f} / {bn['p50_ms']:.1f}, {b1['p50_ms']:.1f}",
        "p99": f"{rn['p99_ms']:.1f}, {r1['p99_ms']:.1f} / {bn['p99_ms']:.1f}, {b1['p99_ms']:.1f}",
        "stmts": f"{_fmt(r1['statements'], 1)} / {_fmt(b1['statements'], 1)}",
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
    results: dict,
    s9: dict | None,
    s11: dict | None,
    scale_name: str,
    scale: dict,
    path: Path,
    elapsed: float,
):
    """docs/benchmarks.md (the generated part) and the plot beside it."""
    rows = []
    for out in results.values():
        rows.extend(rows_for(out))
    for extra in (s9_row(results, s9), s11_row(s11)):
        if extra:
            rows.append(extra)
    # By scenario number ("S1 yardstick" just after S1), then database.
    rows.sort(key=lambda r: (int(r["scenario"][1:].split()[0]), r["scenario"], r["db"]))
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
        f"| {r['target']} | {_met(r['met'])} | {r['rps']} | {r['p50']} "
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
            proof = (  # S7 checks the first and the last size only
                f"{led['proof_seconds'] * 1000:.2f} ({led['proof_hashes']} hashes)"
                if "proof_seconds" in led
                else "—"
            )
            ledger_lines += (
                f"| {backend} | {led['events']:,} | {led['checkpoints']:,} "
                f"| {led['verify_seconds']:.2f} | {led['raw_seconds']:.2f} "
                f"| {led['raw_seconds'] / led['verify_seconds']:.2f}x "
                f"| {led['raw_tree_seconds']:.2f} "
                f"| {led['raw_tree_seconds'] / led['verify_seconds']:.2f}x | {proof} |\n"
            )
    s12_lines = ""
    for backend, out in results.items():
        lat = out["S12_latency"]
        sc = lat["server_clock"]
        s12_lines += (
            f"| {backend} | {lat['reads']:,} | {lat['load']['rps']:.0f} "
            f"| {lat['cosigned_checkpoints_seen']} | {lat['min_s']:.2f} | {lat['p50_s']:.2f} "
            f"| {lat['p99_s']:.2f} | {lat['max_s']:.2f} | {lat['uncovered']} "
            f"| {sc['to_signed_p50_s']:.2f} / {sc['to_signed_p99_s']:.2f} "
            f"| {sc['to_cosigned_p50_s']:.2f} / {sc['to_cosigned_p99_s']:.2f} "
            f"| {sc['round_period_p50_s']:.2f} / {sc['round_period_max_s']:.2f} "
            f"| {sc['witness_leg_p50_s'] * 1000:.0f} / {sc['witness_leg_max_s'] * 1000:.0f} |\n"
        )
    s11_text = "(S11 runs on PostgreSQL only: not run.)"
    if s11:
        rt = s11["round_trip"]
        s11_text = (
            f"`SELECT 1` round trip: {rt['direct'] * 1000:.3f} ms direct, "
            f"{rt['proxied'] * 1000:.3f} ms through the proxy (medians of 200). "
            f"Entries integrated meanwhile by the elected sequencer: {s11['integrated']:,} "
            f"({s11['pending']} still queued 2.5 s after the last request; "
            f"{s11['checkpoints']} checkpoints signed).\n\n"
            "| load | req/s | p50 ms | p99 ms | statements/request "
            "| CPU ms/request: app, proxy, PostgreSQL, load generator |\n"
            "|---|---|---|---|---|---|\n"
        )
        for name, what in (
            ("reads_1", "profile reads, 1 consumer"),
            ("reads_n", f"profile reads, {S11_CONSUMERS} consumers"),
            ("base_1", "INSERT + COMMIT, 1 client"),
            ("base_n", f"INSERT + COMMIT, {S11_CONSUMERS} clients"),
        ):
            r = s11[name]
            c = r["cpu_ms"]
            s11_text += (
                f"| {what} | {r['rps']:.0f} | {r['p50_ms']:.1f} | {r['p99_ms']:.1f} "
                f"| {_fmt(r['statements'], 1)} | {c['app']:.2f}, {c['proxy']:.2f}, "
                f"{c['postgres']:.2f}, {c['load']:.2f} |\n"
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
### The log: verification (S6), checking a checkpoint against the last (S7)

"raw hashlib" hashes each leaf (the S6 baseline); "+ interior" also reduces each full
tile of 256 leaf hashes to its root, the node hashing any verifier of the tree must do.

| db | entries | checkpoints | `LogVerifier.verify` s | raw hashlib s | ratio \
| raw + interior s | ratio | proof ms |
|---|---|---|---|---|---|---|---|---|
{ledger_lines}
### Commit to a cosigned checkpoint (S12), under S1's load

Seconds from a read's entry (`occurred_at`) to the first poll of `GET /ledger/checkpoint`
(every {S12_POLL_SECONDS * 1000:.0f} ms) that showed a checkpoint cosigned by the witness
covering its leaf.

The last four columns are read from the server's own clock after the run (the
checkpoints' `signed_at`, the cosignatures' `cosigned_at`), p50 / p99 or p50 / max: entry
to the signed checkpoint covering it, entry to its cosignature stored, the time between
two rounds' checkpoints, and the witness's leg (signed to cosignature stored).

| db | reads | reads/s | cosigned seen | min s | p50 s | p99 s | max s | not covered \
| to signed s | to cosigned s | round s | witness ms |
|---|---|---|---|---|---|---|---|---|---|---|---|---|
{s12_lines}
### Scale-out through a network (S11)

{s11_text}
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
    s11 = None
    if "postgresql" in backends:  # with the other servers stopped and their databases gone
        log("S11: two servers through a delaying proxy to PostgreSQL")
        s11 = scale_out(scale)
    # The raw numbers, for anyone who wants to look closer (not committed); written first,
    # so a run's figures outlive a failure in the report.
    raw = {**results, "S9": s9, "S11": s11}
    (ROOT / "bench" / "last-run.json").write_text(json.dumps(raw, indent=1, default=str))
    write_report(results, s9, s11, scale_name, scale, output, time.perf_counter() - began)
    log(f"wrote {output} in {(time.perf_counter() - began) / 60:.1f} min")
