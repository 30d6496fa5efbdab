"""Running the sequencer: in a ``sayso ledger sequence`` process, or in the background of
every app process, with one of them elected to do the work.

The election only spares the others the work: correctness never depends on it (two
sequencers take turns on the tree's state row, see ``sequencer.py``). PostgreSQL elects
through a session-level advisory lock, held by a connection of the leader's own and
released by the database when that connection dies (a process killed, a network cut);
SQLite through an exclusive ``flock`` on a file beside the database, released by the
kernel when the process dies.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import threading
import time

from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from sayso.extensions import db
from sayso.ledger.sequencer import Sequencer
from sayso.ledger.witnesses import WitnessClient

log = logging.getLogger(__name__)

#: The advisory lock whose holder is the sequencer (any fixed 64-bit number).
_ELECTION_KEY = 0x5A5F_5345_5155_454E
#: How long a process that is not the sequencer waits before it tries again.
STANDBY_SECONDS = 2.0


class Election:
    """Whether this process is the one that sequences; kept until it dies or gives up."""

    def __init__(self, engine):
        self.engine = engine
        self._connection = None
        self._file = None

    def won(self) -> bool:
        """Try to be the sequencer (again); whether this process is."""
        if self.engine.dialect.name == "postgresql":
            return self._postgresql()
        return self._sqlite()

    def _postgresql(self) -> bool:
        if self._connection is not None:
            try:
                self._connection.execute(text("SELECT 1"))
                return True
            except SQLAlchemyError:
                self.give_up()  # the connection died, and the lock with it
        connection = self.engine.connect()
        try:
            won = connection.execute(
                text("SELECT pg_try_advisory_lock(:k)"), {"k": _ELECTION_KEY}
            ).scalar()
            connection.commit()
        except SQLAlchemyError:
            connection.close()
            return False
        if won:
            self._connection = connection
        else:
            connection.close()
        return bool(won)

    def _sqlite(self) -> bool:
        if self._file is not None:
            return True
        database = self.engine.url.database
        if not database or database == ":memory:":
            return True
        handle = open(database + ".sequencer", "a")  # noqa: SIM115  (held until give_up)
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            return False
        self._file = handle
        return True

    def give_up(self) -> None:
        """Let another process be the sequencer."""
        if self._connection is not None:
            with contextlib.suppress(SQLAlchemyError):
                self._connection.close()
            self._connection = None
        if self._file is not None:
            self._file.close()
            self._file = None


class SequencerRunner:
    """One process's sequencer: each tick integrates what is queued, signs a checkpoint if
    the tree grew, and asks the witnesses to cosign it."""

    def __init__(self, app):
        self.app = app
        self.engine = db.engine
        self.interval = app.config["LEDGER_CHECKPOINT_SECONDS"]
        self.key = app.extensions["sayso_ledger_key"]
        self.witnesses = app.config["LEDGER_WITNESSES"]
        self.batch = app.config["LEDGER_BATCH"]

    def tick(self) -> int:
        """One round; how many events were integrated."""
        with Session(self.engine) as session:
            sequencer = Sequencer(session, self.key, self.batch)
            integrated = sequencer.integrate_all()
            checkpoint = sequencer.checkpoint()
            if checkpoint is not None:
                WitnessClient(session, self.witnesses).cosign(checkpoint)
        return integrated

    def run(self, stop: threading.Event) -> None:
        """Tick every ``interval`` seconds while elected, until ``stop`` is set. A database
        error is logged and the next tick tries again: nothing is lost, the queue keeps
        every event until a tick integrates it."""
        election = Election(self.engine)
        try:
            while not stop.is_set():
                if not election.won():
                    stop.wait(STANDBY_SECONDS)
                    continue
                started = time.monotonic()
                try:
                    self.tick()
                except Exception:
                    log.exception("ledger sequencer: round failed; trying again")
                stop.wait(max(0.0, self.interval - (time.monotonic() - started)))
        finally:
            election.give_up()


_started: dict[int, threading.Thread] = {}
_lock = threading.Lock()


def start_in_background(app) -> None:
    """Start this process's sequencer thread, once per process (a forked worker starts its
    own); only the elected one works."""
    if os.getpid() in _started:
        return
    with _lock:
        if os.getpid() in _started:
            return
        runner = SequencerRunner(app)
        thread = threading.Thread(
            target=runner.run, args=(threading.Event(),), name="sayso-sequencer", daemon=True
        )
        _started[os.getpid()] = thread
        thread.start()


def init_app(app) -> None:
    """With ``SAYSO_LEDGER_SEQUENCER=background`` (the default), the first request a
    process serves starts its sequencer thread (not at start-up: a process that forks
    workers would otherwise start one in a process that serves nothing)."""
    if app.config["LEDGER_SEQUENCER"] != "background":
        return
    app.before_request(lambda: start_in_background(app))
