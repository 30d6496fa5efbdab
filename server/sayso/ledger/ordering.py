"""The one ordering the log must keep: a read of a field never follows the field's revoke.

Not a lock shared by every request (the hash chain's head was one): a lock per consumer and
brand. A profile read holds it shared from before it checks the grants until its event has
committed; a grant or a revoke holds it exclusively from before it writes the grants until
its event has committed. So a revoke waits for the reads of that consumer and brand under
way, and a read that comes after the revoke waits for its commit and then sees the grant
revoked. Reads of different consumers, or of one consumer by different brands, never wait
for each other. Because each event is written after its lock is held, it is written, and
so numbered and queued for the tree (``sequencer``), after every event it must follow.

PostgreSQL: transaction-scoped advisory locks, keyed by the two ids, released by the commit
or rollback. SQLite: nothing to do, as every writing transaction there already holds the
database's one write lock (``BEGIN IMMEDIATE``, see ``db/sqlite.py``).
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import text

from sayso.db.driver import DriverStatement

_EXCLUSIVE = text("SELECT pg_advisory_xact_lock(CAST(:a AS int4), CAST(:b AS int4))")
_SHARED = text("SELECT pg_advisory_xact_lock_shared(CAST(:a AS int4), CAST(:b AS int4))")
#: A profile read knows its token, not yet the ids: the lock is taken by the token's hash,
#: in the same round trip as the read itself (on the driver's cursor, ``db/driver.py``: in
#: the read's pipelined transaction its result is never waited for).
SHARED_BY_TOKEN = DriverStatement(
    text(
        "SELECT pg_advisory_xact_lock_shared(account_id, brand_id) FROM tokens "
        "WHERE access_token_hash = :token_hash AND brand_id IS NOT NULL"
    )
)


def _dialect(session) -> str:
    bind = session.get_bind() if hasattr(session, "get_bind") else session
    return bind.dialect.name


def hold(session, account_id: int, brand_ids: Iterable[int], shared: bool = False) -> None:
    """Hold the consumer's lock for each brand until the caller's transaction ends: shared
    for a reader (a token rotation), exclusive for a writer of grants. Brands are taken in
    ascending order, so two writers never wait for each other in a cycle."""
    if _dialect(session) != "postgresql":
        return
    statement = _SHARED if shared else _EXCLUSIVE
    for brand_id in sorted(set(brand_ids)):
        session.execute(statement, {"a": account_id, "b": brand_id})


def hold_for_token(connection, token_hash: str) -> None:
    """Hold, shared, the lock of the consumer and brand a token reads for (a profile read),
    sent without waiting: the next statement, which the server runs once the lock is held,
    is the one whose result is fetched."""
    if _dialect(connection) == "postgresql":
        SHARED_BY_TOKEN.execute(connection, {"token_hash": token_hash})
