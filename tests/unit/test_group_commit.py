"""Reads of one process share a transaction and its commit (``db.GroupCommit``).

Real threads on the real database: members that arrive together share one transaction,
each appends its own ledger event, and the log verifies; a member's database error
rolls everyone in its group back; a member that leaves with any other error leaves the
others alone; and nobody gets past its ``transaction()`` before the group has committed.
"""

from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.exc import SQLAlchemyError

from sayso import services
from sayso.db import GroupCommit, GroupFailed
from sayso.extensions import db
from sayso.ledger import Event, EventType
from sayso.models import AuditEvent
from tests.helpers import run_together
from tests.ledger_helpers import log_verifies


def _event(n: int) -> Event:
    return Event(EventType.PROFILE_READ, actor=f"client:{n}", details={"n": n})


class _Opened:
    """A group's ``begin``: the ledger on the group's connection, and a count of the groups
    opened."""

    def __init__(self, app):
        self.app = app
        self.count = 0

    def __call__(self, connection):
        self.count += 1
        with self.app.app_context():
            return services.ledger(on=connection)


def _set_once_joined(groups: GroupCommit, members: int, joined: threading.Event) -> None:
    """Set ``joined`` once ``members`` threads are in the open group (at most 5 s later):
    the leader holds its turn until then, so the others are in its group, however slowly
    a loaded machine starts them. Looks at the open group's count, which nothing public
    exposes."""

    def watch():
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            group = groups._open
            if group is not None and group.members >= members:
                break
            time.sleep(0.001)
        joined.set()

    threading.Thread(target=watch, daemon=True).start()


def _events(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(AuditEvent))


def test_members_that_arrive_together_share_a_transaction_and_each_is_recorded(app):
    with app.app_context():
        groups = GroupCommit(db.engine)
    opened = _Opened(app)
    first_in = threading.Event()

    def member(i, arrived):
        arrived.wait()
        if i:  # everyone else arrives while member 0 holds the group open
            first_in.wait(5)
        with groups.transaction(opened) as (_connection, ledger):
            first_in.set()
            if i == 0:
                arrived_others.wait(5)
            ledger.append(_event(i))
        return "ok"

    arrived_others = threading.Event()
    count = 8
    _set_once_joined(groups, count, arrived_others)
    outcomes = run_together(count, member)
    assert outcomes == ["ok"] * count
    assert opened.count < count  # grouped: fewer transactions than reads
    assert _events(app) == count
    with app.app_context():
        assert log_verifies(app)


def test_a_lone_member_is_committed_before_it_leaves(app):
    with app.app_context():
        groups = GroupCommit(db.engine)
        other = create_engine(db.engine.url)
    try:
        with groups.transaction(_Opened(app)) as (_connection, ledger):
            ledger.append(_event(1))
        with other.connect() as conn:  # another connection sees it at once
            assert conn.scalar(text("SELECT count(*) FROM audit_events")) == 1
    finally:
        other.dispose()


def test_a_database_error_in_one_member_rolls_back_its_whole_group(app):
    with app.app_context():
        groups = GroupCommit(db.engine)
    opened = _Opened(app)
    holding = threading.Event()
    release = threading.Event()

    def member(i, arrived):
        arrived.wait()
        if i:
            holding.wait(5)
        with groups.transaction(opened) as (connection, ledger):
            if i == 0:
                holding.set()
                release.wait(5)  # the others join meanwhile
            ledger.append(_event(i))
            if i == 1:
                connection.execute(text("SELECT * FROM no_such_table"))
        return "ok"

    _set_once_joined(groups, 4, release)
    outcomes = run_together(4, member)
    assert opened.count == 1, outcomes
    assert isinstance(outcomes[1], SQLAlchemyError) and not isinstance(outcomes[1], GroupFailed)
    # Member 0 had finished: it learns at the commit. The others fail at the commit, or at
    # their own statement (PostgreSQL refuses any after an error in the transaction).
    assert isinstance(outcomes[0], GroupFailed), outcomes
    assert all(isinstance(outcomes[i], SQLAlchemyError) for i in (2, 3)), outcomes
    assert _events(app) == 0  # nothing half-recorded
    # The next group starts clean.
    with groups.transaction(opened) as (_connection, ledger):
        ledger.append(_event(9))
    assert _events(app) == 1


def test_a_member_that_fails_without_writing_leaves_the_others_alone(app):
    with app.app_context():
        groups = GroupCommit(db.engine)
    opened = _Opened(app)

    def member(i, arrived):
        arrived.wait()
        with groups.transaction(opened) as (_connection, ledger):
            if i == 0:
                raise LookupError("token refused")  # as a refused token leaves
            ledger.append(_event(i))
        return "ok"

    outcomes = run_together(4, member)
    assert isinstance(outcomes[0], LookupError)
    assert outcomes[1:] == ["ok"] * 3
    assert _events(app) == 3
    with app.app_context():
        assert log_verifies(app)


def test_a_group_that_cannot_begin_fails_every_member(app):
    with app.app_context():
        groups = GroupCommit(db.engine)

    def broken(_connection):
        raise SQLAlchemyError("cannot take the ledger lock")

    with pytest.raises(GroupFailed) as failed, groups.transaction(broken):
        pytest.fail("a member ran without a transaction")
    assert "ledger lock" in str(failed.value.__cause__)
    with groups.transaction(_Opened(app)) as (_connection, ledger):
        ledger.append(_event(1))
    assert _events(app) == 1
