"""Verifying the log from what is stored, trusting nothing the server says about itself.

``verify`` rebuilds the tree from the stored entries, leaf by leaf, and checks against it:
every stored tile hash (what witnesses and auditors are served), every stored checkpoint
(its signature and its root), the tree's state, and that no event escaped the log (every
event is in the tree or queued for it). Given checkpoints held outside (a witness's, a
receipt's), it proves the stored log extends each of them: whoever holds every server key
and file can rewrite the stored log and re-sign it, but not the checkpoints others hold.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from hashlib import sha256

from sqlalchemy import func, select, text

from sayso.ledger.keys import LedgerKey
from sayso.ledger.legacy import chain_problem
from sayso.ledger.notes import (
    Checkpoint,
    NoteError,
    NoteSignatureError,
    NoteVerifier,
    open_note,
    verify_cosignature,
)
from sayso.ledger.sequencer import tree_state
from sayso.ledger.tiles import split_hashes
from sayso.ledger.tree import EMPTY_ROOT, HASH_SIZE, TILE_WIDTH, Frontier, node_hash, perfect_root
from sayso.models import AuditEvent, LedgerCheckpoint, LedgerPending, LedgerTile
from sayso.models.ledger import (
    POSTGRESQL_CHECK,
    POSTGRESQL_CHECK_NAME,
    POSTGRESQL_COLUMNS,
    SQLITE_QUEUE_TRIGGER,
    SQLITE_TABLE,
)

#: Leaves per round trip of the walk: memory stays at one batch however long the log.
BATCH = 8192  # a multiple of the tile width, so a batch's tiles are whole


@dataclass(frozen=True)
class Verification:
    """The outcome of a verification."""

    ok: bool
    size: int
    checkpoints_checked: int = 0
    trusted_checked: int = 0
    pending: int = 0
    reason: str | None = None
    #: The first leaf found wrong, where the problem has a place in the tree.
    first_bad_index: int | None = None


class Broken(Exception):
    """What is wrong, and where."""

    def __init__(self, reason: str, index: int | None = None):
        super().__init__(reason)
        self.reason, self.index = reason, index


@dataclass(frozen=True)
class Trusted:
    """A checkpoint held outside the server, as a verifier reads it."""

    checkpoint: Checkpoint
    source: str


def read_trusted(
    note: str, key: LedgerKey, witness_keys: Sequence[str] = (), source: str = "checkpoint"
) -> Trusted:
    """A checkpoint note from outside, checked: signed by the log's key, of this log, and
    cosigned by each of ``witness_keys``. Raises ``Broken`` saying what is wrong."""
    try:
        opened = open_note(note, [NoteVerifier.from_vkey(key.verifier_key)])
        checkpoint = Checkpoint.parse(opened.text)
    except NoteSignatureError:
        raise Broken(f"{source} is not signed by this log's key") from None
    except NoteError as error:
        raise Broken(f"{source} cannot be read: {error}") from None
    if checkpoint.origin != key.origin:
        raise Broken(f"{source} is for the log {checkpoint.origin!r}, not {key.origin!r}")
    for vkey in witness_keys:
        lines = [line for line in note.splitlines() if line.startswith("\u2014 ")]
        if not any(verify_cosignature(vkey, opened.text, line) is not None for line in lines):
            raise Broken(f"{source} carries no valid cosignature by {vkey.split('+')[0]}")
    return Trusted(checkpoint, source)


@contextmanager
def cyclic_gc_paused():
    """CPython's cyclic garbage collector off for a walk over millions of rows (they build
    no cycles, yet allocation counts would make it scan the heap again and again)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _fold(perfect_roots: Sequence[bytes]) -> bytes:
    """The root of a tree given its perfect-subtree roots, largest first."""
    if not perfect_roots:
        return EMPTY_ROOT
    node = perfect_roots[-1]
    for left in reversed(perfect_roots[:-1]):
        node = node_hash(left, node)
    return node


