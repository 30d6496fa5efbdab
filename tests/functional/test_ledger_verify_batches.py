"""``sayso audit verify`` across its batches: a log longer than one batch of the walk (made
small here), with checkpoints at, just before and just after tile and batch edges, whose
roots the walk reads off the nodes of the batch it is in.

The roots the verifier must match are computed here with the tests' own RFC 9162 verifier
(tests/rfc9162.py), not taken from the server.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select, update

from sayso.extensions import db
from sayso.ledger import verify
from sayso.ledger.notes import Checkpoint
from sayso.ledger.sequencer import Sequencer
from sayso.ledger.verify import LogVerifier, Trusted
from sayso.models import LedgerCheckpoint, LedgerLeaf, LedgerTile
from tests import rfc9162
from tests.ledger_helpers import insert_events, rewrite_event

BATCH = 512  # two tiles a batch: a 1,300-entry log is three batches and a partial one
#: Checkpoint sizes: a leaf, each side of the first tile edges, a batch's end and the
#: next one's start, within a later batch, the end of a full batch, the partial end.
SIZES = [1, 255, 256, 257, 511, 512, 513, 700, 1024, 1025, 1300]


@pytest.fixture
def log(app, monkeypatch):
    """The app, its log of 1,300 entries checkpointed at SIZES, and the leaf hashes."""
    monkeypatch.setattr(verify, "BATCH", BATCH)
    with app.app_context():
        insert_events(db.session, SIZES[-1])
        db.session.commit()
        key = app.extensions["sayso_ledger_key"]
        have = 0
        for size in SIZES:
            assert Sequencer(db.session, key, batch=size - have).integrate() == size - have
            Sequencer(db.session, key).checkpoint()
            have = size
        leaves = _leaf_hashes(db.session)
        db.session.remove()
    return app, leaves


def _leaf_hashes(session) -> list[bytes]:
    tiles = session.scalars(
        select(LedgerTile.hashes).where(LedgerTile.level == 0).order_by(LedgerTile.tile_index)
    )
    stored = b"".join(bytes(tile) for tile in tiles)
    return [stored[i : i + 32] for i in range(0, len(stored), 32)]


def _verify(app, trusted=()):
    with app.app_context():
        result = LogVerifier(db.session, app.extensions["sayso_ledger_key"]).verify(trusted)
        db.session.rollback()
    return result


def test_every_checkpoint_across_tiles_and_batches_is_checked(log):
    app, _ = log
    result = _verify(app)
    assert result.ok, result.reason
    assert (result.size, result.checkpoints_checked) == (SIZES[-1], len(SIZES))


def test_trusted_roots_at_any_size_are_matched_against_the_rebuilt_tree(log):
    app, leaves = log
    assert rfc9162.mth(leaves) == _stored_root(app, SIZES[-1])
    origin = app.extensions["sayso_ledger_key"].origin
    sizes = [0, 2, 3, 255, 256, 384, 511, 512, 513, 767, 1023, 1024, 1100, 1299, 1300]
    trusted = [
        Trusted(Checkpoint(origin, n, rfc9162.mth(leaves[:n]), ()), f"held {n}") for n in sizes
    ]
    result = _verify(app, trusted)
    assert result.ok, result.reason
    assert result.trusted_checked == len(sizes)
    # One wrong root among them, inside a tile of the third batch, is caught at its size.
    wrong = Trusted(Checkpoint(origin, 1100, rfc9162.mth(leaves[:1099]), ()), "held wrong")
    result = _verify(app, [*trusted, wrong])
    assert not result.ok and result.first_bad_index == 1100
    assert result.reason.startswith("held wrong (size 1100) is not a state of this log")


def _stored_root(app, size: int) -> bytes:
    with app.app_context():
        return bytes(
            db.session.scalar(select(LedgerCheckpoint.root).where(LedgerCheckpoint.size == size))
        )


def _leaf_seq(session, index: int) -> int:
    return session.scalar(select(LedgerLeaf.seq).where(LedgerLeaf.leaf_index == index))


@pytest.mark.parametrize("index", [0, 511, 512, 1030, 1299])
def test_an_entry_changed_in_any_batch_is_found_at_its_leaf(log, index):
    app, _ = log
    with app.app_context():
        rewrite_event(db.session, _leaf_seq(db.session, index), actor="forger")
        db.session.commit()
    result = _verify(app)
    assert not result.ok and result.first_bad_index == index
    assert (
        result.reason == f"the served hashes (tile level 0) differ from the entries at hash {index}"
    )


def test_a_tile_of_level_one_changed_is_found(log):
    app, _ = log
    with app.app_context():
        db.session.execute(
            update(LedgerTile)
            .where(LedgerTile.level == 1)
            .values(hashes=b"\x07" * 32 * 5)  # as many hashes as full tiles: 1,300 // 256
        )
        db.session.commit()
    result = _verify(app)
    assert not result.ok and result.first_bad_index == 0
    assert result.reason == "the served hashes (tile level 1) differ from the entries at hash 0"


@pytest.mark.parametrize("size", [257, 512, 700, 1300])
def test_a_stored_checkpoint_whose_root_was_changed_is_found(log, size):
    app, _ = log
    with app.app_context():
        db.session.execute(
            update(LedgerCheckpoint).where(LedgerCheckpoint.size == size).values(root=b"\x02" * 32)
        )
        db.session.commit()
    result = _verify(app)
    assert not result.ok and result.first_bad_index == size
    assert result.checkpoints_checked == SIZES.index(size)
    assert result.reason == (
        f"the stored checkpoint at {size} does not match the tree its entries make"
    )
