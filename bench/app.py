"""The app under benchmark: Sayso itself plus bench-only baselines and a statement counter.

Nothing here is part of Sayso. The baseline endpoints give each scenario a yardstick
measured on the same gunicorn in the same run; the counter reports, in the
``X-Bench-Statements`` response header, how many SQL statements the request executed.
"""

from __future__ import annotations

import contextlib
import os
import resource

from flask import Blueprint, g, jsonify, request
from sqlalchemy import Column, Integer, MetaData, String, Table, event, insert

from sayso import create_app
from sayso.extensions import csrf, db, limiter

STATEMENTS_HEADER = "X-Bench-Statements"

baseline_metadata = MetaData()
#: A bench-only table (created by the bench runner, never by a migration).
bench_rows = Table(
    "bench_rows",
    baseline_metadata,
    Column("id", Integer, primary_key=True),
    Column("grant_type", String(64)),
    Column("code", String(128)),
    Column("client_id", String(64)),
)
#: S11's baseline writes here: one row per request (created by the runner too).
bench_commits = Table(
    "bench_commits",
    baseline_metadata,
    Column("id", Integer, primary_key=True),
    Column("note", String(32)),
)

bp = Blueprint("bench", __name__, url_prefix="/_bench")


@bp.get("/bare")
def bare():
    """S1's baseline: a bare jsonify endpoint."""
    return jsonify({"sub": "bench", "interests": [{"text": "crime fiction"}]})


@bp.post("/insert")
@csrf.exempt
def insert_one():
    """S4's baseline: parse the form and do one INSERT, committed."""
    form = request.form
    db.session.execute(
        insert(bench_rows).values(
            grant_type=form.get("grant_type"),
            code=form.get("code"),
            client_id=form.get("client_id") or "basic",
        )
    )
    db.session.commit()
    return jsonify({"ok": True})


@bp.post("/commit")
@csrf.exempt
def commit_one():
    """S11's baseline: one INSERT into a bench table and its COMMIT, nothing else (no form,
    no ledger): a request whose every database wait is a plain round trip."""
    db.session.execute(insert(bench_commits).values(note="s11"))
    db.session.commit()
    return jsonify({"ok": True})


@bp.get("/rss")
def rss():
    """This worker's pid and resident set size (current, from /proc; peak, from getrusage)."""
    current_kb = 0
    try:
        with open(f"/proc/{os.getpid()}/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    current_kb = int(line.split()[1])
    except OSError:
        pass
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return jsonify({"pid": os.getpid(), "rss_kb": current_kb, "peak_kb": peak_kb})


def create_bench_app():
    """``sayso.create_app()`` plus the baseline blueprint and the statement counter."""
    app = create_app()
    app.register_blueprint(bp)
    # The token endpoint allows 60 requests a minute per address, and every request here
    # comes from 127.0.0.1: rate limiting is switched off for the benchmark, and said so.
    limiter.enabled = False
    with app.app_context():
        engine = db.engine

    @event.listens_for(engine, "before_cursor_execute")
    def _count(_conn, _cursor, _statement, _parameters, _context, _executemany):
        with contextlib.suppress(RuntimeError):  # outside a request (CLI, startup)
            g.bench_statements = g.get("bench_statements", 0) + 1

    @app.after_request
    def _report(response):
        response.headers[STATEMENTS_HEADER] = str(g.get("bench_statements", 0))
        return response

    return app
