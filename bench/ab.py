"""An interleaved A/B of S1 (a profile read) and S4 (a code exchange) between an earlier
revision of Sayso and this checkout, both served at once on one database.

    python -m bench.ab [REVISION]      (default: HEAD~1; BENCH_DATABASES, BENCH_AB_ROUNDS,
                                        BENCH_AB_REQUESTS, BENCH_AB_CODES as knobs)

For a change that should not change speed (a refactor), this is the check: the same
requests, the same database, the same moment, the two servers taking turns round by round
(which goes first alternates), so a drift of the machine hits both alike. The earlier
revision is unpacked from git (``git archive``) and run from its own tree, its bench app
included; the database is migrated by this checkout (an earlier revision ignores the
columns it does not know). Prints one JSON document: per database, each side's requests a
second and p99, and the ratio this/earlier.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import tarfile
from contextlib import ExitStack
from pathlib import Path
from tempfile import TemporaryDirectory

from bench.run import (
    ROOT,
    Server,
    all_ok,
    basic_auth,
    combine,
    consent,
    fresh_token,
    log,
    make_brand,
    migrated_app,
    profile_request,
    sign_up,
    token_form,
)
from sayso.config import new_key

ROUNDS = int(os.environ.get("BENCH_AB_ROUNDS", "6"))
REQUESTS = int(os.environ.get("BENCH_AB_REQUESTS", "1000"))
CODES = int(os.environ.get("BENCH_AB_CODES", "100"))


def unpack(revision: str, into: Path) -> Path:
    """The tree of ``revision``, unpacked under ``into``."""
    archive = subprocess.run(  # noqa: S603  (git, fixed arguments)
        ["git", "archive", "--format=tar", revision],  # noqa: S607
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")
    return into


def s4_requests(server: Server, consumer, brand, count: int) -> list[dict]:
    """``count`` token requests, each with a fresh code (codes are single use)."""
    headers = {
        "Authorization": basic_auth(brand),
        "Content-Type": "application/x-www-form-urlencoded",
    }
    return [
        {
            "method": "POST",
            "path": "/oauth/token",
            "headers": headers,
            "body": token_form(brand, consent(server.base, consumer, brand)),
        }
        for _ in range(count)
    ]


def ab_backend(backend: str, earlier_root: Path, stack: ExitStack) -> dict:
    """Both revisions served on one fresh database of ``backend``; S1 and S4 alternated."""
    keys = {"secret": new_key(), "master": new_key(), "signing": new_key()}
    workdir = Path(stack.enter_context(TemporaryDirectory(prefix=f"sayso-ab-{backend}-")))
    database, app = migrated_app(backend, workdir, keys, stack)
    servers = {
        "earlier": Server(database.url, keys, workdir, name="earlier", root=earlier_root),
        "this": Server(database.url, keys, workdir, name="this"),
    }
    for server in servers.values():
        stack.callback(server.stop)
    brand = make_brand(app.test_cli_runner(), "Bookshop", "bookshop.example", ["interests"])
    consumer = sign_up(app.test_cli_runner(), servers["this"].base, "ada@example.org")
    parts: dict = {(s, side): [] for s in ("S1", "S4") for side in servers}
    for round_ in range(ROUNDS):
        order = list(servers) if round_ % 2 == 0 else list(reversed(servers))
        log(f"{backend}: round {round_ + 1}/{ROUNDS} ({' then '.join(order)})")
        read = profile_request(fresh_token(servers["this"], consumer, brand))
        exchanges = {side: s4_requests(servers["this"], consumer, brand, CODES) for side in order}
        for side in order:
            server = servers[side]
            server.load([read], max(20, REQUESTS // 10))  # warm-up, not recorded
            parts["S1", side].append(all_ok(server.load([read], REQUESTS)))
            result = server.load(exchanges[side], CODES, cycle=False)
            parts["S4", side].append(all_ok(result))
    out = {}
    for scenario in ("S1", "S4"):
        earlier, this = (combine(parts[scenario, side]) for side in ("earlier", "this"))
        out[scenario] = {
            "earlier": {"rps": earlier["rps"], "p99_ms": earlier["p99_ms"]},
            "this": {"rps": this["rps"], "p99_ms": this["p99_ms"]},
            "rps_ratio": this["rps"] / earlier["rps"],
            "p99_ratio": this["p99_ms"] / earlier["p99_ms"],
        }
    return out


def main() -> None:
    """Run the A/B on each database; print the result as JSON."""
    revision = sys.argv[1] if len(sys.argv) > 1 else "HEAD~1"
    backends = os.environ.get("BENCH_DATABASES", "sqlite,postgresql").split(",")
    results = {"revision": revision, "rounds": ROUNDS, "requests": REQUESTS, "codes": CODES}
    with ExitStack() as stack:
        earlier_root = unpack(revision, Path(stack.enter_context(TemporaryDirectory())))
        for backend in backends:
            with ExitStack() as inner:
                results[backend] = ab_backend(backend, earlier_root, inner)
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
