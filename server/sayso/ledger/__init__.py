"""The ledger: every consent-relevant event, in a Merkle-tree transparency log.

One module per job: ``events`` (the vocabulary), ``encoding`` (the bytes committed to),
``log`` (writing events with the change they record), ``ordering`` (reads before revokes,
per consumer and brand), ``tree`` (RFC 9162 hashing and proofs), ``tiles`` (the tree's
stored hashes), ``sequencer`` and ``runner`` (integrating events, signing checkpoints),
``notes`` and ``keys`` (C2SP signed notes, checkpoints, cosignatures), ``witnesses``
(gathering cosignatures), ``proofs`` (what receipts and auditors are given), ``verify``
(checking it all from the stored entries), ``legacy`` (the hash chain it replaced).
See ``docs/ledger.md``.
"""

from sayso.ledger.events import Event, EventType

__all__ = ["Appended", "Event", "EventType", "Ledger", "LedgerKey"]


def __getattr__(name: str):
    # Imported when first asked for, so that the pure modules (tree, notes, events) can be
    # used without the database layer: the witness server and verifiers use only those.
    if name in {"Appended", "Ledger"}:
        from sayso.ledger import log

        return getattr(log, name)
    if name == "LedgerKey":
        from sayso.ledger.keys import LedgerKey

        return LedgerKey
    raise AttributeError(f"module 'sayso.ledger' has no attribute {name!r}")
