"""The DPoP proofs already accepted (RFC 9449 section 11.1), so that none is accepted twice.

Kept in the database, not in a worker's memory and not in Redis: every worker and every
host of a deployment sees the same table, it needs nothing Sayso does not already have
(Redis is optional, and holds only rate-limit counters, which may be lost: a lost replay
cache would let a captured proof be replayed), and an entry is one short INSERT (on
PostgreSQL it locks only its own new row). A proof is remembered only until its ``iat``
is too old for it to be accepted anyway, so the table stays small; expired rows are
dropped a batch at a time, now and then, by whichever request comes along.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime

from sqlalchemy import bindparam, delete, select
from sqlalchemy.dialects import postgresql, sqlite

from sayso.db import one_write, writing_anyway
from sayso.models import DPoPProof
from sayso.shared.clock import utcnow

_PROOFS = DPoPProof.__table__
#: One accepted proof in one statement: a row, unless one is there already (a replay).
_REMEMBER = {
    dialect: insert(_PROOFS)
    .values(
        proof_hash=bindparam("proof_hash"),
        expires_at=bindparam("expires_at", type_=_PROOFS.c.expires_at.type),
    )
    .on_conflict_do_nothing(index_elements=[_PROOFS.c.proof_hash])
    .returning(_PROOFS.c.proof_hash)
    for dialect, insert in {"postgresql": postgresql.insert, "sqlite": sqlite.insert}.items()
}
#: About one acceptance in this many also drops a batch of expired rows.
PRUNE_ONE_IN = 50
PRUNE_BATCH = 1000


class SeenProofs:
    """Owns ``dpop_proofs``. Works on connections of its own, committed at once: a proof
    is used up whether or not the request it came with succeeds, and the request's own
    transaction may be read-only (a GET) or allowed a single write (the code exchange).

    With ``joined`` (a session whose SQLite transaction already holds the write lock, which
    a connection of its own would wait for in vain), it writes in that transaction instead:
    the proof is then remembered only if the request's transaction commits."""

    def __init__(self, engine, joined=None):
        self.engine = engine
        self.joined = joined

    def first_use(self, jkt: str, jti: str, until: datetime) -> bool:
        """Remember the proof ``jti`` signed by the key ``jkt`` until ``until``; whether
        this is its first use (``False``: a replay)."""
        digest = hashlib.sha256(f"{jkt}\n{jti}".encode()).hexdigest()
        statement = _REMEMBER[self.engine.dialect.name]
        if self.joined is not None:
            parameters = {"proof_hash": digest, "expires_at": until}
            return self.joined.execute(statement, parameters).first() is not None
        with writing_anyway(), one_write(), self.engine.connect() as connection:
            added = connection.execute(
                statement, {"proof_hash": digest, "expires_at": until}
            ).first()
            connection.commit()
        if secrets.randbelow(PRUNE_ONE_IN) == 0:
            self.prune()
        return added is not None

    def prune(self, now: datetime | None = None) -> int:
        """Drop up to a batch of proofs too old to be accepted anyway; how many. Rows another
        transaction holds are skipped (PostgreSQL), not waited for."""
        expired = (
            select(_PROOFS.c.proof_hash)
            .where(_PROOFS.c.expires_at <= (now or utcnow()))
            .limit(PRUNE_BATCH)
            .with_for_update(skip_locked=True)
        )
        with writing_anyway(), one_write(), self.engine.connect() as connection:
            dropped = connection.execute(
                delete(_PROOFS).where(_PROOFS.c.proof_hash.in_(expired.scalar_subquery()))
            ).rowcount
            connection.commit()
        return dropped
