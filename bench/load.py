"""A small, bounded load generator, run as its own process: ``python -m bench.load < job.json``.

The job names the server (``port``, or ``ports``: connection ``i`` talks to
``ports[i % len(ports)]``), the requests (cycled, or each used once; with
``per_connection``, connection ``i`` always sends ``requests[i % len(requests)]``), how
many to send, how many keep-alive connections to use and a deadline. It prints one JSON line: the
count, statuses, wall time, req/s, latency percentiles (and every latency, so that parts
of one measurement can be pooled) and mean SQL statements per request (from the bench
app's ``X-Bench-Statements`` header). Only loopback is allowed.
"""

from __future__ import annotations

import http.client
import json
import sys
import threading
import time
from collections import Counter

STATEMENTS_HEADER = "X-Bench-Statements"


def percentile(sorted_values: list[float], fraction: float) -> float:
    """The nearest-rank percentile of an ascending list (0 when empty)."""
    if not sorted_values:
        return 0.0
    rank = max(0, min(len(sorted_values) - 1, round(fraction * len(sorted_values)) - 1))
    return sorted_values[rank]


def run(job: dict) -> dict:
    """Send the job's requests; what happened."""
    host = job["host"]
    ports = [int(p) for p in job.get("ports") or [job["port"]]]
    per_connection = bool(job.get("per_connection", False))
    if host not in {"127.0.0.1", "localhost", "::1"}:
        raise SystemExit("bench.load only talks to loopback")
    requests_ = job["requests"]
    count = int(job["count"])
    cycle = job.get("cycle", True)
    if not cycle:
        count = min(count, len(requests_))
    deadline = time.monotonic() + float(job.get("deadline_seconds", 60))
    lock = threading.Lock()
    state = {"next": 0}
    latencies: list[float] = []
    statuses: Counter = Counter()
    statements: list[int] = []

    def take() -> int | None:
        with lock:
            index = state["next"]
            if index >= count or time.monotonic() > deadline:
                return None
            state["next"] = index + 1
            return index

    def worker(number: int) -> None:
        port = ports[number % len(ports)]
        conn = http.client.HTTPConnection(host, port, timeout=30)
        try:
            while (index := take()) is not None:
                spec = requests_[(number if per_connection else index) % len(requests_)]
                body = spec.get("body")
                headers = dict(spec.get("headers", {}))
                started = time.perf_counter()
                try:
                    method = spec.get("method", "GET")
                    conn.request(method, spec["path"], body=body, headers=headers)
                    response = conn.getresponse()
                    response.read()
                    status = response.status
                    used = response.getheader(STATEMENTS_HEADER)
                except (OSError, http.client.HTTPException) as exc:
                    conn.close()
                    conn = http.client.HTTPConnection(host, port, timeout=30)
                    status, used = type(exc).__name__, None
                elapsed = time.perf_counter() - started
                with lock:
                    latencies.append(elapsed)
                    statuses[str(status)] += 1
                    if used is not None:
                        statements.append(int(used))
        finally:
            conn.close()

    threads = [
        threading.Thread(target=worker, args=(number,))
        for number in range(int(job.get("concurrency", 4)))
    ]
    began = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - began
    latencies.sort()
    done = len(latencies)
    return {
        "count": done,
        "statuses": dict(statuses),
        "wall_seconds": wall,
        "rps": done / wall if wall else 0.0,
        "p50_ms": percentile(latencies, 0.50) * 1000,
        "p99_ms": percentile(latencies, 0.99) * 1000,
        "latencies_ms": [round(latency * 1000, 3) for latency in latencies],
        "statements": sum(statements) / len(statements) if statements else None,
        "timed_out": done < count,
    }


def main() -> None:
    """Read the job from stdin, print the result as JSON."""
    print(json.dumps(run(json.load(sys.stdin))))


if __name__ == "__main__":
    main()
