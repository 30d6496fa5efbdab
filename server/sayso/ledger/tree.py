"""Merkle tree math of RFC 9162 §2.1 (the hashing of certificate transparency), and the tile
layout of C2SP tlog-tiles. Pure functions: no database, no I/O.

Trees here are made of *perfect subtrees*: the subtree of height h at index i holds the
2**h leaves starting at leaf i * 2**h. Those are the only nodes a log ever stores (in tiles),
and every proof below is built from them alone, through a ``NodeSource``.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Sequence
from typing import NamedTuple, Protocol

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()

TILE_HEIGHT = 8
TILE_WIDTH = 1 << TILE_HEIGHT
ENTRIES_LEVEL = -1  # the level a TilePath has for an entry bundle (tile/entries/...)
MAX_TILE_LEVEL = 63

_sha256 = hashlib.sha256


def leaf_hash(entry: bytes) -> bytes:
    """The hash of a leaf: SHA-256(0x00 || entry) (RFC 9162 §2.1.1)."""
    return _sha256(b"\x00" + entry).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """The hash of an interior node: SHA-256(0x01 || left || right) (RFC 9162 §2.1.1)."""
    return _sha256(b"\x01" + left + right).digest()


class NodeSource(Protocol):
    """Where proofs read the tree from: the hashes of perfect subtrees."""

    def node(self, height: int, index: int) -> bytes:
        """The hash of the perfect subtree of 2**height leaves starting at leaf
        index * 2**height (height 0: a leaf hash)."""
        ...


def _largest_power_of_two_below(n: int) -> int:
    # RFC 9162's k: the largest power of two smaller than n (n > 1).
    return 1 << ((n - 1).bit_length() - 1)


def subtree_hash(source: NodeSource, start: int, end: int) -> bytes:
    """MTH(D[start:end]) (RFC 9162 §2.1.1) from the perfect subtrees ``source`` gives."""
    if not 0 <= start < end:
        raise ValueError(f"not a non-empty range of leaves: [{start}, {end})")
    n = end - start
    if n & (n - 1) == 0 and start % n == 0:
        # A perfect, aligned subtree: the one case a NodeSource answers directly.
        height = n.bit_length() - 1
        return source.node(height, start >> height)
    k = _largest_power_of_two_below(n)
    return node_hash(subtree_hash(source, start, start + k), subtree_hash(source, start + k, end))


#: SHA-256 already fed an interior node's 0x01: a copy of it, fed both children, costs less
#: than a new hash object over a three-part concatenation (a walk hashes millions).
_NODE_START = _sha256(b"\x01")


def node_level(hashes: Sequence[bytes]) -> list[bytes]:
    """The level above ``hashes``: the node hash of each pair, left to right (an odd last
    hash has no parent yet). The loop every walk over millions of leaves spends its interior
    hashing in (``sayso audit verify``, the sequencer)."""
    start = _NODE_START.copy
    parents: list[bytes] = []
    append = parents.append
    pairs = iter(hashes)
    for left, right in zip(pairs, pairs, strict=False):
        node = start()
        node.update(left)
        node.update(right)
        append(node.digest())
    return parents


def perfect_root(hashes: Sequence[bytes]) -> bytes:
    """The root of a perfect subtree over ``hashes`` (a power of two of them, 32 bytes
    each, unchecked): a full tile's, level by level."""
    level = hashes
    while len(level) > 1:
        level = node_level(level)
    return level[0]


def root_of(leaf_hashes: Sequence[bytes]) -> bytes:
    """MTH of a whole tree given its leaf hashes (EMPTY_ROOT for none)."""
    frontier = Frontier()
    frontier.extend(leaf_hashes)
    return frontier.root()


def inclusion_proof(source: NodeSource, index: int, size: int) -> list[bytes]:
    """PATH(index, D[0:size]) of RFC 9162 §2.1.3.1, leaf-side first."""
    if not 0 <= index < size:
        raise ValueError(f"leaf {index} is not in a tree of {size} leaves")
    return _path(source, index, 0, size)


def _path(source: NodeSource, m: int, start: int, end: int) -> list[bytes]:
    n = end - start
    if n == 1:
        return []
    k = _largest_power_of_two_below(n)
    if m < k:
        return [*_path(source, m, start, start + k), subtree_hash(source, start + k, end)]
    return [*_path(source, m - k, start + k, end), subtree_hash(source, start, start + k)]


def consistency_proof(source: NodeSource, old_size: int, new_size: int) -> list[bytes]:
    """PROOF(old_size, D[0:new_size]) of RFC 9162 §2.1.4.1; empty when old_size is 0 or
    equals new_size (nothing to prove)."""
    if not 0 <= old_size <= new_size:
        raise ValueError(f"no consistency proof from size {old_size} to size {new_size}")
    if old_size in (0, new_size):
        return []
    return _subproof(source, old_size, 0, new_size, True)


