"""Streaming exports of the ledger: JSON Lines (verifiable offline) and CSV (for people).

Both walk the events in ``seq`` order by keyset pagination, a batch at a time, so memory
stays constant however long the log. The JSON Lines format, ``sayso-ledger-export/v2``, is
specified in ``docs/ledger.md`` ("Exports"): a header naming the log and its key, one line
per entry (its salt and canonical bytes, so its leaf hash can be recomputed), and the
newest checkpoint. An unfiltered export holds every entry the checkpoint covers, so a
verifier rebuilds the tree; a filtered one gives each entry its inclusion proof instead.
"""

from __future__ import annotations

import base64
import csv
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from sayso.ledger import Ledger, LedgerKey, proofs
from sayso.ledger.encoding import entry_leaf_hash
from sayso.ledger.encoding import timestamp as _timestamp
from sayso.ledger.keys import b64url
from sayso.ledger.tiles import TileStore
from sayso.ledger.tree import TILE_HEIGHT, inclusion_proof, node_hash
from sayso.models import AuditEvent, LedgerLeaf
from sayso.models.ledger import DERIVED_COLUMNS
from sayso.shared.clock import utcnow

EXPORT_FORMAT = "sayso-ledger-export/v2"
CSV_COLUMNS = ["seq", "leaf_index", *DERIVED_COLUMNS, "leaf_hash"]
#: Events per query (and per chunk of a JSON Lines export).
BATCH = 5000

_EVENTS = AuditEvent.__table__
_LEAVES = LedgerLeaf.__table__


@dataclass(frozen=True)
class ExportFilter:
    """Which events to export; every part optional."""

    since: datetime | None = None
    until: datetime | None = None
    brand: str | None = None
    type: str | None = None
    subject: str | None = None

    def conditions(self) -> list:
        """The SQL conditions for these filters."""
        t = _EVENTS.c
        conds = []
        if self.since:
            conds.append(t.occurred_at >= self.since)
        if self.until:
            conds.append(t.occurred_at < self.until)
        if self.brand:
            conds.append(t.brand == self.brand)
        if self.type:
            conds.append(t.type == self.type)
        if self.subject:
            conds.append(t.subject == self.subject)
        return conds

    def describe(self) -> dict:
        """The filters as they appear in an export's header."""
        return {
            "since": _timestamp(self.since) if self.since else None,
            "until": _timestamp(self.until) if self.until else None,
            "brand": self.brand,
            "type": self.type,
            "subject": self.subject,
        }

    @property
    def is_complete(self) -> bool:
        """True when nothing is filtered out, so the export is the whole log."""
        return not any(self.describe().values())


def event_record(row) -> dict:
    """One event's columns, as the console shows them (and the CSV export writes them)."""
    return {
        "kind": "event",
        "seq": row.seq,
        "occurred_at": _timestamp(row.occurred_at),
        "type": row.type,
        "actor": row.actor,
        "subject": row.subject,
        "brand": row.brand,
        "fields": json.loads(row.fields),
        "purpose": row.purpose,
        "details": json.loads(row.details),
    }


def entries(ledger: Ledger, filters: ExportFilter, columns=(), batch: int = BATCH) -> Iterator:
    """Events matching ``filters`` in seq order, each with its ``leaf_index`` (``None``
    while it waits for the sequencer), ``salt`` and ``canonical``, and ``columns`` of
    ``audit_events``; a list per batch, fetched by keyset pagination on seq."""
    selected = [
        _EVENTS.c.seq,
        _LEAVES.c.leaf_index,
        _EVENTS.c.salt,
        _EVENTS.c.canonical,
        *(_EVENTS.c[name] for name in columns),
    ]
    joined = _EVENTS.outerjoin(_LEAVES, _LEAVES.c.seq == _EVENTS.c.seq)
    after = 0
    while True:
        rows = ledger.session.execute(
            select(*selected)
            .select_from(joined)
            .where(_EVENTS.c.seq > after, *filters.conditions())
            .order_by(_EVENTS.c.seq)
            .limit(batch)
        ).all()
        if not rows:
            return
        yield rows
        after = rows[-1].seq


