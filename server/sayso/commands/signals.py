"""Stopping a long-running command cleanly."""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def stop_requested_by_signals() -> Iterator[threading.Event]:
    """An event that Ctrl-C or SIGTERM sets while inside (instead of interrupting), so the
    work in flight finishes and is recorded before the command leaves; the previous
    handlers come back after."""
    stop = threading.Event()
    previous = {
        sig: signal.signal(sig, lambda _signum, _frame: stop.set())
        for sig in (signal.SIGINT, signal.SIGTERM)
    }
    try:
        yield stop
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