def _subproof(source: NodeSource, m: int, start: int, end: int, whole: bool) -> list[bytes]:
    n = end - start
    if m == n:
        # The old tree is this whole subtree: the verifier knows its hash already only if
        # it is the old root itself (whole), otherwise it must be given.
        return [] if whole else [subtree_hash(source, start, end)]
    k = _largest_power_of_two_below(n)
    if m <= k:
        return [
            *_subproof(source, m, start, start + k, whole),
            subtree_hash(source, start + k, end),
        ]
    return [
        *_subproof(source, m - k, start + k, end, False),
        subtree_hash(source, start, start + k),
    ]


def _is_hash(value: object) -> bool:
    return isinstance(value, bytes | bytearray) and len(value) == HASH_SIZE


def _is_size(value: object) -> bool:
    # bool is an int subclass; a True index is a caller's bug, not leaf 1.
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def verify_inclusion(
    leaf_hash: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes
) -> bool:
    """Whether ``proof`` shows leaf ``index`` with ``leaf_hash`` in the tree of ``size``
    leaves with ``root`` (RFC 9162 §2.1.3.2). Never raises."""
    try:
        if not (_is_size(index) and _is_size(size) and index < size):
            return False
        if not (_is_hash(leaf_hash) and _is_hash(root) and all(_is_hash(p) for p in proof)):
            return False
        fn, sn, r = index, size - 1, bytes(leaf_hash)
        for p in proof:
            if sn == 0:
                return False
            if fn & 1 or fn == sn:
                r = node_hash(bytes(p), r)
                if not fn & 1:
                    while not fn & 1 and fn != 0:
                        fn >>= 1
                        sn >>= 1
            else:
                r = node_hash(r, bytes(p))
            fn >>= 1
            sn >>= 1
        return sn == 0 and r == root
    except TypeError:
        return False


def verify_consistency(
    old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]
) -> bool:
    """Whether ``proof`` shows the tree (new_size, new_root) extends (old_size, old_root)
    (RFC 9162 §2.1.4.2). Equal sizes need equal roots and no proof; an old size of 0 needs
    the empty tree's root and no proof. Never raises."""
    try:
        if not (_is_size(old_size) and _is_size(new_size) and old_size <= new_size):
            return False
        if not (_is_hash(old_root) and _is_hash(new_root) and all(_is_hash(p) for p in proof)):
            return False
        proof = [bytes(p) for p in proof]
        if old_size == 0:
            # The empty tree is a prefix of every tree: nothing to prove, but its root is fixed.
            return not proof and old_root == EMPTY_ROOT and (new_size > 0 or new_root == EMPTY_ROOT)
        if old_size == new_size:
            return not proof and old_root == new_root
        if not proof:
            return False
        if old_size & (old_size - 1) == 0:
            proof = [bytes(old_root), *proof]
        fn, sn = old_size - 1, new_size - 1
        while fn & 1:
            fn >>= 1
            sn >>= 1
        fr = sr = proof[0]
        for c in proof[1:]:
            if sn == 0:
                return False
            if fn & 1 or fn == sn:
                fr = node_hash(c, fr)
                sr = node_hash(c, sr)
                if not fn & 1:
                    while not fn & 1 and fn != 0:
                        fn >>= 1
                        sn >>= 1
            else:
                sr = node_hash(sr, c)
            fn >>= 1
            sn >>= 1
        return sn == 0 and fr == old_root and sr == new_root
    except TypeError:
        return False


class Frontier:
    """The right edge of a tree: the roots of its perfect subtrees, largest (leftmost) first,
    one per bit set in its size. Enough to append leaves and compute the root."""

    __slots__ = ("_hashes", "_size")

    def __init__(self) -> None:
        self._size = 0
        self._hashes: list[bytes] = []

    @classmethod
    def from_state(cls, size: int, hashes: Sequence[bytes]) -> Frontier:
        """A frontier resumed from a saved ``size`` and ``hashes`` (as ``hashes`` gave them)."""
        if not _is_size(size):
            raise ValueError(f"not a tree size: {size!r}")
        if len(hashes) != size.bit_count():
            raise ValueError(f"a tree of {size} leaves has {size.bit_count()} frontier hashes")
        if not all(_is_hash(h) for h in hashes):
            raise ValueError("frontier hashes must be 32 bytes each")
        frontier = cls()
        frontier._size = size
        frontier._hashes = [bytes(h) for h in hashes]
        return frontier

    @property
    def size(self) -> int:
        """How many leaves the tree has."""
        return self._size

    @property
    def hashes(self) -> tuple[bytes, ...]:
        """The perfect-subtree roots, largest first: what ``from_state`` takes back."""
        return tuple(self._hashes)

    def append(self, leaf_hash: bytes) -> None:
        """Add one leaf (its hash) at the right edge."""
        if not _is_hash(leaf_hash):
            raise ValueError("a leaf hash is 32 bytes")
        node, carry = bytes(leaf_hash), self._size
        # Each set low bit of the old size is a subtree of the new node's height: merge it.
        while carry & 1:
            node = node_hash(self._hashes.pop(), node)
            carry >>= 1
        self._hashes.append(node)
        self._size += 1

    def extend(self, leaf_hashes: Iterable[bytes]) -> None:
        """Add many leaves at once, hashing whole levels at a time."""
        level = list(leaf_hashes)
        if not level:
            return
        if set(map(len, level)) != {HASH_SIZE}:
            raise ValueError("a leaf hash is 32 bytes")
        old_size, new_size = self._size, self._size + len(level)
        # Frontier hashes by height: bit h of the old size holds one subtree of height h.
        old = {}
        for height in range(old_size.bit_length() - 1, -1, -1):
            if old_size >> height & 1:
                old[height] = self._hashes[len(old)]
        kept: list[bytes] = []
        height = 0
        sha256 = _sha256
        while level or old:
            if height in old:
                # The old subtree of this height sits just left of the new nodes: it pairs
                # with the first of them.
                level.insert(0, old.pop(height))
            if len(level) & 1:
                kept.append(bytes(level.pop()))
            pairs = iter(level)
            level = [sha256(b"\x01" + a + b).digest() for a, b in zip(pairs, pairs, strict=False)]
            height += 1
        kept.reverse()
        self._hashes = kept
        self._size = new_size

    def root(self) -> bytes:
        """The tree's root hash, MTH(D[0:size])."""
        if not self._hashes:
            return EMPTY_ROOT
        node = self._hashes[-1]
        for left in reversed(self._hashes[:-1]):
            node = node_hash(left, node)
        return node