class _Rebuild:
    """The tree rebuilt leaf by leaf: full tiles' roots (level 1 on) and the partial tile."""

    def __init__(self):
        self.size = 0
        self.upper = Frontier()  # over the roots of full level-0 tiles
        self.levels: list[list[bytes]] = [[]]  # level 1, 2, ... hashes, as computed
        self.tail: list[bytes] = []  # leaf hashes of the partial level-0 tile

    def add(self, hashes: list[bytes]) -> None:
        """Add leaf hashes (as many as fill the partial tile, or fewer)."""
        self.tail.extend(hashes)
        self.size += len(hashes)
        if len(self.tail) == TILE_WIDTH:
            tile_root = perfect_root(self.tail)
            self.levels[0].append(tile_root)
            self.upper.append(tile_root)
            self.tail = []

    def root(self) -> bytes:
        """The root at the current size."""
        tail = Frontier()
        tail.extend(self.tail)
        return _fold([*self.upper.hashes, *tail.hashes])

    def upper_levels(self) -> list[list[bytes]]:
        """Level 1, 2, ... hashes, each level's full tiles' roots making the next."""
        levels = [self.levels[0]]
        while len(levels[-1]) >= TILE_WIDTH:
            below = levels[-1]
            levels.append(
                [
                    perfect_root(below[i : i + TILE_WIDTH])
                    for i in range(0, len(below) - TILE_WIDTH + 1, TILE_WIDTH)
                ]
            )
        return levels


