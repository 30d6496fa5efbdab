"""The tree's hashes as C2SP tlog-tiles, stored in ``ledger_tiles``.

A tile holds up to 256 consecutive hashes of one level: level 0 the leaf hashes, level
``L`` the roots of the perfect subtrees of 256**L leaves. Only perfect subtrees are stored,
so every stored hash is final: a tile only grows, and a tile served as full (or as
``.p/<width>``) never changes. Every other hash of the tree (a root, a proof's nodes) is
computed from them (``tree.py``).
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import and_, or_, select
from sqlalchemy.dialects import postgresql, sqlite

from sayso.ledger.tree import (
    EMPTY_ROOT,
    HASH_SIZE,
    TILE_HEIGHT,
    TILE_WIDTH,
    perfect_root,
    subtree_hash,
)
from sayso.models import LedgerTile

_TILES = LedgerTile.__table__
_TILE_BYTES = TILE_WIDTH * HASH_SIZE
_UPSERT = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}


class MissingHash(LookupError):
    """A hash the tree should have is not in its tiles (deleted, or never integrated)."""


class TileStore:
    """Reads and extends the stored tiles, through a cache: a ``tree.NodeSource``.

    One store serves one transaction (the sequencer's, a proof's, a verification's): it
    caches what it read, and what it wrote, until it is dropped.
    """

    def __init__(self, session):
        self.session = session
        self._tiles: dict[tuple[int, int], bytes] = {}

    def tile(self, level: int, index: int) -> bytes:
        """The stored hashes of tile ``index`` of ``level`` (empty if none)."""
        key = (level, index)
        if key not in self._tiles:
            self._tiles[key] = (
                self.session.scalar(
                    select(_TILES.c.hashes).where(
                        _TILES.c.level == level, _TILES.c.tile_index == index
                    )
                )
                or b""
            )
        return self._tiles[key]

    def prefetch(self, keys: Sequence[tuple[int, int]]) -> None:
        """Read these tiles in one query (a proof needs a few, a root one per level)."""
        wanted = [key for key in set(keys) if key not in self._tiles]
        if not wanted:
            return
        rows = self.session.execute(
            select(_TILES.c.level, _TILES.c.tile_index, _TILES.c.hashes).where(
                or_(*(and_(_TILES.c.level == lv, _TILES.c.tile_index == ix) for lv, ix in wanted))
            )
        ).all()
        for key in wanted:
            self._tiles[key] = b""
        for level, index, hashes in rows:
            self._tiles[(level, index)] = bytes(hashes)

    def hash_at(self, level: int, index: int) -> bytes:
        """Hash ``index`` of tile level ``level``."""
        tile = self.tile(level, index // TILE_WIDTH)
        offset = (index % TILE_WIDTH) * HASH_SIZE
        if len(tile) < offset + HASH_SIZE:
            raise MissingHash(f"hash {index} of tile level {level} is missing")
        return tile[offset : offset + HASH_SIZE]

    def node(self, height: int, index: int) -> bytes:
        """The root of the perfect subtree of ``2**height`` leaves, number ``index``."""
        level, rest = divmod(height, TILE_HEIGHT)
        if rest == 0:
            return self.hash_at(level, index)
        width = 1 << rest
        return perfect_root([self.hash_at(level, index * width + k) for k in range(width)])

    def root(self, size: int) -> bytes:
        """The tree's root at ``size`` leaves (RFC 9162 MTH)."""
        return subtree_hash(self, 0, size) if size else EMPTY_ROOT

    def append(self, size: int, leaf_hashes: Sequence[bytes]) -> None:
        """Add ``leaf_hashes`` as leaves ``size``, ``size + 1``, ... and every tile hash
        they complete, level by level, in the caller's transaction."""
        level, count, new = 0, size, list(leaf_hashes)
        while new:
            first = count // TILE_WIDTH
            held = self.tile(level, first)
            if len(held) != (count % TILE_WIDTH) * HASH_SIZE:
                raise MissingHash(f"tile {first} of level {level} does not end at hash {count}")
            run = held + b"".join(new)
            completed = []
            for offset in range(0, len(run), _TILE_BYTES):
                hashes = run[offset : offset + _TILE_BYTES]
                self._write(level, first + offset // _TILE_BYTES, hashes)
                if len(hashes) == _TILE_BYTES:
                    completed.append(perfect_root(_split(hashes)))
            level, count, new = level + 1, count // TILE_WIDTH, completed

    def _write(self, level: int, index: int, hashes: bytes) -> None:
        self._tiles[(level, index)] = hashes
        statement = _UPSERT[self.session.get_bind().dialect.name](_TILES).values(
            level=level, tile_index=index, hashes=hashes
        )
        self.session.execute(
            statement.on_conflict_do_update(
                index_elements=[_TILES.c.level, _TILES.c.tile_index],
                set_={"hashes": statement.excluded.hashes},
            )
        )


def _split(hashes: bytes) -> list[bytes]:
    return [hashes[i : i + HASH_SIZE] for i in range(0, len(hashes), HASH_SIZE)]


def split_hashes(hashes: bytes) -> list[bytes]:
    """A tile's bytes as its list of 32-byte hashes."""
    return _split(hashes)
