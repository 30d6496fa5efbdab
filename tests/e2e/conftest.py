"""Fixtures for end-to-end tests: Sayso and the sample bookshop as real servers (gunicorn
subprocesses), the ``sayso`` command as a subprocess, and a real Chromium driven by
Playwright.

Every test gets its own Sayso instance folder and database, its own bookshop database and
a fresh browser profile. Servers are started by their fixtures but awaited only where they
are first needed (``Server.wait_ready``), so they boot while the CLI does its work. Tests
run on SQLite, and on PostgreSQL too when ``SAYSO_TEST_POSTGRES_URL`` is set (in a database
created for the test and dropped after it).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from email import policy as email_policy
from email.parser import BytesParser
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from sayso.config import new_key

ROOT = Path(__file__).resolve().parents[2]
BOOKSHOP_DIR = ROOT / "examples" / "bookshop"
#: The virtualenv's scripts (sayso, gunicorn), beside the interpreter running pytest.
BIN = Path(sys.executable).parent
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
POSTGRES_URL = os.environ.get("SAYSO_TEST_POSTGRES_URL")
#: Set (``make screenshots``) to write the docs' screenshots into docs/img/.
SCREENSHOTS = bool(os.environ.get("SAYSO_E2E_SCREENSHOTS"))
BACKENDS = ["sqlite"] + (["postgresql"] if POSTGRES_URL else [])
#: How long a server may take to answer after it is started.
STARTUP_DEADLINE = 30.0
PASSWORD = "a long and lovely password"
DISCLOSURES = {
    "interests": [{"topic_id": 100}, {"text": "crime fiction"}],
    "browsing_categories": [{"topic_id": 332, "weight": 0.5}],
    "channels": [
        {
            "channel": "email",
            "max_per_week": 1,
            "quiet_hours": {"start": "21:00", "end": "08:00", "tz": "Europe/Paris"},
        }
    ],
}
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
#: The bookshop's question, as its staff write it in Sayso's brand portal.
AUTHORS_QUESTION = {
    "kind": "multiple",
    "prompt": "Which authors should we tell you about?",
    "purpose": "email you when these authors have a new book",
    "options": "Margaret Atwood\nMichael Chabon\nUrsula K. Le Guin",
}
BRAND_MEMBER = "staff@bookshop.example"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def gunicorn(app: str, port: int, *options: str) -> list[str]:
    """The command serving ``app`` on 127.0.0.1:``port`` with two workers."""
    from gunicorn.config import KNOWN_SETTINGS

    args = [
        str(BIN / "gunicorn"),
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        "2",
        "--graceful-timeout",
        "5",
        *options,
    ]
    # Newer gunicorns open a control socket in ~/.gunicorn, shared by every instance.
    if any(setting.name == "control_socket_disable" for setting in KNOWN_SETTINGS):
        args.append("--no-control-socket")
    return [*args, app]


def _clean_environ() -> dict:
    """This process's environment without any SAYSO_*/BOOKSHOP_* settings of the caller."""
    return {k: v for k, v in os.environ.items() if not k.startswith(("SAYSO_", "BOOKSHOP_"))}


