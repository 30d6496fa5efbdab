"""Where a profile read spends its time: ``python -m bench.hotpath`` (``make bench-profile``).

In process, no HTTP server: a migrated SQLite database in a temporary folder (or
``BENCH_POSTGRES_URL``'s server with ``BENCH_DATABASES=postgresql``), one consumer, one
brand, one token, then ``BENCH_READS`` reads of ``/api/v1/profile`` and of the bare
baseline through Flask's test client. It prints the mean time of each, the statements a
read runs, and a cProfile of the reads (the functions with the most cumulative time).
This is the profile the notes in docs/benchmarks.md quote; ``make bench`` is what
measures the targets.
"""

from __future__ import annotations

import cProfile
import io
import os
import pstats
import time
from pathlib import Path
from tempfile import TemporaryDirectory

import flask_migrate

# The tests' own helpers drive the consent flow through the test client.
from tests.helpers import api_headers, sign_up
from tests.oauth_helpers import bearer, connect, make_brand

from bench import run
from bench.app import STATEMENTS_HEADER, create_bench_app
from sayso.config import new_key


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
            )
            app = create_bench_app()
            with app.app_context():
                flask_migrate.upgrade()
            client = app.test_client()
            brand = make_brand(app.test_cli_runner())
            sign_up(client, "ada@example.org")
            client.put("/api/v1/me/disclosures", json=run.DISCLOSURES, headers=api_headers(client))
            token = connect(client, brand, ["interests"])["access_token"]
            reader = app.test_client()
            first = reader.get("/api/v1/profile", headers=bearer(token))
            assert first.status_code == 200, first.get_data(as_text=True)
            bare_us = timed(reader, "/_bench/bare", {}, reads)
            read_us = timed(reader, "/api/v1/profile", bearer(token), reads)
            profiler = cProfile.Profile()
            profiler.enable()
            timed(reader, "/api/v1/profile", bearer(token), reads)
            profiler.disable()
            out = io.StringIO()
            stats = pstats.Stats(profiler, stream=out).sort_stats("cumulative")
            stats.print_stats(r"sayso|sqlite3|psycopg|commit|authlib", 30)
            print(f"{backend}: {reads} reads in process (Flask test client, no HTTP server)")
            print(f"bare jsonify   {bare_us:8.0f} µs per request")
            print(f"profile read   {read_us:8.0f} µs per request ({bare_us / read_us:.2f}x)")
            print(f"statements per read: {first.headers[STATEMENTS_HEADER]}")
            print(out.getvalue())
            with app.app_context():
                from sayso.extensions import db

                db.engine.dispose()
        finally:
            database.drop()


if __name__ == "__main__":
    main()
