"""Sayso as a real server for tests: gunicorn on a free loopback port, on the test's
database, stopped however the test ends."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace

import pytest
import requests

from sayso.config import new_key

STARTUP_SECONDS = 60.0  # generous: workers import the app on a busy CI box


def free_port() -> int:
    """A loopback port free right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def tail(path: Path) -> str:
    """The end of a server's output, for a failure message."""
    return path.read_text(errors="replace")[-3000:]


@contextmanager
def gunicorn(
    database_url: str,
    folder: Path,
    *,
    workers: int = 2,
    threads: int = 4,
    args: tuple = (),
    **settings: str,
) -> Iterator[SimpleNamespace]:
    """Sayso under gunicorn with ``workers`` workers of ``threads`` threads, its instance
    folder and output in ``folder``; ``settings`` are SAYSO_* variables (by name without
    the prefix, e.g. ``MASTER_KEY=...``) over the test defaults. Ready (``/healthz`` answers
    and every worker has booted) when it is yielded: ``url``, ``port``, ``process``, ``log``.
    """
    port = free_port()
    env = {name: value for name, value in os.environ.items() if not name.startswith("SAYSO_")}
    env.update(
        SAYSO_ENV="testing",
        SAYSO_INSTANCE_PATH=str(folder / "gunicorn-instance"),
        SAYSO_DATABASE_URL=database_url,
        SAYSO_SECRET_KEY=new_key(),
        SAYSO_MASTER_KEY=new_key(),
        SAYSO_ARGON2_TIME_COST="1",
        SAYSO_ARGON2_MEMORY_COST=str(8 * 1024),
        SAYSO_LOG_LEVEL="WARNING",
    )
    env.update({f"SAYSO_{name}": value for name, value in settings.items()})
    command = [
        str(Path(sys.executable).parent / "gunicorn"),
        *("--workers", str(workers), "--threads", str(threads), "-b", f"127.0.0.1:{port}"),
        *args,
        "sayso:create_app()",
    ]
    log_path = folder / "gunicorn.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
        server = SimpleNamespace(
            url=f"http://127.0.0.1:{port}", port=port, process=process, log=log_path
        )
        try:
            _wait_until_ready(server, workers)
            yield server
        finally:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=15)


def booted(server) -> int:
    """How many workers the server has booted so far."""
    return server.log.read_text(errors="replace").count("Booting worker")


def _wait_until_ready(server, workers: int) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            pytest.fail(f"gunicorn exited with {server.process.returncode}:\n{tail(server.log)}")
        try:
            healthy = requests.get(server.url + "/healthz", timeout=5).status_code == 200
        except requests.RequestException:  # not listening yet, or still importing
            healthy = False
        if healthy and booted(server) >= workers:
            return
        time.sleep(0.1)
    pytest.fail(f"gunicorn not ready in {STARTUP_SECONDS} s:\n{tail(server.log)}")
