"""The mail worker in the background of each app process (``SAYSO_MAIL_WORKER=background``,
the default in development, so ``make run`` sends, or writes out, each message at once).
Several processes may run it: each message is claimed by one (services/mail_delivery.py)."""

from __future__ import annotations

import os
import threading

from sayso import services

#: How often the background worker looks for due messages (seconds).
INTERVAL_SECONDS = 1.0

_started: dict[int, threading.Thread] = {}
_lock = threading.Lock()


def _run(app) -> None:
    with app.app_context():
        services.mail().run(threading.Event(), interval=INTERVAL_SECONDS)


def start_in_background(app) -> None:
    """Start this process's mail thread, once per process (a forked worker starts its own)."""
    if os.getpid() in _started:
        return
    with _lock:
        if os.getpid() in _started:
            return
        thread = threading.Thread(target=_run, args=(app,), name="sayso-mail", daemon=True)
        _started[os.getpid()] = thread
        thread.start()


def init_app(app) -> None:
    """With ``SAYSO_MAIL_WORKER=background``, the first request a process serves starts its
    mail thread (not at start-up: a process that forks workers serves nothing itself)."""
    if app.config["MAIL_WORKER"] != "background":
        return
    app.before_request(lambda: start_in_background(app))