class TilePath(NamedTuple):
    """Where a tile lives: its level (ENTRIES_LEVEL for an entry bundle), its index within
    the level, and its width (TILE_WIDTH when full)."""

    level: int
    index: int
    width: int


def _encode_index(index: int) -> str:
    # tlog-tiles: zero-padded 3-digit path elements, all but the last prefixed with "x".
    groups = []
    while True:
        groups.append(f"{index % 1000:03d}")
        index //= 1000
        if index == 0:
            break
    groups.reverse()
    return "/".join([*("x" + g for g in groups[:-1]), groups[-1]])


def _check_tile(level: int, index: int, width: int) -> None:
    if not (level == ENTRIES_LEVEL or (_is_size(level) and level <= MAX_TILE_LEVEL)):
        raise ValueError(f"tile level {level!r} is not between 0 and {MAX_TILE_LEVEL}")
    if not _is_size(index):
        raise ValueError(f"tile index {index!r} is not a non-negative integer")
    if not (_is_size(width) and 1 <= width <= TILE_WIDTH):
        raise ValueError(f"tile width {width!r} is not between 1 and {TILE_WIDTH}")


def tile_path(level: int, index: int, width: int = TILE_WIDTH) -> str:
    """The tlog-tiles path of a hash tile, ``tile/<L>/<N>[.p/<W>]``; level ENTRIES_LEVEL
    gives the entry bundle's ``tile/entries/<N>[.p/<W>]``."""
    _check_tile(level, index, width)
    name = "entries" if level == ENTRIES_LEVEL else str(level)
    partial = "" if width == TILE_WIDTH else f".p/{width}"
    return f"tile/{name}/{_encode_index(index)}{partial}"


def entries_path(index: int, width: int = TILE_WIDTH) -> str:
    """The tlog-tiles path of an entry bundle, ``tile/entries/<N>[.p/<W>]``."""
    return tile_path(ENTRIES_LEVEL, index, width)


_TILE_PATH = re.compile(
    r"tile/(?P<level>entries|0|[1-9][0-9]?)/(?P<index>(?:x[0-9]{3}/)*[0-9]{3})"
    r"(?:\.p/(?P<width>[1-9][0-9]{0,2}))?"
)


def parse_tile_path(path: str) -> TilePath:
    """The tile a canonical tlog-tiles path names; ValueError for any other string."""
    match = _TILE_PATH.fullmatch(path) if isinstance(path, str) else None
    if match is None:
        raise ValueError(f"not a tile path: {path!r}")
    level = ENTRIES_LEVEL if match["level"] == "entries" else int(match["level"])
    index = int(match["index"].replace("x", "").replace("/", ""))
    width = int(match["width"]) if match["width"] else TILE_WIDTH
    # tile_path refuses a level above 63 or a width above 256; a ".p/256" is caught below.
    if tile_path(level, index, width) != path:
        # x000/123 names tile 123 too, but only one spelling is canonical (and cacheable).
        raise ValueError(f"not a canonical tile path: {path!r}")
    return TilePath(level, index, width)


def tile_width(level: int, index: int, size: int) -> int:
    """How many hashes tile ``index`` at ``level`` holds in a tree of ``size`` leaves:
    TILE_WIDTH when full, 0 when it does not exist yet (ENTRIES_LEVEL counts like level 0)."""
    _check_tile(level, index, TILE_WIDTH)
    if not _is_size(size):
        raise ValueError(f"not a tree size: {size!r}")
    nodes = size >> (TILE_HEIGHT * max(level, 0))  # hashes of this level's height
    return max(0, min(TILE_WIDTH, nodes - index * TILE_WIDTH))
