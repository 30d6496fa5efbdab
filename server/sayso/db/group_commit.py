"""Group commit: transactions shared by the threads of one process, committed once for all
of them (profile reads on SQLite)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress

from sqlalchemy import exc


class GroupCommit:
    """Transactions shared by the threads of one process, committed once for all of them.

    A profile read is a durable ledger append. Alone, each read takes the ledger's head
    lock and holds it through its own commit (an fsync on SQLite, a WAL flush and more
    round trips on PostgreSQL), so reads queue behind each other's commits. Here the reads
    that arrive while a group is open join it: each runs its statements in turn on the
    group's connection, in its one transaction, after the one head lock the group took;
    the group commits once, when the last of them is done, and no member goes on (none
    returns anything) before that commit. Every read stays in a committed transaction, as
    durable as before; the commit and the lock are shared.

    Reads that arrive while a group commits open the next one, whose leader waits for the
    head lock meanwhile, so the busier the process the bigger the groups, and a lone read
    is exactly what it was (one member, the same statements). A database error in any
    member rolls the whole group back and fails every member: nothing half-recorded, and
    nothing disclosed. Needs threads (gunicorn ``--threads``) to group anything.
    Hand-written because neither SQLAlchemy nor the drivers group commits across threads.
    """

    def __init__(self, engine):
        self._engine = engine
        self._mutex = threading.Lock()
        self._open: _Group | None = None

    @contextmanager
    def transaction(self, begin: Callable) -> Iterator[tuple]:
        """Join the open group, or open one. Yields ``(connection, state)`` while this
        member has the connection to itself; ``begin(connection)`` is what the group's
        leader ran once after ``BEGIN`` (taking the ledger lock) and ``state`` what it
        returned. On leaving, waits for the group's commit, and raises its error if the
        group failed (a member that raised has already left with its own exception)."""
        with self._mutex:
            group = self._open
            leader = group is None
            if leader:
                group = self._open = _Group()
            group.members += 1
        if leader:
            group.open(self._engine, begin)
        else:
            group.ready.wait()
        succeeded = False
        try:
            if group.failure is not None:
                raise GroupFailed() from group.failure
            with group.turn:
                try:
                    yield group.connection, group.state
                except exc.SQLAlchemyError as error:
                    group.failure = group.failure or error  # the transaction is suspect
                    raise
            succeeded = True
        finally:
            self._leave(group, leader)
        if succeeded and group.failure is not None:
            raise GroupFailed() from group.failure

    def _leave(self, group: _Group, leader: bool) -> None:
        with self._mutex:
            group.left += 1
            if leader and self._open is group:
                self._open = None  # later arrivals open the next group
            last = self._open is not group and group.left == group.members
        if last:
            group.end()
        group.ended.wait()


class GroupFailed(exc.SQLAlchemyError):
    """The shared transaction this member was in failed (see ``__cause__``): rolled back,
    so nothing this member wrote was kept."""

    def __init__(self):
        super().__init__("the group's transaction failed and was rolled back")


class _Group:
    """One shared transaction: its connection, its members, and how it ended."""

    def __init__(self):
        self.members = self.left = 0
        self.connection = self.transaction = self.state = None
        self.failure: BaseException | None = None
        self.ready = threading.Event()  # connected and begun (or failed to)
        self.ended = threading.Event()  # committed or rolled back
        self.turn = threading.Lock()  # one member's statements at a time

    def open(self, engine, begin: Callable) -> None:
        try:
            self.connection = engine.connect()
            self.transaction = self.connection.begin()
            self.state = begin(self.connection)
        except BaseException as error:
            self.failure = error
        finally:
            self.ready.set()

    def end(self) -> None:
        try:
            if self.transaction is not None and self.failure is None:
                try:
                    self.transaction.commit()
                except exc.SQLAlchemyError as error:
                    self.failure = error
            elif self.transaction is not None:
                with suppress(exc.SQLAlchemyError):
                    self.transaction.rollback()
        finally:
            if self.connection is not None:
                with suppress(exc.SQLAlchemyError):
                    self.connection.close()
            self.ended.set()