class _ProofNodes:
    """The tree's nodes for one batch of inclusion proofs (a ``tree.NodeSource``): a hash
    stored in a tile is read from it, any other node is hashed from its two children, once.
    Proofs of a batch share most of their nodes, so each costs a few hashes, not hundreds."""

    def __init__(self, tiles: TileStore):
        self.tiles = tiles
        self._computed: dict[tuple[int, int], bytes] = {}

    def node(self, height: int, index: int) -> bytes:
        """The root of the perfect subtree of ``2**height`` leaves, number ``index``."""
        if height % TILE_HEIGHT == 0:
            return self.tiles.node(height, index)
        found = self._computed.get((height, index))
        if found is None:
            found = node_hash(
                self.node(height - 1, 2 * index), self.node(height - 1, 2 * index + 1)
            )
            self._computed[(height, index)] = found
        return found


def _line(record: dict) -> str:
    return json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=False) + "\n"


def _b64(hashes: list[bytes]) -> str:
    return "[" + ",".join(f'"{base64.b64encode(h).decode()}"' for h in hashes) + "]"


def _entry_line(row, proof: str | None) -> str:
    # The stored canonical bytes are already compact, sorted JSON: embed them as they are
    # (no decode and re-encode per event), which is what keeps a long export fast. Keys in
    # sorted order, as every other line.
    leaf_index = "null" if row.leaf_index is None else str(row.leaf_index)
    proof_member = "" if proof is None else f'"inclusion_proof":{proof},'
    return (
        f'{{"event":{bytes(row.canonical).decode("utf-8")},{proof_member}"kind":"entry",'
        f'"leaf_index":{leaf_index},"salt":"{bytes(row.salt).hex()}","seq":{row.seq}}}\n'
    )


def export_jsonl(ledger: Ledger, filters: ExportFilter, key: LedgerKey) -> Iterator[str]:
    """The export as chunks of text: the header line, then a chunk per batch of entries,
    then the newest checkpoint (with its cosignatures).

    The checkpoint is read first: every entry it covers was committed before the export
    began, so the walk finds them all (an unfiltered export rebuilds its tree), and a
    filtered export's proofs are all against it. Entries integrated after it, or still
    waiting for the sequencer, are exported too, without a proof.
    """
    try:
        checkpoint = proofs.latest_checkpoint(ledger.session)
    except proofs.NoCheckpoint:
        checkpoint = None
    covered = checkpoint.size if checkpoint else 0
    yield _line(
        {
            "kind": "log",
            "format": EXPORT_FORMAT,
            "origin": key.origin,
            "verifier_key": key.verifier_key,
            "public_key": b64url(key.public_bytes),
            "key_id": key.key_id,
            "exported_at": _timestamp(utcnow()),
            "filters": filters.describe(),
            "complete": filters.is_complete,
        }
    )
    with_proofs = not filters.is_complete
    for rows in entries(ledger, filters):
        # One cache per batch: proofs of neighbouring entries share most of their tiles and
        # nodes, and the cache is dropped with the batch (memory stays bounded).
        nodes = _ProofNodes(TileStore(ledger.session))
        lines = []
        for row in rows:
            proof = None
            if with_proofs:
                proof = "null"
                if row.leaf_index is not None and row.leaf_index < covered:
                    proof = _b64(inclusion_proof(nodes, row.leaf_index, covered))
            lines.append(_entry_line(row, proof))
        yield "".join(lines)
    if checkpoint is not None:
        yield _line({"kind": "checkpoint", "note": checkpoint.note})


def export_csv(ledger: Ledger, filters: ExportFilter) -> Iterator[str]:
    """The matching events as CSV, one row each, with their place in the log and leaf hash
    (for people and spreadsheets: it carries no proof; use JSON Lines as evidence)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS)
    for rows in entries(ledger, filters, columns=DERIVED_COLUMNS):
        for row in rows:
            record = event_record(row)
            record["fields"] = ";".join(record["fields"])
            record["details"] = json.dumps(record["details"], sort_keys=True, ensure_ascii=False)
            record["leaf_index"] = "" if row.leaf_index is None else row.leaf_index
            record["leaf_hash"] = entry_leaf_hash(row.salt, row.canonical).hex()
            writer.writerow([record[c] for c in CSV_COLUMNS])
            if buffer.tell() > 64 * 1024:
                yield buffer.getvalue()
                buffer.seek(0)
                buffer.truncate()
    yield buffer.getvalue()
