"""Where a profile read spends its time: ``python -m bench.hotpath`` (``make bench-profile``).

In process, no HTTP server: a migrated SQLite database in a temporary folder (or
``BENCH_POSTGRES_URL``'s server with ``BENCH_DATABASES=postgresql``), one consumer, one
brand, one token, then ``BENCH_READS`` reads of ``/api/v1/profile`` and of the bare
baseline through Flask's test client. It prints the mean time of each, the statements a
read runs, the time of each step of a read, and a cProfile of the reads (the functions
with the most cumulative time). The steps are timed by wrapping them, without the
profiler: cProfile's cost per call inflates Python-heavy code several times over, so its
proportions mislead, while its call tree still says who calls what. These are the
figures the notes in docs/benchmarks.md quote; ``make bench`` is what measures the
targets. The sequencer is off here (``SAYSO_LEDGER_SEQUENCER=off``): a read's own cost,
without the rounds that integrate its entry.
"""

from __future__ import annotations

import cProfile
import io
import os
import pstats
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from tempfile import TemporaryDirectory

import flask_migrate

# The tests' own helpers drive the consent flow through the test client.
from tests.helpers import PASSWORD, api_headers, log_in
from tests.oauth_helpers import bearer, connect, make_brand

from bench import run
from bench.app import STATEMENTS_HEADER, create_bench_app
from sayso.config import new_key
from sayso.db.group_commit import _Group
from sayso.oauth.resource import PresentedBearer
from sayso.services.profile import ProfileService


def steps(backend: str, engine) -> list[tuple]:
    """The steps of a read: (what, where it is defined, its name there). On SQLite the
    transaction belongs to a group (``db.GroupCommit``: with one read at a time,
    each group has one member); on PostgreSQL each read has its own, pipelined."""
    if backend == "sqlite":
        opened = [("open the transaction: connect, BEGIN IMMEDIATE", _Group, "open")]
        closed = [("commit and close (one per group)", _Group, "end")]
    else:
        opened = [
            ("enter pipeline mode (connect and BEGIN not timed)", "service", "begin_pipelined")
        ]
        closed = [
            (
                "COMMIT, the event travelling with it; leave the pipeline",
                engine.dialect,
                "do_commit",
            )
        ]
    return [
        ("Authlib: parse the bearer token (before the transaction)", "api", "presented_bearer"),
        *opened,
        ("Authlib: load and validate the token (with the read query)", PresentedBearer, "token"),
        (
            "  of which the lock and the read query: token, grants, key, values",
            ProfileService,
            "_load",
        ),
        (
            "record: the read's entry (canonical JSON, salt, INSERT and queue)",
            ProfileService,
            "_record",
        ),
        *closed,
        ("disclose: decrypt the granted values, pairwise subject", ProfileService, "_disclose"),
    ]


@contextmanager
def steps_timed(backend: str, engine):
    """Time each of ``steps`` (wrapped in place, restored on leaving): yields a dict of
    total seconds by step."""
    chosen = steps(backend, engine)
    totals = {what: 0.0 for what, _, _ in chosen}
    undo = []
    for what, owner, name in chosen:
        # The view module, not the ``profile`` view function the package exports.
        owner = (
            {
                "api": sys.modules["sayso.api.profile"],
                "service": sys.modules["sayso.services.profile"],
            }.get(owner, owner)
            if isinstance(owner, str)
            else owner
        )
        original = getattr(owner, name)

        def timed_step(*args, _original=original, _what=what, **kwargs):
            began = time.perf_counter()
            try:
                return _original(*args, **kwargs)
            finally:
                totals[_what] += time.perf_counter() - began

        setattr(owner, name, timed_step)
        undo.append((owner, name, original))
    try:
        yield totals
    finally:
        for owner, name, original in undo:
            setattr(owner, name, original)


def timed(client, path: str, headers: dict, reads: int) -> float:
    """Mean microseconds per request."""
    began = time.perf_counter()
    for _ in range(reads):
        client.get(path, headers=headers)
    return (time.perf_counter() - began) / reads * 1e6


def main() -> None:
    """Set up, time, profile, print."""
    backend = os.environ.get("BENCH_DATABASES", "sqlite").split(",")[0]
    reads = int(os.environ.get("BENCH_READS", "2000"))
    with TemporaryDirectory(prefix="sayso-hotpath-") as tmp:
        workdir = Path(tmp)
        database = run.Database(backend, workdir)
        try:
            os.environ.update(
                SAYSO_ENV="production",
                SAYSO_COOKIE_SECURE="false",
                SAYSO_INSTANCE_PATH=str(workdir / "instance"),
                SAYSO_DATABASE_URL=database.url,
                SAYSO_SECRET_KEY=new_key(),
                SAYSO_MASTER_KEY=new_key(),
                SAYSO_SIGNING_KEY=new_key(),
                SAYSO_ARGON2_TIME_COST="1",
                SAYSO_ARGON2_MEMORY_COST=str(8 * 1024),
                SAYSO_LOG_LEVEL="WARNING",
                SAYSO_ISSUER=run.ISSUER,
                SAYSO_MAIL_URL=run.MAIL_URL,
                # One read at a time, nothing else: no sequencer thread in this process.
                SAYSO_LEDGER_SEQUENCER="off",
            )
            app = create_bench_app()
            with app.app_context():
                flask_migrate.upgrade()
            client = app.test_client()
            brand = make_brand(app.test_cli_runner())
            app.test_cli_runner().invoke(
                args=["consumers", "create", "ada@example.org", "--password-stdin"],
                input=PASSWORD,
            )
            log_in(client, "ada@example.org")
            client.put("/api/v1/me/disclosures", json=run.DISCLOSURES, headers=api_headers(client))
            token = connect(client, brand, ["interests"])["access_token"]
            reader = app.test_client()
            first = reader.get("/api/v1/profile", headers=bearer(token))
            assert first.status_code == 200, first.get_data(as_text=True)
            bare_us = timed(reader, "/_bench/bare", {}, reads)
            read_us = timed(reader, "/api/v1/profile", bearer(token), reads)
            with app.app_context():
                from sayso.extensions import db

                engine = db.engine
            with steps_timed(backend, engine) as totals:
                stepped_us = timed(reader, "/api/v1/profile", bearer(token), reads)
            profiler = cProfile.Profile()
            profiler.enable()
            timed(reader, "/api/v1/profile", bearer(token), reads)
            profiler.disable()
            out = io.StringIO()
            stats = pstats.Stats(profiler, stream=out).sort_stats("cumulative")
            stats.print_stats(r"sayso|sqlite3|psycopg|commit|authlib", 40)
            print(f"{backend}: {reads} reads in process (Flask test client, no HTTP server)")
            print(f"bare jsonify   {bare_us:8.0f} µs per request")
            print(f"profile read   {read_us:8.0f} µs per request ({bare_us / read_us:.2f}x)")
            print(f"statements per read: {first.headers[STATEMENTS_HEADER]}")
            print(f"\nthe steps of a read (timed without the profiler; {stepped_us:.0f} µs each):")
            for what, seconds in totals.items():
                print(f"{seconds / reads * 1e6:8.0f} µs  {what}")
            outside = stepped_us - sum(
                seconds / reads * 1e6 for what, seconds in totals.items() if "of which" not in what
            )
            print(f"{outside:8.0f} µs  the rest: Flask, the app's hooks, the JSON answer")
            print(out.getvalue())
            engine.dispose()
        finally:
            database.drop()


if __name__ == "__main__":
    main()
