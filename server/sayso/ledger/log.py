"""Writing events: each lands in the caller's transaction, with the change it records.

An event is stored once (``audit_events``: its salt, its canonical bytes, and the columns
searched by) and queued for the tree (``ledger_pending``) in the same statement (on
SQLite, by a trigger); the
sequencer gives it its place later (``sequencer.py``). Nothing here is shared between
requests: appending takes no lock of its own (the ordering that matters is
``ordering.py``'s). The caller commits: an event lands with its change or not at all.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from sqlalchemy import bindparam, insert, select, text

from sayso.db.driver import DriverStatement
from sayso.ledger.encoding import canonical_bytes, dumps, new_salt, recordable
from sayso.ledger.events import Event
from sayso.models import AuditEvent, LedgerLeaf, LedgerPending
from sayso.shared.clock import utcnow

_EVENTS = AuditEvent.__table__
_PENDING = LedgerPending.__table__
_LEAVES = LedgerLeaf.__table__
_SEARCHED = ("occurred_at", "type", "actor", "subject", "brand", "fields", "purpose", "details")


def _postgresql_append(returning: bool):
    """One statement writes the event and queues it: PostgreSQL stores the searchable
    columns (held to ``canonical`` by a CHECK), and numbers the row."""
    written = (
        insert(_EVENTS)
        .values({name: bindparam(name) for name in ("canonical", "salt", *_SEARCHED)})
        .returning(_EVENTS.c.seq)
        .cte("written")
    )
    queued = insert(_PENDING).from_select(["seq"], select(written.c.seq))
    return queued.returning(_PENDING.c.seq) if returning else queued


#: Built once: composing them per request cost more than running them (docs/benchmarks.md).
_PG_APPEND = _postgresql_append(returning=False)
_PG_APPEND_RETURNING = _postgresql_append(returning=True)
#: SQLite computes the searchable columns, and its trigger ``audit_events_queued``
#: (migration 0009) queues the event.
_SQLITE_APPEND = insert(_EVENTS).returning(_EVENTS.c.seq)
#: A profile read's append, run on the driver's cursor (``db/driver.py``); no ``seq`` back.
_DRIVER_APPEND = {
    "postgresql": DriverStatement(_PG_APPEND),
    "sqlite": DriverStatement(
        insert(_EVENTS).values(canonical=bindparam("canonical"), salt=bindparam("salt"))
    ),
}
_RECORDED = select(_EVENTS.c.seq).where(_EVENTS.c.salt == bindparam("salt"))


@dataclass(frozen=True)
class Appended:
    """An event just written: its row's ``seq`` (``None`` when not asked for), and its salt,
    which finds it again (``Ledger.recorded``) after a commit whose outcome is unknown."""

    seq: int | None
    salt: bytes


class Ledger:
    """Appends events in the caller's transaction, and reads them back."""

    def __init__(self, session):
        #: A Session, or a Connection (a profile read's own transaction).
        self.session = session

    def _dialect(self) -> str:
        bind = self.session.get_bind() if hasattr(self.session, "get_bind") else self.session
        return bind.dialect.name

    def append(self, event: Event, want_seq: bool = True) -> Appended:
        """Write ``event`` and queue it for the tree, in the caller's transaction.

        With ``want_seq`` false (a profile read, on its own ``Connection``) the statement
        runs on the driver's cursor, and on PostgreSQL travels with the COMMIT of the
        read's pipelined transaction: no round trip of its own.
        """
        salt, values = _entry(event)
        dialect = self._dialect()
        if dialect == "sqlite":  # it computes the searchable columns itself
            values = {"canonical": values["canonical"], "salt": salt}
        if not want_seq:
            _DRIVER_APPEND[dialect].execute(self.session, values)
            return Appended(None, salt)
        if dialect == "sqlite":
            written = self.session.execute(_SQLITE_APPEND, values)
            return Appended(written.scalar_one(), salt)
        return Appended(self.session.execute(_PG_APPEND_RETURNING, values).scalar_one(), salt)

    def recorded(self, salt: bytes) -> bool:
        """Whether the event appended with ``salt`` was committed (after a commit that
        failed with its outcome unknown: the connection was lost on the way)."""
        return self.session.execute(_RECORDED, {"salt": salt}).first() is not None

    def rows(self, batch: int = 5000, after: int = 0, where=(), columns=None) -> Iterator:
        """Events after seq ``after`` as plain rows in seq order, fetched in batches by
        keyset pagination (constant memory). ``where``: extra SQL conditions; ``columns``:
        fetch only these (``seq`` is always included). Core rows, so a long walk fills no
        identity map."""
        selected = [_EVENTS.c.seq, *(_EVENTS.c[name] for name in columns)] if columns else [_EVENTS]
        while True:
            chunk = self.session.execute(
                select(*selected)
                .where(_EVENTS.c.seq > after, *where)
                .order_by(_EVENTS.c.seq)
                .limit(batch)
            ).all()
            if not chunk:
                return
            yield from chunk
            after = chunk[-1].seq

    def leaf_index(self, seq: int) -> int | None:
        """The event's place in the tree, once the sequencer has given it one."""
        return self.session.scalar(select(_LEAVES.c.leaf_index).where(_LEAVES.c.seq == seq))

    def pending(self) -> int:
        """How many committed events wait for their place in the tree."""
        return self.session.scalar(text("SELECT count(*) FROM ledger_pending"))


def _entry(event: Event) -> tuple[bytes, dict]:
    """A new entry's salt, and the values of its row: its salt and canonical bytes, and
    the searchable columns PostgreSQL keeps (SQLite computes them, and ignores these)."""
    occurred_at = utcnow()
    canonical = canonical_bytes(event, occurred_at)
    cleaned = recordable(event, canonical)
    if cleaned is not event:
        event, canonical = cleaned, canonical_bytes(cleaned, occurred_at)
    salt = new_salt()
    return salt, {
        "canonical": canonical,
        "salt": salt,
        "occurred_at": occurred_at,
        "type": str(event.type),
        "actor": event.actor,
        "subject": event.subject,
        "brand": event.brand,
        "fields": dumps(sorted(set(event.fields))),
        "purpose": event.purpose,
        "details": dumps(dict(event.details)),
    }
