"""The sequencer: gives committed events their place in the tree, in batches, and signs
checkpoints of the tree.

Exactly one integrates at a time, whatever runs: each batch is one transaction that locks
the tree's state row (``ledger_state``) first, so two sequencers take turns and never fork
the tree, and a sequencer killed at any point (``kill -9`` included) leaves either the whole
batch or none of it: the events it had taken are still queued in ``ledger_pending`` for the
next one. Which process runs it is decided separately (``runner.py``), to spare the others
the work.

Order: within a batch events take their places in ``seq`` order. An event written after
another committed (a revoke after the read it waited for, ``ordering.py``) has the larger
``seq`` and is visible whenever the later one is, so it never takes an earlier place.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy import bindparam, delete, func, insert, select, text, update

from sayso.ledger.encoding import entry_leaf_hash
from sayso.ledger.keys import LedgerKey
from sayso.ledger.notes import Checkpoint
from sayso.ledger.tiles import TileStore
from sayso.ledger.tree import EMPTY_ROOT
from sayso.models import (
    AuditEvent,
    LedgerCheckpoint,
    LedgerLeaf,
    LedgerPending,
    LedgerState,
)
from sayso.shared.clock import utcnow

log = logging.getLogger(__name__)

_EVENTS = AuditEvent.__table__
_PENDING = LedgerPending.__table__
_LEAVES = LedgerLeaf.__table__
_STATE = LedgerState.__table__
_CHECKPOINTS = LedgerCheckpoint.__table__
#: Events integrated per transaction: large enough that a batch's fixed costs vanish
#: (bench S12), small enough that on SQLite the write lock is held for milliseconds.
BATCH = 5000
_ENSURE_STATE = text(
    "INSERT INTO ledger_state (id, size, root) VALUES (1, 0, :root) ON CONFLICT DO NOTHING"
)
_QUEUED = (
    select(_PENDING.c.seq, _EVENTS.c.salt, _EVENTS.c.canonical)
    .select_from(_PENDING.outerjoin(_EVENTS, _EVENTS.c.seq == _PENDING.c.seq))
    .order_by(_PENDING.c.seq)
    .limit(bindparam("limit"))
)


@dataclass(frozen=True)
class TreeState:
    """The tree as integrated: how many leaves, and its root."""

    size: int
    root: bytes


def lock_state(session) -> TreeState:
    """The tree's state, locked until the caller's transaction ends (on SQLite the
    transaction already holds the database's write lock)."""
    session.execute(_ENSURE_STATE, {"root": EMPTY_ROOT})
    query = select(_STATE.c.size, _STATE.c.root).where(_STATE.c.id == 1)
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update()
    size, root = session.execute(query).one()
    return TreeState(size, bytes(root))


def tree_state(session) -> TreeState:
    """The tree's state as last committed (not locked)."""
    row = session.execute(select(_STATE.c.size, _STATE.c.root).where(_STATE.c.id == 1)).first()
    return TreeState(row.size, bytes(row.root)) if row else TreeState(0, EMPTY_ROOT)


def checkpoint_text(origin: str, state: TreeState) -> str:
    """The checkpoint body (C2SP tlog-checkpoint) of ``state``."""
    return Checkpoint(origin, state.size, state.root, ()).body()


class Sequencer:
    """Integrates queued events into the tree and signs checkpoints, on one session."""

    def __init__(self, session, key: LedgerKey, batch: int = BATCH):
        self.session = session
        self.key = key
        self.batch = batch

    def integrate(self) -> int:
        """Integrate up to one batch of queued events, and commit; how many."""
        session = self.session
        try:
            state = lock_state(session)
            queued = session.execute(_QUEUED, {"limit": self.batch}).all()
            if not queued:
                session.rollback()
                return 0
            orphans = [seq for seq, _, canonical in queued if canonical is None]
            if orphans:
                # Queued, then deleted before it was integrated: nothing to commit to. The
                # queue forgets it, and says so (``sayso audit verify`` reports no gap: the
                # event never had a place).
                log.warning("ledger: %d queued events vanished before integration", len(orphans))
            events = [(seq, salt, canonical) for seq, salt, canonical in queued if canonical]
            hashes = [entry_leaf_hash(salt, canonical) for _, salt, canonical in events]
            store = TileStore(session)
            store.append(state.size, hashes)
            if events:
                self._place(state.size, [seq for seq, _, _ in events])
            self._dequeue([seq for seq, _, _ in queued])
            size = state.size + len(events)
            root = store.root(size)
            session.execute(update(_STATE).where(_STATE.c.id == 1).values(size=size, root=root))
            session.commit()
        except BaseException:
            session.rollback()
            raise
        return len(queued)

    def _place(self, first_index: int, seqs: list[int]) -> None:
        """Record the leaf index of each event: ``seqs`` take ``first_index`` on, in order.
        On PostgreSQL one statement for the batch (a statement per row was more than half
        of integrating: docs/benchmarks.md, S12)."""
        if self.session.get_bind().dialect.name == "postgresql":
            self.session.execute(
                text(
                    "INSERT INTO ledger_leaves (leaf_index, seq) "
                    "SELECT :first + n - 1, seq FROM unnest(CAST(:seqs AS bigint[])) "
                    "WITH ORDINALITY AS placed(seq, n)"
                ),
                {"first": first_index, "seqs": seqs},
            )
            return
        self.session.execute(
            insert(_LEAVES),
            [{"leaf_index": first_index + i, "seq": seq} for i, seq in enumerate(seqs)],
        )

    def _dequeue(self, seqs: list[int]) -> None:
        if self.session.get_bind().dialect.name == "postgresql":
            self.session.execute(
                text("DELETE FROM ledger_pending WHERE seq = ANY(:seqs)"), {"seqs": seqs}
            )
            return
        for start in range(0, len(seqs), 900):  # SQLite's limit on parameters per statement
            chunk = seqs[start : start + 900]
            self.session.execute(delete(_PENDING).where(_PENDING.c.seq.in_(chunk)))

    def integrate_all(self) -> int:
        """Integrate batches until the queue is empty (as it was when this began)."""
        total = 0
        while (done := self.integrate()) == self.batch:
            total += done
        return total + done

    def checkpoint(self) -> LedgerCheckpoint | None:
        """Sign a checkpoint of the tree as it is, if it grew since the last one, and
        commit it; the newest checkpoint either way (``None`` before the first entry)."""
        session = self.session
        try:
            state = lock_state(session)
            newest = session.scalar(
                select(LedgerCheckpoint).order_by(LedgerCheckpoint.size.desc()).limit(1)
            )
            if state.size == 0 or (newest is not None and newest.size >= state.size):
                session.rollback()
                return newest
            note = self.key.sign_note(checkpoint_text(self.key.origin, state))
            values = {"size": state.size, "root": state.root, "note": note, "signed_at": utcnow()}
            session.execute(insert(_CHECKPOINTS).values(values))
            session.commit()
        except BaseException:
            session.rollback()
            raise
        return LedgerCheckpoint(**values)

    def pending(self) -> int:
        """How many events wait for the tree."""
        return self.session.scalar(select(func.count()).select_from(_PENDING))
