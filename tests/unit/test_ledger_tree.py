"""RFC 9162 Merkle tree math and tlog-tiles paths (sayso.ledger.tree).

Proofs are checked against a reference written here from RFC 9162's recursive definitions
(MTH, PATH, PROOF/SUBPROOF, §2.1.1-§2.1.4.1), and against the published RFC 6962 test vectors
that certificate-transparency implementations share; tree.py's bit-twiddling verifiers are
then checked against both.
"""

from __future__ import annotations

import hashlib
import random

import pytest

from sayso.ledger.tree import (
    EMPTY_ROOT,
    ENTRIES_LEVEL,
    TILE_WIDTH,
    Frontier,
    TilePath,
    consistency_proof,
    entries_path,
    inclusion_proof,
    leaf_hash,
    node_hash,
    parse_tile_path,
    root_of,
    subtree_hash,
    tile_path,
    tile_width,
    verify_consistency,
    verify_inclusion,
)

# --- the reference: RFC 9162 §2.1 written as recursion over a list of leaf hashes -------------


def _sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def _k(n: int) -> int:
    """The largest power of two smaller than n."""
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def ref_mth(leaves: list[bytes]) -> bytes:
    if not leaves:
        return _sha256(b"")
    if len(leaves) == 1:
        return leaves[0]
    k = _k(len(leaves))
    return _sha256(b"\x01" + ref_mth(leaves[:k]) + ref_mth(leaves[k:]))


def ref_path(m: int, leaves: list[bytes]) -> list[bytes]:
    if len(leaves) == 1:
        return []
    k = _k(len(leaves))
    if m < k:
        return [*ref_path(m, leaves[:k]), ref_mth(leaves[k:])]
    return [*ref_path(m - k, leaves[k:]), ref_mth(leaves[:k])]


def ref_subproof(m: int, leaves: list[bytes], whole: bool) -> list[bytes]:
    n = len(leaves)
    if m == n:
        return [] if whole else [ref_mth(leaves)]
    k = _k(n)
    if m <= k:
        return [*ref_subproof(m, leaves[:k], whole), ref_mth(leaves[k:])]
    return [*ref_subproof(m - k, leaves[k:], False), ref_mth(leaves[:k])]


def ref_proof(m: int, leaves: list[bytes]) -> list[bytes]:
    return ref_subproof(m, leaves, True)


def _h(left: bytes, right: bytes) -> bytes:
    return _sha256(b"\x01" + left + right)


def ref_root_from_path(m: int, n: int, leaf: bytes, proof: list[bytes]) -> bytes | None:
    """Undo PATH: the root the proof leads to, or None when its shape cannot be PATH(m, n)."""
    if n == 1:
        return leaf if not proof else None
    if not proof:
        return None
    *rest, sibling = proof
    k = _k(n)
    if m < k:
        left = ref_root_from_path(m, k, leaf, rest)
        return None if left is None else _h(left, sibling)
    right = ref_root_from_path(m - k, n - k, leaf, rest)
    return None if right is None else _h(sibling, right)


def ref_verify_inclusion(leaf, index, size, proof, root) -> bool:
    if not 0 <= index < size:
        return False
    return ref_root_from_path(index, size, leaf, list(proof)) == root


def ref_roots_from_subproof(m, n, proof, whole, old_root):
    """Undo SUBPROOF: (hash of the old tree's part, hash of the new tree's part), or None."""
    if m == n:
        if whole:
            return (old_root, old_root) if not proof else None
        return (proof[0], proof[0]) if len(proof) == 1 else None
    if not proof:
        return None
    *rest, other = proof
    k = _k(n)
    if m <= k:
        inner = ref_roots_from_subproof(m, k, rest, whole, old_root)
        return None if inner is None else (inner[0], _h(inner[1], other))
    inner = ref_roots_from_subproof(m - k, n - k, rest, False, old_root)
    return None if inner is None else (_h(other, inner[0]), _h(other, inner[1]))


def ref_verify_consistency(old_size, new_size, old_root, new_root, proof) -> bool:
    if not 0 < old_size < new_size:
        return False
    roots = ref_roots_from_subproof(old_size, new_size, list(proof), True, old_root)
    return roots == (old_root, new_root)


