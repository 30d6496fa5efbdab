"""Streaming exports of the ledger: JSON Lines (verifiable offline) and CSV (for people).

Both are generators over keyset-paginated batches, so memory stays constant however
long the log. The JSONL format is specified in ``docs/ledger.md``.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

from sayso.models import AuditEvent
from sayso.models._types import utcnow
from sayso.models.ledger import DERIVED_COLUMNS
from sayso.services.ledger import Ledger, _timestamp

EXPORT_FORMAT = "sayso-ledger-export/v1"
CSV_COLUMNS = ["seq", *DERIVED_COLUMNS, "prev_hash", "hash"]


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
        t = AuditEvent.__table__.c
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
        """True when nothing is filtered out, so the export is the whole chain."""
        return not any(self.describe().values())


def event_record(row) -> dict:
    """One event's columns, as the CSV export and the console show them."""
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
        "prev_hash": row.prev_hash,
        "hash": row.hash,
    }


def _line(record: dict) -> str:
    return json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=False) + "\n"


def _event_line(row) -> str:
    # The stored canonical bytes are already compact, sorted JSON: embed them as they are
    # (no decode and re-encode per event), which is what keeps a long export fast.
    return (
        f'{{"event":{row.canonical.decode("utf-8")},"hash":"{row.hash}",'
        f'"kind":"event","prev_hash":"{row.prev_hash}"}}\n'
    )


def export_jsonl(ledger: Ledger, filters: ExportFilter) -> Iterator[str]:
    """A header line, every matching event, then every checkpoint in the exported range.

    An event line is ``{"event": <its canonical JSON>, "hash", "kind": "event", "prev_hash"}``;
    re-serialising ``event`` canonically gives back the exact bytes its hash covers.
    """
    key = ledger.key
    yield _line(
        {
            "kind": "header",
            "format": EXPORT_FORMAT,
            "exported_at": _timestamp(utcnow()),
            "filters": filters.describe(),
            "complete": filters.is_complete,
            "key_id": key.key_id if key else None,
        }
    )
    first = last = None
    columns = ("canonical", "prev_hash", "hash")
    for row in ledger.rows(where=filters.conditions(), columns=columns):
        first = row.seq if first is None else first
        last = row.seq
        yield _event_line(row)
    if first is None:
        return
    for cp in ledger.checkpoints(after=first - 1):
        if cp.seq > last:
            break
        yield _line(checkpoint_record(cp))


def checkpoint_record(cp) -> dict:
    """A checkpoint as an export line holds it (and ``sayso audit checkpoint`` prints it):
    ``signed_at`` exactly as signed, so the signature verifies from the record alone."""
    return {
        "kind": "checkpoint",
        "seq": cp.seq,
        "hash": cp.hash,
        "signed_at": _timestamp(cp.signed_at),
        "key_id": cp.key_id,
        "signature": cp.signature,
    }


def export_csv(ledger: Ledger, filters: ExportFilter) -> Iterator[str]:
    """The matching events as CSV, one row each (not verifiable offline: use JSONL)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS)
    for row in ledger.rows(where=filters.conditions()):
        record = event_record(row)
        record["fields"] = ";".join(record["fields"])
        record["details"] = json.dumps(record["details"], sort_keys=True)
        writer.writerow([record[c] for c in CSV_COLUMNS])
        if buffer.tell() > 64 * 1024:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()