class LogVerifier:
    """Verifies the stored log (``sayso audit verify``, the officer console)."""

    def __init__(self, session, key: LedgerKey):
        self.session = session
        self.key = key
        self._verifier = NoteVerifier.from_vkey(key.verifier_key)

    def verify(self, trusted: Sequence[Trusted] = ()) -> Verification:
        """Everything stored, and that it extends every ``trusted`` checkpoint."""
        state = tree_state(self.session)
        pending = self.session.scalar(select(func.count()).select_from(LedgerPending))
        checked = [0, 0]
        try:
            problem = table_altered(self.session) or chain_problem(self.session)
            if problem:
                raise Broken(problem)
            size = self._walk(state, trusted, checked)
            self._escaped(size, pending)
        except Broken as broken:
            return Verification(
                False, state.size, checked[0], checked[1], pending, broken.reason, broken.index
            )
        return Verification(True, size, checked[0], checked[1], pending)

    def _walk(self, state, trusted: Sequence[Trusted], checked: list) -> int:
        """Rebuild the tree; check each checkpoint and trusted checkpoint as it is reached."""
        stops = self._stops(trusted)
        rebuilt = _Rebuild()
        with cyclic_gc_paused():
            for first, hashes in self._leaf_hashes():
                if first != rebuilt.size:
                    raise Broken(f"leaf {rebuilt.size} is missing from the tree", rebuilt.size)
                self._compare_tiles(0, first, hashes, whole_level=len(hashes) < BATCH)
                position = 0
                while position < len(hashes):
                    room = TILE_WIDTH - len(rebuilt.tail)
                    upto = min(len(hashes), position + room)
                    # Stop at the next checkpoint size inside this run, if any.
                    while stops and stops[0][0] <= rebuilt.size:
                        self._check_stop(stops.pop(0), rebuilt, checked)
                    if stops and stops[0][0] < rebuilt.size + (upto - position):
                        upto = position + (stops[0][0] - rebuilt.size)
                    rebuilt.add(hashes[position:upto])
                    position = upto
        while stops and stops[0][0] <= rebuilt.size:
            self._check_stop(stops.pop(0), rebuilt, checked)
        if stops:
            size, what, _ = stops[0]
            raise Broken(
                f"the log has {rebuilt.size} entries, but {what} covers {size}: entries were "
                "removed",
                rebuilt.size,
            )
        for level, hashes in enumerate(rebuilt.upper_levels(), start=1):
            self._compare_tiles(level, 0, hashes, whole_level=True)
        if state.size != rebuilt.size or state.root != rebuilt.root():
            raise Broken("the tree's stored state differs from the tree its entries make")
        return rebuilt.size

    def _stops(self, trusted: Sequence[Trusted]) -> list:
        """Every size at which a root must be checked: stored checkpoints, trusted ones."""
        stops = []
        for row in self.session.execute(
            select(LedgerCheckpoint.size, LedgerCheckpoint.root, LedgerCheckpoint.note)
        ):
            stops.append((row.size, f"the stored checkpoint at {row.size}", row))
        for item in trusted:
            stops.append((item.checkpoint.size, item.source, item))
        stops.sort(key=lambda stop: stop[0])
        return stops

    def _check_stop(self, stop, rebuilt: _Rebuild, checked: list) -> None:
        size, what, item = stop
        root = rebuilt.root() if size else EMPTY_ROOT
        if isinstance(item, Trusted):
            if item.checkpoint.root_hash != root:
                raise Broken(
                    f"{what} (size {size}) is not a state of this log: the entries before "
                    "it were changed, or another history was shown to its holder",
                    size,
                )
            checked[1] += 1
            return
        try:
            opened = open_note(item.note, [self._verifier])
            checkpoint = Checkpoint.parse(opened.text)
        except NoteSignatureError:
            raise Broken(f"{what} has no valid signature by the log's key", size) from None
        except NoteError:
            raise Broken(f"{what} cannot be read", size) from None
        if (
            checkpoint.origin != self.key.origin
            or checkpoint.size != size
            or checkpoint.root_hash != bytes(item.root)
            or checkpoint.root_hash != root
        ):
            raise Broken(f"{what} does not match the tree its entries make", size)
        checked[0] += 1

    def _leaf_hashes(self) -> Iterator[tuple[int, list[bytes]]]:
        """The leaves in order, as (first index, their hashes), a batch at a time."""
        connection = self.session.connection()
        driver = connection.connection.driver_connection
        postgresql = connection.dialect.name == "postgresql"
        cursor = driver.cursor(binary=True) if postgresql else driver.cursor()
        mark = "%s" if postgresql else "?"
        walk = (
            "SELECT l.leaf_index, e.salt, e.canonical FROM ledger_leaves l "  # noqa: S608
            "LEFT JOIN audit_events e ON e.seq = l.seq "
            f"WHERE l.leaf_index >= {mark} AND l.leaf_index < {mark} ORDER BY l.leaf_index"
        )
        start = 0
        try:
            while True:
                cursor.execute(walk, (start, start + BATCH))
                rows = cursor.fetchall()
                if not rows:
                    return
                if rows[-1][0] - rows[0][0] != len(rows) - 1 or rows[0][0] != start:
                    indexes = [row[0] for row in rows]
                    missing = next(
                        (start + i for i, index in enumerate(indexes) if index != start + i),
                        start + len(rows),
                    )
                    raise Broken(f"leaf {missing} is missing from the tree", missing)
                try:
                    # Inline, not entry_leaf_hash(): a million calls cost a tenth of the walk.
                    hashes = [
                        sha256(b"\x00" + salt + canonical).digest() for _, salt, canonical in rows
                    ]
                except TypeError:  # a deleted event: its columns came back NULL
                    index = next(row[0] for row in rows if row[2] is None)
                    raise Broken(f"the event at leaf {index} was deleted", index) from None
                yield start, hashes
                start += len(rows)
        finally:
            cursor.close()

    def _compare_tiles(self, level: int, first: int, hashes: list[bytes], whole_level=False):
        """The stored tiles of ``level`` hold exactly ``hashes`` from hash ``first`` on."""
        last_tile = (first + len(hashes) - 1) // TILE_WIDTH if hashes else first // TILE_WIDTH
        query = select(LedgerTile.tile_index, LedgerTile.hashes).where(
            LedgerTile.level == level, LedgerTile.tile_index >= first // TILE_WIDTH
        )
        if not whole_level:
            query = query.where(LedgerTile.tile_index <= last_tile)
        # (whole_level: every stored tile from here on, so hashes past the end show too)
        stored = b"".join(
            bytes(row.hashes) for row in self.session.execute(query.order_by(LedgerTile.tile_index))
        )
        computed = b"".join(hashes)
        offset = (first % TILE_WIDTH) * HASH_SIZE
        got = stored[offset:] if whole_level else stored[offset : offset + len(computed)]
        if got != computed:
            index = next(
                (
                    i
                    for i, h in enumerate(split_hashes(stored[offset:]))
                    if i >= len(hashes) or h != hashes[i]
                ),
                len(hashes),
            )
            raise Broken(
                f"the served hashes (tile level {level}) differ from the entries at hash "
                f"{first + index}",
                (first + index) * TILE_WIDTH**level,
            )

    def _escaped(self, size: int, pending: int) -> None:
        """Every event is in the tree or queued for it: none was written around the log."""
        events = self.session.scalar(select(func.count()).select_from(AuditEvent))
        if events <= size + pending:
            return
        seq = self.session.scalar(
            text(
                "SELECT seq FROM audit_events e WHERE NOT EXISTS "
                "(SELECT 1 FROM ledger_leaves l WHERE l.seq = e.seq) AND NOT EXISTS "
                "(SELECT 1 FROM ledger_pending p WHERE p.seq = e.seq) ORDER BY seq LIMIT 1"
            )
        )
        raise Broken(f"event {seq} was written around the log (neither in the tree nor queued)")