# --- a NodeSource over an in-memory tree, refusing any node the tree does not have yet --------


class MemoryTree:
    """Leaf hashes in memory, answering node(height, index) for complete subtrees only."""

    def __init__(self, leaves: list[bytes]):
        self.leaves = leaves
        self.levels = [list(leaves)]
        while len(self.levels[-1]) > 1:
            below = self.levels[-1]
            self.levels.append([_h(below[i], below[i + 1]) for i in range(0, len(below) - 1, 2)])
        self.asked: list[tuple[int, int]] = []

    def node(self, height: int, index: int) -> bytes:
        if (index + 1) << height > len(self.leaves):
            raise AssertionError(f"asked for node ({height}, {index}) beyond {len(self.leaves)}")
        self.asked.append((height, index))
        return self.levels[height][index]


def _leaves(n: int, seed: int = 0) -> list[bytes]:
    return [leaf_hash(f"entry {seed} {i}".encode()) for i in range(n)]


SMALL = 40
SMALL_TREE = MemoryTree(_leaves(SMALL))


# --- published vectors (RFC 6962 test data shared by CT implementations) ----------------------

CT_LEAVES = [
    bytes.fromhex(x)
    for x in [
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    ]
]
CT_ROOTS = [
    bytes.fromhex(x)
    for x in [
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
        "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
        "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
        "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
    ]
]
# (leaf index, tree size, proof)
CT_INCLUSION = [
    (
        0,
        8,
        [
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        5,
        8,
        [
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (2, 3, ["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"]),
    (
        1,
        5,
        [
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
]
# (old size, new size, proof)
CT_CONSISTENCY = [
    (1, 1, []),
    (
        1,
        8,
        [
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        6,
        8,
        [
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (
        2,
        5,
        [
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
]
CT_TREE = MemoryTree([leaf_hash(x) for x in CT_LEAVES])


def test_hashes_are_the_rfc_ones():
    assert CT_ROOTS[0] == EMPTY_ROOT
    assert leaf_hash(b"") == CT_ROOTS[1]
    assert node_hash(b"a" * 32, b"b" * 32) == _sha256(b"\x01" + b"a" * 32 + b"b" * 32)


@pytest.mark.parametrize("size", range(9))
def test_roots_match_published_vectors(size):
    leaves = [leaf_hash(x) for x in CT_LEAVES[:size]]
    assert root_of(leaves) == CT_ROOTS[size] == ref_mth(leaves)


@pytest.mark.parametrize(("index", "size", "proof"), CT_INCLUSION)
def test_inclusion_proofs_match_published_vectors(index, size, proof):
    proof = [bytes.fromhex(p) for p in proof]
    assert inclusion_proof(CT_TREE, index, size) == proof
    leaf = leaf_hash(CT_LEAVES[index])
    assert verify_inclusion(leaf, index, size, proof, CT_ROOTS[size])
    assert ref_verify_inclusion(leaf, index, size, proof, CT_ROOTS[size])


@pytest.mark.parametrize(("old", "new", "proof"), CT_CONSISTENCY)
def test_consistency_proofs_match_published_vectors(old, new, proof):
    proof = [bytes.fromhex(p) for p in proof]
    assert consistency_proof(CT_TREE, old, new) == proof
    assert verify_consistency(old, new, CT_ROOTS[old], CT_ROOTS[new], proof)


# --- every small tree, and random larger ones --------------------------------------------------


def test_inclusion_proofs_for_every_small_tree():
    for size in range(1, SMALL + 1):
        leaves = SMALL_TREE.leaves[:size]
        root = ref_mth(leaves)
        for index in range(size):
            proof = inclusion_proof(SMALL_TREE, index, size)
            assert proof == ref_path(index, leaves), (index, size)
            assert ref_verify_inclusion(leaves[index], index, size, proof, root), (index, size)
            assert verify_inclusion(leaves[index], index, size, proof, root), (index, size)


def test_consistency_proofs_for_every_small_pair():
    roots = [ref_mth(SMALL_TREE.leaves[:n]) for n in range(SMALL + 1)]
    for new in range(1, SMALL + 1):
        leaves = SMALL_TREE.leaves[:new]
        for old in range(1, new + 1):
            proof = consistency_proof(SMALL_TREE, old, new)
            assert proof == ref_proof(old, leaves), (old, new)
            if old < new:
                assert ref_verify_consistency(old, new, roots[old], roots[new], proof)
            assert verify_consistency(old, new, roots[old], roots[new], proof), (old, new)


def test_random_larger_trees():
    rng = random.Random(9162)
    tree = MemoryTree(_leaves(3000, seed=1))
    for _ in range(40):
        size = rng.randrange(1, len(tree.leaves) + 1)
        leaves = tree.leaves[:size]
        root = ref_mth(leaves)
        index = rng.randrange(size)
        proof = inclusion_proof(tree, index, size)
        assert proof == ref_path(index, leaves)
        assert ref_verify_inclusion(leaves[index], index, size, proof, root)
        assert verify_inclusion(leaves[index], index, size, proof, root)

        old = rng.randrange(1, size + 1)
        proof = consistency_proof(tree, old, size)
        old_root = ref_mth(leaves[:old])
        assert proof == ref_proof(old, leaves)
        assert verify_consistency(old, size, old_root, root, proof)
        if old < size:
            assert ref_verify_consistency(old, size, old_root, root, proof)


def test_proofs_ask_only_for_complete_subtrees_and_few_of_them():
    tree = MemoryTree(_leaves(1000, seed=2))
    inclusion_proof(tree, 517, 1000)
    consistency_proof(tree, 333, 1000)
    # MemoryTree.node refuses incomplete subtrees; a proof needs O(log² n) nodes at most.
    assert 0 < len(tree.asked) <= 10 * 10 * 2


def test_subtree_hash_of_any_range():
    leaves = SMALL_TREE.leaves
    for start in range(SMALL):
        for end in range(start + 1, SMALL + 1):
            assert subtree_hash(SMALL_TREE, start, end) == ref_mth(leaves[start:end])
    for start, end in [(0, 0), (5, 3), (-1, 2)]:
        with pytest.raises(ValueError):
            subtree_hash(SMALL_TREE, start, end)


def test_trivial_proofs():
    root = ref_mth(SMALL_TREE.leaves[:7])
    assert consistency_proof(SMALL_TREE, 0, 7) == []
    assert consistency_proof(SMALL_TREE, 7, 7) == []
    assert inclusion_proof(SMALL_TREE, 0, 1) == []
    assert verify_consistency(0, 7, EMPTY_ROOT, root, [])
    assert verify_consistency(0, 0, EMPTY_ROOT, EMPTY_ROOT, [])
    assert verify_consistency(7, 7, root, root, [])
    assert verify_inclusion(SMALL_TREE.leaves[0], 0, 1, [], SMALL_TREE.leaves[0])


@pytest.mark.parametrize(
    ("index", "size"), [(0, 0), (3, 3), (-1, 4), (4, 3)], ids=["empty", "end", "neg", "past"]
)
def test_impossible_inclusion_proofs_raise(index, size):
    with pytest.raises(ValueError):
        inclusion_proof(SMALL_TREE, index, size)


@pytest.mark.parametrize(("old", "new"), [(5, 4), (-1, 3), (1, 0)])
def test_impossible_consistency_proofs_raise(old, new):
    with pytest.raises(ValueError):
        consistency_proof(SMALL_TREE, old, new)


# --- tampering ---------------------------------------------------------------------------------


def _flip(proof: list[bytes], i: int, bit: int = 3) -> list[bytes]:
    tampered = list(proof)
    tampered[i] = bytes([tampered[i][0] ^ (1 << bit)]) + tampered[i][1:]
    return tampered


def _inclusion_probes(leaf, index, size, proof, root):
    # Not size ± 1: index 0 of 3 leaves and index 0 of 4 have proofs of the same shape, so
    # a proof alone does not pin the size; the signed checkpoint that carries the root does.
    some = _sha256(b"some other hash")
    probes = [
        (leaf, index - 1, size, proof, root),
        (leaf, index + 1, size, proof, root),
        (leaf, index ^ 2, size, proof, root),
        (leaf, index, size * 2, proof, root),
        (leaf, index, size // 2, proof, root),
        (some, index, size, proof, root),
        (leaf, index, size, proof, EMPTY_ROOT),
        (leaf, index, size, proof, some),
        (leaf, index, size, [*proof, root], root),
        (leaf, index, size, [root, *proof], root),
        (leaf, index, size, [*proof, some], root),
    ]
    probes += [(leaf, index, size, _flip(proof, i), root) for i in range(len(proof))]
    if proof:
        probes.append((leaf, index, size, proof[:-1], root))
    if len(proof) > 1:
        probes.append((leaf, index, size, [proof[0], some, *proof[1:]], root))
    return probes


def _consistency_probes(old, new, old_root, new_root, proof):
    some = _sha256(b"some other hash")
    probes = [
        (old - 1, new, old_root, new_root, proof),
        (old + 1, new, old_root, new_root, proof),
        (old ^ 2, new, old_root, new_root, proof),
        (old, new * 2, old_root, new_root, proof),
        (old, new // 2, old_root, new_root, proof),
        (old, new, some, new_root, proof),
        (old, new, old_root, some, proof),
        (old, new, new_root, old_root, proof),
        (old, new, old_root, new_root, []),
        (old, new, old_root, new_root, [*proof, old_root]),
        (old, new, old_root, new_root, [*proof, new_root]),
        (old, new, old_root, new_root, [old_root, *proof]),
        (old, new, old_root, new_root, [new_root, *proof]),
        (old, new, old_root, new_root, [proof[0], *proof]),
        (old, new, old_root, new_root, proof[:-1]),
    ]
    probes += [(old, new, old_root, new_root, _flip(proof, i, 4)) for i in range(len(proof))]
    return probes


def test_tampered_inclusion_proofs_are_rejected():
    for size in range(1, SMALL + 1):
        leaves = SMALL_TREE.leaves[:size]
        root = ref_mth(leaves)
        for index in range(size):
            proof = inclusion_proof(SMALL_TREE, index, size)
            for probe in _inclusion_probes(leaves[index], index, size, proof, root):
                assert not verify_inclusion(*probe), (index, size, probe)
                assert not ref_verify_inclusion(*probe), (index, size, probe)


def test_tampered_consistency_proofs_are_rejected():
    roots = [ref_mth(SMALL_TREE.leaves[:n]) for n in range(SMALL + 1)]
    for new in range(2, SMALL + 1):
        for old in range(1, new):
            proof = consistency_proof(SMALL_TREE, old, new)
            for probe in _consistency_probes(old, new, roots[old], roots[new], proof):
                assert not verify_consistency(*probe), (old, new, probe)
                assert not ref_verify_consistency(*probe), (old, new, probe)


def test_a_fork_does_not_verify():
    honest = _leaves(20, seed=3)
    forked = [*honest[:9], leaf_hash(b"rewritten"), *honest[10:]]
    proof = consistency_proof(MemoryTree(forked), 12, 20)
    assert not verify_consistency(12, 20, ref_mth(honest[:12]), ref_mth(forked), proof)
    assert verify_consistency(12, 20, ref_mth(forked[:12]), ref_mth(forked), proof)


def test_equal_and_empty_sizes():
    root = ref_mth(SMALL_TREE.leaves[:5])
    assert not verify_consistency(5, 5, root, EMPTY_ROOT, [])
    assert not verify_consistency(5, 5, root, root, [root])
    assert not verify_consistency(0, 5, root, root, [])  # size 0 has one root only
    assert not verify_consistency(0, 5, EMPTY_ROOT, root, [root])
    assert not verify_consistency(0, 0, EMPTY_ROOT, root, [])
    assert not verify_consistency(6, 5, root, root, [])


GOOD = _sha256(b"good")


@pytest.mark.parametrize(
    "args",
    [
        (None, 0, 1, [], GOOD),
        (GOOD, 0, 1, [], None),
        (GOOD[:31], 0, 1, [], GOOD[:31]),
        (GOOD, "0", 1, [], GOOD),
        (GOOD, 0, 1.0, [], GOOD),
        (GOOD, True, 2, [GOOD], GOOD),
        (GOOD, 0, 2, None, GOOD),
        (GOOD, 0, 2, 5, GOOD),
        (GOOD, 0, 2, [None], GOOD),
        (GOOD, 0, 2, [GOOD + b"x"], GOOD),
        (GOOD, 0, 2, ["x" * 32], GOOD),
        (GOOD, 0, 2, "x" * 32, GOOD),
        (GOOD, 2**64, 2**65, [GOOD], GOOD),
        (GOOD, 0, -1, [], GOOD),
    ],
)
def test_verify_inclusion_never_raises_on_malformed_input(args):
    assert verify_inclusion(*args) is False


@pytest.mark.parametrize(
    "args",
    [
        (1, 2, None, GOOD, [GOOD]),
        (1, 2, GOOD, GOOD[:5], [GOOD]),
        ("1", 2, GOOD, GOOD, [GOOD]),
        (1, None, GOOD, GOOD, [GOOD]),
        (1, 2, GOOD, GOOD, None),
        (1, 2, GOOD, GOOD, 7),
        (1, 2, GOOD, GOOD, [b""]),
        (1, 2, GOOD, GOOD, [1, 2]),
        (-1, 2, GOOD, GOOD, [GOOD]),
        (2**70, 2**71, GOOD, GOOD, [GOOD] * 3),
        (False, 0, EMPTY_ROOT, EMPTY_ROOT, []),
    ],
)
def test_verify_consistency_never_raises_on_malformed_input(args):
    assert verify_consistency(*args) is False


# --- Frontier ----------------------------------------------------------------------------------


def test_frontier_matches_the_reference_root_at_every_size():
    frontier = Frontier()
    assert frontier.size == 0 and frontier.root() == EMPTY_ROOT and frontier.hashes == ()
    for size, leaf in enumerate(SMALL_TREE.leaves, start=1):
        frontier.append(leaf)
        assert frontier.size == size
        assert len(frontier.hashes) == size.bit_count()
        assert frontier.root() == ref_mth(SMALL_TREE.leaves[:size])


def test_frontier_extend_in_random_chunks_equals_append():
    rng = random.Random(6962)
    leaves = _leaves(2500, seed=4)
    one_by_one = Frontier()
    for leaf in leaves:
        one_by_one.append(leaf)
    for _ in range(30):
        chunked, at = Frontier(), 0
        while at < len(leaves):
            step = rng.choice([0, 1, 2, 3, 7, 64, 255, 256, 257, 1000])
            chunked.extend(leaves[at : at + step])
            at += step
        assert chunked.size == len(leaves)
        assert chunked.hashes == one_by_one.hashes
        assert chunked.root() == one_by_one.root() == root_of(leaves) == ref_mth(leaves)


def test_frontier_resumes_from_saved_state():
    leaves = _leaves(777, seed=5)
    first = Frontier()
    first.extend(leaves[:500])
    resumed = Frontier.from_state(first.size, first.hashes)
    resumed.extend(leaves[500:])
    assert resumed.root() == ref_mth(leaves)
    assert Frontier.from_state(0, []).root() == EMPTY_ROOT


@pytest.mark.parametrize(
    ("size", "hashes"),
    [(3, [GOOD]), (1, [GOOD, GOOD]), (-1, []), (1, [b"short"]), (1, ["x" * 32]), (True, [GOOD])],
)
def test_frontier_refuses_an_impossible_state(size, hashes):
    with pytest.raises(ValueError):
        Frontier.from_state(size, hashes)


def test_frontier_refuses_bad_leaves_and_keeps_its_state():
    frontier = Frontier()
    frontier.extend(_leaves(5))
    before = (frontier.size, frontier.hashes)
    with pytest.raises(ValueError):
        frontier.append(b"short")
    with pytest.raises(ValueError):
        frontier.extend([GOOD, b"short"])
    with pytest.raises(TypeError):
        frontier.extend([GOOD, "x" * 32])
    frontier.extend([])
    assert (frontier.size, frontier.hashes) == before


# --- tiles -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tile", "path"),
    [
        ((0, 1234067, 256), "tile/0/x001/x234/067"),  # the example in c2sp.org/tlog-tiles
        ((0, 0, 256), "tile/0/000"),
        ((1, 5, 256), "tile/1/005"),
        ((2, 999, 256), "tile/2/999"),
        ((3, 1000, 256), "tile/3/x001/000"),
        ((63, 1000000, 1), "tile/63/x001/x000/000.p/1"),
        ((0, 273, 112), "tile/0/273.p/112"),
        ((ENTRIES_LEVEL, 7, 255), "tile/entries/007.p/255"),
        ((ENTRIES_LEVEL, 1234067, 256), "tile/entries/x001/x234/067"),
    ],
)
def test_tile_paths(tile, path):
    assert tile_path(*tile) == path
    assert parse_tile_path(path) == TilePath(*tile)


def test_entries_path_and_round_trips():
    assert entries_path(1234067) == "tile/entries/x001/x234/067"
    assert entries_path(3, 9) == "tile/entries/003.p/9"
    rng = random.Random(8)
    for _ in range(500):
        tile = TilePath(
            rng.choice([ENTRIES_LEVEL, 0, 1, 2, 9, 63]),
            rng.choice([0, 1, 999, 1000, 10**6, rng.randrange(10**12)]),
            rng.choice([1, 17, 255, 256]),
        )
        assert parse_tile_path(tile_path(*tile)) == tile


@pytest.mark.parametrize(
    "path",
    [
        "tile/0/1",
        "tile/0/0001",
        "tile/00/000",
        "tile/01/000",
        "tile/64/000",
        "tile/-1/000",
        "tile/x/000",
        "tile/data/000",
        "tile/0/x000/001",
        "tile/0/x001",
        "tile/0/X001/000",
        "tile/0/x01/000",
        "tile/0/001/x002",
        "tile/0/001.p/256",
        "tile/0/001.p/0",
        "tile/0/001.p/07",
        "tile/0/001.p/1000",
        "tile/0/001.p/",
        "tile/0/001.p",
        "tile/entries/x001",
        "tile/entries/000.p/256",
        "/tile/0/000",
        "tile/0/000/",
        "tile/0/000\n",
        "tile//000",
        "tiles/0/000",
        "",
        None,
        b"tile/0/000",
    ],
)
def test_malformed_tile_paths_are_refused(path):
    with pytest.raises(ValueError):
        parse_tile_path(path)


@pytest.mark.parametrize(
    "tile", [(64, 0, 256), (-2, 0, 256), (0, -1, 256), (0, 0, 0), (0, 0, 257), (0, 1.5, 256)]
)
def test_impossible_tiles_are_refused(tile):
    with pytest.raises(ValueError):
        tile_path(*tile)


def test_tile_widths_follow_the_spec_examples():
    # c2sp.org/tlog-tiles: a tree of 70,000 leaves has 273 full level-0 tiles, a partial one
    # of width 112, one full level-1 tile, a partial one of 17, and a partial level-2 tile of 1.
    size = 70_000
    assert [tile_width(0, n, size) for n in (0, 272, 273, 274)] == [TILE_WIDTH, TILE_WIDTH, 112, 0]
    assert [tile_width(1, n, size) for n in (0, 1, 2)] == [TILE_WIDTH, 17, 0]
    assert [tile_width(2, n, size) for n in (0, 1)] == [1, 0]
    assert tile_width(3, 0, size) == 0
    assert tile_width(ENTRIES_LEVEL, 273, size) == 112
    # ... and one of 256 leaves a full level-0 tile and a level-1 tile of width 1.
    assert (tile_width(0, 0, 256), tile_width(0, 1, 256), tile_width(1, 0, 256)) == (256, 0, 1)
    with pytest.raises(ValueError):
        tile_width(0, 0, -1)
