"""What the log gives out: checkpoints with their cosignatures, and proofs.

Everything here is public and reveals nothing about any event (leaf hashes are salted,
``encoding.py``): tiles, checkpoints, inclusion proofs by leaf index, consistency proofs.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select

from sayso.ledger.tiles import TileStore
from sayso.ledger.tree import consistency_proof, inclusion_proof
from sayso.models import LedgerCheckpoint, LedgerCosignature


class NoCheckpoint(LookupError):
    """No checkpoint covers what was asked for (yet)."""


@dataclass(frozen=True)
class ServedCheckpoint:
    """A checkpoint as served: the log's signed note with every cosignature appended."""

    size: int
    root: bytes
    note: str
    cosignatures: int


def _served(session, row: LedgerCheckpoint) -> ServedCheckpoint:
    lines = session.scalars(
        select(LedgerCosignature.line)
        .where(LedgerCosignature.size == row.size)
        .order_by(LedgerCosignature.witness)
    ).all()
    note = row.note + "".join(line.rstrip("\n") + "\n" for line in lines)
    return ServedCheckpoint(row.size, bytes(row.root), note, len(lines))


def latest_checkpoint(session) -> ServedCheckpoint:
    """The newest checkpoint, with the cosignatures it has so far."""
    row = session.scalar(select(LedgerCheckpoint).order_by(LedgerCheckpoint.size.desc()).limit(1))
    if row is None:
        raise NoCheckpoint("the log has no checkpoint yet")
    return _served(session, row)


def checkpoint_covering(session, leaf_index: int, cosigned: bool) -> ServedCheckpoint:
    """The newest checkpoint that covers ``leaf_index``: among the cosigned ones when
    ``cosigned`` (witnesses are configured), falling back to the newest otherwise."""
    query = select(LedgerCheckpoint).where(LedgerCheckpoint.size > leaf_index)
    if cosigned:
        witnessed = (
            select(LedgerCosignature.size)
            .group_by(LedgerCosignature.size)
            .having(func.count() > 0)
            .scalar_subquery()
        )
        row = session.scalar(
            query.where(LedgerCheckpoint.size.in_(witnessed))
            .order_by(LedgerCheckpoint.size.desc())
            .limit(1)
        )
        if row is not None:
            return _served(session, row)
    row = session.scalar(query.order_by(LedgerCheckpoint.size.desc()).limit(1))
    if row is None:
        raise NoCheckpoint(f"no checkpoint covers leaf {leaf_index} yet")
    return _served(session, row)


def inclusion(session, leaf_index: int, size: int) -> list[bytes]:
    """The inclusion proof of leaf ``leaf_index`` in the tree of ``size`` leaves."""
    return inclusion_proof(TileStore(session), leaf_index, size)


def consistency(session, old_size: int, new_size: int) -> list[bytes]:
    """The consistency proof from the tree of ``old_size`` leaves to ``new_size``."""
    return consistency_proof(TileStore(session), old_size, new_size)
