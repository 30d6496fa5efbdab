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
from sayso.ledger.tree import (
    EMPTY_ROOT,
    HASH_SIZE,
    TILE_HEIGHT,
    TILE_WIDTH,
    Frontier,
    node_hash,
    node_level,
    perfect_root,
)
from sayso.models import AuditEvent, LedgerCheckpoint, LedgerPending
from sayso.models.ledger import (
    POSTGRESQL_CHECK,
    POSTGRESQL_CHECK_NAME,
    POSTGRESQL_COLUMNS,
    SQLITE_QUEUE_TRIGGER,
    SQLITE_TABLE,
)

#: Leaves per round trip of the walk: memory stays at one batch however long the log.
BATCH = 8192  # a multiple of the tile width, so a batch's tiles are whole

#: SHA-256 already fed a leaf's 0x00: a copy starts a leaf hash for less than a new one.
_LEAF_START = sha256(b"\x00")


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
    """The tree rebuilt a batch of leaves at a time, each node hashed once, a level of the
    batch in one loop: the full tiles' roots (level 1 on), and the batch's nodes up to
    them, off which a root at any size in the batch is read (not a partial tile rebuilt)."""

    def __init__(self):
        self.size = 0
        self.first = 0  # the first leaf of the batch last added
        self.levels: list[list[bytes]] = [[]]  # level 1, 2, ... hashes, as computed
        self.upper = Frontier()  # over the first upper.size roots of full level-0 tiles
        self.batch: list[list[bytes]] = []  # its nodes by height, 0 to TILE_HEIGHT

    def add(self, hashes: list[bytes]) -> None:
        """Add a batch of leaf hashes, starting at a tile's first leaf."""
        nodes = [hashes]
        for _ in range(TILE_HEIGHT):
            nodes.append(node_level(nodes[-1]))
        self.first, self.batch = self.size, nodes
        self.levels[0].extend(nodes[TILE_HEIGHT])  # the roots of its full tiles
        self.size += len(hashes)

    def root(self, size: int) -> bytes:
        """The root at ``size`` leaves: within the batch last added, or at a tile's edge
        before it (sizes asked in increasing order)."""
        upper, tiles = self.upper, self.levels[0]
        while upper.size < size >> TILE_HEIGHT:
            upper.append(tiles[upper.size])
        subtrees = list(upper.hashes)
        # Below the tiles: one node of the batch per bit set in the size, largest first.
        for height in range(TILE_HEIGHT - 1, -1, -1):
            if size >> height & 1:
                index = (size >> height) - 1 - (self.first >> height)
                subtrees.append(self.batch[height][index])
        return _fold(subtrees)

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
            stops = self._stops(trusted)
            opened = self._open(stops)
            stops = [(*stop, outcome) for stop, outcome in zip(stops, opened, strict=True)]
            size = self._walk(state, stops, checked)
            self._escaped(size, pending)
        except Broken as broken:
            return Verification(
                False, state.size, checked[0], checked[1], pending, broken.reason, broken.index
            )
        return Verification(True, size, checked[0], checked[1], pending)

    def _walk(self, state, stops: list, checked: list) -> int:
        """Rebuild the tree; check each checkpoint and trusted checkpoint as it is reached."""
        rebuilt = _Rebuild()
        with cyclic_gc_paused(), self._cursor() as cursor:
            for first, hashes in self._leaf_hashes(cursor):
                if first != rebuilt.size:
                    raise Broken(f"leaf {rebuilt.size} is missing from the tree", rebuilt.size)
                self._compare_tiles(cursor, 0, first, hashes, whole_level=len(hashes) < BATCH)
                rebuilt.add(hashes)
                # The sizes before this batch's end (one at its end waits for the next
                # batch's leaves and tiles to be checked first, as a leaf-by-leaf walk would).
                while stops and stops[0][0] < rebuilt.size:
                    self._check_stop(stops.pop(0), rebuilt, checked)
            while stops and stops[0][0] <= rebuilt.size:
                self._check_stop(stops.pop(0), rebuilt, checked)
            if stops:
                size, what = stops[0][:2]
                raise Broken(
                    f"the log has {rebuilt.size} entries, but {what} covers {size}: entries "
                    "were removed",
                    rebuilt.size,
                )
            for level, hashes in enumerate(rebuilt.upper_levels(), start=1):
                self._compare_tiles(cursor, level, 0, hashes, whole_level=True)
        if state.size != rebuilt.size or state.root != rebuilt.root(rebuilt.size):
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

    def _open(self, stops: list) -> list:
        """Each stop's note opened: its checkpoint, or why it cannot be (a ``NoteError``),
        or ``None`` for a trusted checkpoint (already parsed)."""
        opened: list = []
        for _, _, item in stops:
            if isinstance(item, Trusted):
                opened.append(None)
                continue
            try:
                opened.append(Checkpoint.parse(open_note(item.note, [self._verifier]).text))
            except NoteError as error:
                opened.append(error)
        return opened

    def _check_stop(self, stop, rebuilt: _Rebuild, checked: list) -> None:
        size, what, item, checkpoint = stop
        root = rebuilt.root(size)
        if isinstance(item, Trusted):
            if item.checkpoint.root_hash != root:
                raise Broken(
                    f"{what} (size {size}) is not a state of this log: the entries before "
                    "it were changed, or another history was shown to its holder",
                    size,
                )
            checked[1] += 1
            return
        if isinstance(checkpoint, NoteSignatureError):
            raise Broken(f"{what} has no valid signature by the log's key", size)
        if isinstance(checkpoint, NoteError):
            raise Broken(f"{what} cannot be read", size)
        if (
            checkpoint.origin != self.key.origin
            or checkpoint.size != size
            or checkpoint.root_hash != bytes(item.root)
            or checkpoint.root_hash != root
        ):
            raise Broken(f"{what} does not match the tree its entries make", size)
        checked[0] += 1

    @contextmanager
    def _cursor(self) -> Iterator:
        """The driver's own cursor on the session's connection (its transaction), for
        millions of rows (binary on PostgreSQL: bytea comes back as bytes, not hex)."""
        connection = self.session.connection()
        driver = connection.connection.driver_connection
        postgresql = connection.dialect.name == "postgresql"
        cursor = driver.cursor(binary=True) if postgresql else driver.cursor()
        self._mark = "%s" if postgresql else "?"
        try:
            yield cursor
        finally:
            cursor.close()

    def _leaf_hashes(self, cursor) -> Iterator[tuple[int, list[bytes]]]:
        """The leaves in order, as (first index, their hashes), a batch at a time."""
        mark = self._mark
        walk = (
            "SELECT l.leaf_index, e.salt, e.canonical FROM ledger_leaves l "  # noqa: S608
            "LEFT JOIN audit_events e ON e.seq = l.seq "
            f"WHERE l.leaf_index >= {mark} AND l.leaf_index < {mark} ORDER BY l.leaf_index"
        )
        start_leaf = _LEAF_START.copy
        start = 0
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
            # Inline, not entry_leaf_hash(): a million calls cost a tenth of the walk.
            hashes: list[bytes] = []
            append = hashes.append
            try:
                for _, salt, canonical in rows:
                    leaf = start_leaf()
                    leaf.update(salt + canonical)
                    append(leaf.digest())
            except TypeError:  # a deleted event: its columns came back NULL
                index = next(row[0] for row in rows if row[2] is None)
                raise Broken(f"the event at leaf {index} was deleted", index) from None
            yield start, hashes
            start += len(rows)

    def _compare_tiles(self, cursor, level: int, first: int, hashes: list[bytes], whole_level):
        """The stored tiles of ``level`` hold exactly ``hashes`` from hash ``first`` on."""
        mark = self._mark
        query = (
            f"SELECT hashes FROM ledger_tiles WHERE level = {mark} "  # noqa: S608
            f"AND tile_index >= {mark}"
        )
        bounds = [level, first // TILE_WIDTH]
        if not whole_level:
            query += f" AND tile_index <= {mark}"
            bounds.append((first + max(len(hashes), 1) - 1) // TILE_WIDTH)  # the last tile
        # (whole_level: every stored tile from here on, so hashes past the end show too)
        cursor.execute(query + " ORDER BY tile_index", bounds)
        stored = b"".join([row[0] for row in cursor.fetchall()])
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