class Server:
    """A server subprocess in a process group of its own, its output in a log file."""

    def __init__(
        self, name: str, args: list[str], env: dict, log_dir: Path, ready_url: str, cwd: Path = ROOT
    ):
        self.name = name
        self.ready_url = ready_url
        self._ready = False
        self.log_path = log_dir / f"{name}.log"
        self._log = self.log_path.open("wb")
        try:
            self.process = subprocess.Popen(
                args,
                env=env,
                cwd=cwd,
                stdin=subprocess.DEVNULL,
                stdout=self._log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        except OSError:
            self._log.close()
            raise

    def log_tail(self, lines: int = 40) -> str:
        """The end of the server's output, for failure messages."""
        self._log.flush()
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def wait_ready(self, deadline: float = STARTUP_DEADLINE) -> None:
        """Poll ``ready_url`` until it answers 200; fail (with the log) if the server exits
        or the deadline passes. Returns at once once the server has answered."""
        url = self.ready_url
        end = time.monotonic() + deadline
        while not self._ready:
            if self.process.poll() is not None:
                pytest.fail(f"{self.name} exited ({self.process.returncode}):\n{self.log_tail()}")
            with contextlib.suppress(requests.RequestException):
                self._ready = requests.get(url, timeout=2).status_code == 200
            if not self._ready and time.monotonic() > end:
                pytest.fail(
                    f"{self.name} did not answer {url} in {deadline:g}s:\n{self.log_tail()}"
                )
            if not self._ready:
                time.sleep(0.1)

    def stop(self) -> None:
        """SIGTERM the group (gunicorn's master and workers), SIGKILL if it lingers."""
        if self.process.poll() is None:
            try:
                os.killpg(self.process.pid, signal.SIGTERM)
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
            except ProcessLookupError:
                self.process.wait()
        self._log.close()


@dataclass
class Sayso:
    """A running Sayso: its URL and the environment its ``sayso`` command needs."""

    url: str
    env: dict
    server: Server | None = None

    def cli(self, *args: str, input: str | None = None) -> str:
        """Run ``sayso ARGS`` against this instance; fails the test on a non-zero exit."""
        result = subprocess.run(
            [str(BIN / "sayso"), *args],
            env=self.env,
            cwd=ROOT,
            input=input,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 0, f"sayso {' '.join(args)} failed:\n{result.stderr}"
        return result.stdout


@dataclass
class Bookshop:
    """The running sample brand app and what Sayso issued it."""

    url: str
    database: Path
    brand: dict
    server: Server


@dataclass
class Consumer:
    """A consumer account with disclosures."""

    email: str
    password: str


def emailed_confirmation_link(sayso: Sayso, email: str, seconds: float = 20) -> str:
    """The confirmation link (path and query) in the newest message to ``email`` that
    Sayso's background mail worker wrote into its instance folder (no mail server in
    development); waits for it up to ``seconds``."""
    folder = Path(sayso.env["SAYSO_INSTANCE_PATH"]) / "mail"
    deadline = time.monotonic() + seconds
    while True:
        for path in sorted(folder.glob("*.eml"), reverse=True):
            message = BytesParser(policy=email_policy.default).parsebytes(path.read_bytes())
            if message["To"].addresses[0].addr_spec == email:
                found = re.search(r"https?://[^/\s]+(/account/confirm/\S+)", message.get_content())
                assert found, message.get_content()
                return found.group(1)
        if time.monotonic() > deadline:
            pytest.fail(f"no message to {email} in {folder}:\n{sayso.server.log_tail()}")
        time.sleep(0.1)


def signed_in(sayso: Sayso, email: str, password: str) -> requests.Session:
    """A requests session signed in to Sayso's web pages."""
    http = requests.Session()
    page = http.get(f"{sayso.url}/login", timeout=10)
    token = _CSRF.search(page.text).group(1)
    response = http.post(
        f"{sayso.url}/login",
        data={"email": email, "password": password, "csrf_token": token},
        timeout=10,
    )
    assert response.status_code == 200, response.text
    return http


def brand_access_token(
    sayso: Sayso,
    consumer: Consumer,
    brand: dict,
    scopes: list[str],
    ticked: list[str],
    redirect_uri: str,
) -> str:
    """The brand's access token after ``consumer`` allowed the ``ticked`` fields of
    ``scopes`` on the consent page: the authorization-code flow with PKCE, done with
    requests (the browser is not under test here)."""
    verifier = secrets.token_urlsafe(40)
    params = {
        "response_type": "code",
        "client_id": brand["client_id"],
        "redirect_uri": redirect_uri,
        "scope": " ".join(scopes),
        "state": "s",
        "code_challenge": create_s256_code_challenge(verifier),
        "code_challenge_method": "S256",
    }
    with signed_in(sayso, consumer.email, consumer.password) as http:
        page = http.get(f"{sayso.url}/oauth/authorize", params=params, timeout=10)
        answer = http.post(
            page.url,
            data={
                "csrf_token": _CSRF.search(page.text).group(1),
                "decision": "allow",
                "field": ticked,
                "expiry": "1y",
            },
            allow_redirects=False,
            timeout=10,
        )
    code = parse_qs(urlsplit(answer.headers["Location"]).query)["code"][0]
    token = requests.post(
        f"{sayso.url}/oauth/token",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": redirect_uri,
            "code_verifier": verifier,
        },
        auth=(brand["client_id"], brand["client_secret"]),
        timeout=10,
    )
    assert token.status_code == 200, token.text
    return token.json()["access_token"]


def put_disclosures(sayso: Sayso, consumer: Consumer, disclosures: dict) -> None:
    """Replace the consumer's disclosures through Sayso's JSON API."""
    with signed_in(sayso, consumer.email, consumer.password) as http:
        me = http.get(f"{sayso.url}/api/v1/me", timeout=10).json()
        response = http.put(
            f"{sayso.url}/api/v1/me/disclosures",
            json=disclosures,
            headers={"X-CSRFToken": me["csrf_token"]},
            timeout=10,
        )
        assert response.status_code == 200, response.text


def publish_question(sayso: Sayso, brand_id: str, question: dict) -> str:
    """Write and publish a question in the brand portal as a member of the brand, as the
    brand's staff would; returns the id Sayso gave it."""
    sayso.cli("brands", "add-member", brand_id, BRAND_MEMBER, "--password-stdin", input=PASSWORD)
    sayso.server.wait_ready()
    with signed_in(sayso, BRAND_MEMBER, PASSWORD) as http:
        page = http.get(f"{sayso.url}/portal/questions", timeout=10)
        token = _CSRF.search(page.text).group(1)
        saved = http.post(
            f"{sayso.url}/portal/questions", data={**question, "csrf_token": token}, timeout=10
        )
        assert saved.status_code == 200, saved.text
        (question_id,) = re.findall(r"/portal/questions/(\d+)/publish", saved.text)
        published = http.post(
            f"{sayso.url}/portal/questions/{question_id}/publish",
            data={"csrf_token": token},
            timeout=10,
        )
        assert published.status_code == 200, published.text
        assert "published" in http.get(f"{sayso.url}/portal/questions", timeout=10).text
    return question_id


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    """A failed test's report carries the end of each server's log."""
    report = yield
    if report.failed:
        for server in getattr(item, "e2e_servers", []):
            report.sections.append((f"{server.name} log (end)", server.log_tail()))
    return report


@pytest.fixture
def e2e_dir(tmp_path) -> Path:
    """Logs, instance folders and screenshots of one test."""
    (tmp_path / "logs").mkdir()
    return tmp_path


def _started(request, server: Server) -> Server:
    request.node.e2e_servers = [*getattr(request.node, "e2e_servers", []), server]
    return server


@pytest.fixture(params=BACKENDS)
def sayso_database(request, e2e_dir):
    """A database URL for Sayso: an SQLite file, or a throwaway PostgreSQL database."""
    if request.param == "sqlite":
        yield f"sqlite:///{e2e_dir / 'sayso.sqlite3'}"
        return
    admin_url = make_url(POSTGRES_URL).set(drivername="postgresql+psycopg")
    name = f"sayso_e2e_{secrets.token_hex(4)}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        yield admin_url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def sayso(request, sayso_database, e2e_dir):
    """Sayso migrated and starting under gunicorn on a free port (not awaited yet)."""
    port = free_port()
    env = {
        **_clean_environ(),
        "SAYSO_INSTANCE_PATH": str(e2e_dir / "sayso-instance"),
        "SAYSO_DATABASE_URL": sayso_database,
        "SAYSO_SECRET_KEY": new_key(),
        "SAYSO_MASTER_KEY": new_key(),
        "SAYSO_SIGNING_KEY": new_key(),
        "SAYSO_ENV": "development",
        # Cheap password hashing keeps the test quick; the defaults are production's.
        "SAYSO_ARGON2_TIME_COST": "1",
        "SAYSO_ARGON2_MEMORY_COST": "8192",
        "SAYSO_LOG_LEVEL": "WARNING",
    }
    instance = Sayso(f"http://127.0.0.1:{port}", env)
    instance.cli("db", "upgrade")
    args = gunicorn("sayso:create_app()", port)
    instance.server = _started(
        request, Server("sayso", args, env, e2e_dir / "logs", f"{instance.url}/healthz")
    )
    try:
        yield instance
    finally:
        instance.server.stop()


@pytest.fixture
def bookshop(request, sayso, e2e_dir):
    """The sample bookshop, registered with the CLI, starting on a free port (not awaited)."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    brand = json.loads(
        sayso.cli(
            "brands",
            "create",
            "Bookshop",
            "--domain",
            "bookshop.localhost",
            "--redirect-uri",
            f"{url}/callback",
            "--scope",
            "interests:read=recommend books about what you like",
            "--scope",
            "channels:read=email you no more often than you allow",
            "--scope",
            "browsing_categories:read=choose which shelves to show you first",
            "--scope",
            "answers:read=tell you about the authors you choose",
            "--scope",
            "contacts:write=show you how often we email you",
            "--webhook-url",
            f"{url}/webhooks/sayso",
            "--json",
        )
    )
    question_id = publish_question(sayso, brand["brand_id"], AUTHORS_QUESTION)
    database = e2e_dir / "bookshop.sqlite3"
    env = {
        **_clean_environ(),
        "BOOKSHOP_SAYSO_URL": sayso.url,
        "BOOKSHOP_URL": url,
        "BOOKSHOP_CLIENT_ID": brand["client_id"],
        "BOOKSHOP_CLIENT_SECRET": brand["client_secret"],
        "BOOKSHOP_WEBHOOK_SECRET": brand["webhook_secret"],
        "BOOKSHOP_SECRET_KEY": secrets.token_hex(32),
        "BOOKSHOP_DATABASE": str(database),
        "BOOKSHOP_AUTHORS_QUESTION_ID": question_id,
    }
    args = gunicorn("app:create_app()", port, "--chdir", str(BOOKSHOP_DIR))
    server = _started(request, Server("bookshop", args, env, e2e_dir / "logs", f"{url}/"))
    try:
        yield Bookshop(url, database, brand, server)
    finally:
        server.stop()


@pytest.fixture
def consumer(sayso) -> Consumer:
    """A consumer created with the CLI, with disclosures put through Sayso's JSON API."""
    email = "ada@example.org"
    sayso.cli("consumers", "create", email, "--password-stdin", input=PASSWORD + "\n")
    sayso.server.wait_ready()
    consumer = Consumer(email, PASSWORD)
    put_disclosures(sayso, consumer, DISCLOSURES)
    return consumer


@pytest.fixture(scope="session")
def chromium_path() -> str:
    """Debian's Chromium; the e2e tests fail (not skip) without it, saying how to get it."""
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(
            f"The end-to-end tests drive a real Chromium at {CHROMIUM}, which is missing. "
            "Install it with: sudo apt-get install chromium  (.ci/run does this in CI).",
            pytrace=False,
        )
    return CHROMIUM


@pytest.fixture
def page(chromium_path, e2e_dir):
    """A page in a fresh, headless Chromium with a profile of its own."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(e2e_dir / "chromium-profile"),
            executable_path=chromium_path,
            headless=True,
            args=CHROMIUM_ARGS,
        )
        try:
            context.set_default_timeout(15_000)
            yield context.pages[0] if context.pages else context.new_page()
        finally:
            context.close()


@pytest.fixture
def screenshot(page, e2e_dir):
    """``screenshot(name)`` saves the page into this test's tmp dir (never committed)."""
    folder = e2e_dir / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    taken = []

    def take(name: str) -> Path:
        path = folder / f"{len(taken) + 1:02d}-{name}.png"
        page.screenshot(path=str(path), full_page=True)
        taken.append(path)
        return path

    return take


@pytest.fixture
def shoot(request, page):
    """``shoot(name)``: a screenshot of a consumer page for the docs, into
    docs/img/consumer-<name>.png when ``SAYSO_E2E_SCREENSHOTS`` is set (``make screenshots``),
    else the ``screenshot`` fixture's folder (the test's tmp dir, never committed)."""
    if not SCREENSHOTS:
        return request.getfixturevalue("screenshot")

    def take(name: str) -> Path:
        path = ROOT / "docs" / "img" / f"consumer-{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return take


@pytest.fixture
def bookshop_brand(sayso):
    """``bookshop_brand(callback, {"interests:read": purpose, ...})``: a "Bookshop" brand
    registered with the CLI (domain bookshop.localhost), redirecting to ``callback`` and
    asking each scope for its purpose; returns the CLI's JSON (client id and secrets). No
    server of the brand's is started (the ``bookshop`` fixture runs the sample app)."""

    def register(callback: str, scopes: dict[str, str]) -> dict:
        asked = [
            arg for scope, purpose in scopes.items() for arg in ("--scope", f"{scope}={purpose}")
        ]
        return json.loads(
            sayso.cli(
                "brands",
                "create",
                "Bookshop",
                "--domain",
                "bookshop.localhost",
                "--redirect-uri",
                callback,
                *asked,
                "--json",
            )
        )

    return register