_SQLITE_TABLE_SQL = text("SELECT sql FROM sqlite_schema WHERE type = 'table' AND name = :name")
_SQLITE_TRIGGER_SQL = text(
    "SELECT sql FROM sqlite_schema WHERE type = 'trigger' AND name = 'audit_events_queued'"
)
_POSTGRESQL_TABLE = text(
    "SELECT (SELECT pg_get_constraintdef(c.oid) FROM pg_constraint c "
    "        WHERE c.conrelid = t.oid AND c.conname = :check AND c.convalidated), "
    "       (SELECT string_agg(a.attname || ' ' || format_type(a.atttypid, a.atttypmod), ', ' "
    "                          ORDER BY a.attnum) "
    "        FROM pg_attribute a WHERE a.attrelid = t.oid AND a.attnum > 0 "
    "        AND NOT a.attisdropped) "
    "FROM pg_class t WHERE t.oid = to_regclass(:name) AND t.relkind = 'r'"
)


def table_altered(session) -> str | None:
    """Why the ``audit_events`` table no longer keeps its searchable columns equal to
    ``canonical``, or ``None`` when it does.

    This is what lets the console search the columns of entries whose bytes the tree
    verifies: on SQLite the columns are computed from ``canonical`` (so the table's
    definition must be the one Sayso created, word for word), on PostgreSQL a validated
    CHECK constraint holds them to it (so it must be there, validated, with its definition,
    over columns of the types it was written for).
    """
    name = AuditEvent.__tablename__
    dialect = session.get_bind().dialect.name
    if dialect == "sqlite":
        found = session.execute(_SQLITE_TABLE_SQL, {"name": name}).scalar()
        if found != SQLITE_TABLE:
            return "the audit_events table's definition differs from the one Sayso created"
        trigger = session.execute(_SQLITE_TRIGGER_SQL).scalar()
        if trigger != SQLITE_QUEUE_TRIGGER:
            return "the audit_events table no longer queues its events for the log (trigger)"
        return None
    if dialect == "postgresql":
        found = session.execute(
            _POSTGRESQL_TABLE, {"name": name, "check": POSTGRESQL_CHECK_NAME}
        ).first()
        if found is None or found[0] != POSTGRESQL_CHECK:
            return (
                f"the audit_events table's constraint {POSTGRESQL_CHECK_NAME} is missing, "
                "not validated, or changed"
            )
        if found[1] != POSTGRESQL_COLUMNS:
            return "the audit_events table's columns differ from the ones Sayso created"
        return None
    return f"cannot check the audit_events table on {dialect}"
