"""The profile read: what a brand's token may see right now, and the ledger record of it."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, and_, bindparam, select

from sayso.database import GroupCommit, begin_pipelined
from sayso.models import Account, Brand, DataKey, Disclosure, Grant, Token
from sayso.models._types import utcnow
from sayso.services.brands import BrandService, token_hash
from sayso.services.consent import field_of
from sayso.services.ledger import Event, EventType, Ledger
from sayso.services.questions import ANSWERS, QuestionService
from sayso.services.vault import Vault

_TOKENS = Token.__table__
_GRANTS = Grant.__table__
_ACCOUNTS = Account.__table__
_BRANDS = Brand.__table__
_KEYS = DataKey.__table__
_DISCLOSURES = Disclosure.__table__
ANSWERS_SCOPE = "answers:read"

#: The whole read in one round trip, keyed by the token's hash (its primary key): the token,
#: its consumer's live (unrevoked) grants to its brand, the account, the brand's public id,
#: the wrapped data key, the sealed values of the granted fields, and the ledger head the
#: read's event will follow (valid because the head is locked first, see ``load``). Built
#: once: composing the statement per request cost more than running it.
_READ = (
    select(
        _TOKENS.c.client_id,
        _TOKENS.c.account_id,
        _TOKENS.c.brand_id,
        _TOKENS.c.scope,
        _TOKENS.c.access_expires_at,
        _TOKENS.c.revoked_at,
        _GRANTS.c.field,
        _GRANTS.c.purpose,
        _GRANTS.c.expires_at,
        _ACCOUNTS.c.pseudonym,
        _ACCOUNTS.c.erased_at,
        _BRANDS.c.public_id,
        _KEYS.c.wrapped_key,
        _DISCLOSURES.c.ciphertext,
        *Ledger.head_columns(),
    )
    .select_from(
        _TOKENS.join(_ACCOUNTS, _ACCOUNTS.c.id == _TOKENS.c.account_id)
        .outerjoin(_BRANDS, _BRANDS.c.id == _TOKENS.c.brand_id)
        .outerjoin(
            _GRANTS,
            and_(
                _GRANTS.c.account_id == _TOKENS.c.account_id,
                _GRANTS.c.brand_id == _TOKENS.c.brand_id,
                _GRANTS.c.revoked_at.is_(None),
            ),
        )
        .outerjoin(_KEYS, _KEYS.c.account_id == _TOKENS.c.account_id)
        .outerjoin(
            _DISCLOSURES,
            and_(
                _DISCLOSURES.c.account_id == _GRANTS.c.account_id,
                _DISCLOSURES.c.field == _GRANTS.c.field,
            ),
        )
    )
    .where(_TOKENS.c.access_token_hash == bindparam("token_hash"))
)


class NothingGranted(Exception):
    """The token is valid but the consumer has revoked (or let expire) all it covers."""


@dataclass(frozen=True)
class ProfileToken:
    """A bearer token as the profile read loads it, with its live grants alongside.

    It answers Authlib's token questions (expired? revoked? scope?) so Authlib's bearer
    validator checks it exactly as it checks any other token.
    """

    client_id: str
    account_id: int
    brand_id: int | None
    scope: str
    access_expires_at: datetime
    revoked_at: datetime | None
    rows: tuple

    def get_scope(self) -> str:
        return self.scope

    def is_expired(self) -> bool:
        return self.access_expires_at <= utcnow()

    def is_revoked(self) -> bool:
        return self.revoked_at is not None


@dataclass(frozen=True)
class ProfileRead:
    """What one read returned."""

    document: dict
    fields: list[str]


@dataclass(frozen=True)
class RecordedRead:
    """A read recorded in the ledger (committed once its transaction ends), with what
    disclosing it needs: the granted rows, live when the read was checked."""

    token: ProfileToken
    grants: tuple
    fields: list[str]


class ProfileService:
    """Reads a consumer's granted disclosures for a brand's token, recording every read.

    A read has three steps: :meth:`recording` places it in a transaction shared with the
    other reads of this process that arrive meanwhile (``database.GroupCommit``), where
    :meth:`load` checks the token and its live grants and :meth:`record` appends the
    read's ledger event; once that transaction has committed, :meth:`disclose` decrypts
    and returns the values. Nothing is decrypted before the read is durably recorded.
    """

    def __init__(
        self,
        vault: Vault,
        ledger_on: Callable[[Connection], Ledger],
        groups: GroupCommit,
        brands: BrandService,
        questions: QuestionService | None = None,
    ):
        self.vault = vault
        self.ledger_on = ledger_on
        self.groups = groups
        self.brands = brands
        # With it, a token with a live ``answers:read`` grant also reads "answers".
        self.questions = questions
        self._connection: Connection | None = None
        self._ledger: Ledger | None = None

    @contextmanager
    def recording(self) -> Iterator[None]:
        """The shared transaction :meth:`load` and :meth:`record` run in. On leaving it
        waits for that transaction's commit, and raises a database error (nothing
        recorded, so nothing may be disclosed) if it failed."""
        with self.groups.transaction(self._lock_head) as (connection, ledger):
            self._connection, self._ledger = connection, ledger
            try:
                yield
            finally:
                self._connection = self._ledger = None

    def _lock_head(self, connection: Connection) -> Ledger:
        """What a group's transaction does first: lock the ledger head, once for all. On
        PostgreSQL the transaction is pipelined (``begin_pipelined``): the lock travels
        with the first member's read, and the members' ledger inserts with the COMMIT."""
        begin_pipelined(connection)
        ledger = self.ledger_on(connection)
        ledger.lock()
        return ledger

    def load(self, token_string: str) -> ProfileToken | None:
        """The token presented (``None`` if unknown) and everything a read of it needs,
        fetched in one query: no ORM objects on the hot path (docs/benchmarks.md).

        The ledger head is locked first (by the transaction :meth:`recording` joined), so
        no grant or revoke can commit between this check and the read's own event: in the
        ledger, every read follows the grants it relied on and precedes any revoke of them
        (the console's live-grant check).
        """
        rows = self._connection.execute(_READ, {"token_hash": token_hash(token_string)}).all()
        if not rows:
            return None
        first = rows[0]
        return ProfileToken(
            first.client_id,
            first.account_id,
            first.brand_id,
            first.scope,
            first.access_expires_at,
            first.revoked_at,
            tuple(rows),
        )

    def record(self, token: ProfileToken) -> RecordedRead:
        """The token's scope intersected with the grants that were live when :meth:`load`
        ran, in this transaction (no cache), and the ledger event of the read, appended on
        the head :meth:`load` read. Raises :class:`NothingGranted` (and records nothing)
        if no granted field is left."""
        now = utcnow()
        wanted = {f for f in (field_of(s) for s in token.scope.split()) if f}
        if self.questions is not None and ANSWERS_SCOPE in token.scope.split():
            wanted.add(ANSWERS)
        grants = tuple(
            r
            for r in token.rows
            if r.field in wanted and (r.expires_at is None or r.expires_at > now)
        )
        if not grants:
            raise NothingGranted
        first = grants[0]
        if first.erased_at is not None:
            raise NothingGranted  # erased: nothing of theirs is readable any more
        live = sorted(r.field for r in grants)
        self._ledger.append(
            Event(
                EventType.PROFILE_READ,
                actor=f"client:{token.client_id}",
                subject=first.pseudonym,
                brand=first.public_id,
                fields=tuple(live),
                details={"purposes": {r.field: r.purpose for r in grants}},
            ),
            head=(first.ledger_head_seq, first.ledger_head_hash),
        )
        return RecordedRead(token, grants, live)

    def disclose(self, recorded: RecordedRead) -> ProfileRead:
        """The values of a read whose event has committed (after :meth:`recording`)."""
        token, grants, live = recorded.token, recorded.grants, recorded.fields
        first = grants[0]
        values = {
            r.field: json.loads(
                self.vault.decrypt_with(token.account_id, r.wrapped_key, r.field, r.ciphertext)
            )
            for r in grants
            if r.ciphertext is not None
        }
        document = {"sub": self.brands.pairwise_subject(first.public_id, first.pseudonym)}
        document.update({field: values.get(field) for field in live if field != ANSWERS})
        if ANSWERS in live:
            # Only the answers to this brand's own questions, never another brand's.
            document[ANSWERS] = self.questions.answers_for(token.account_id, token.brand_id)
        return ProfileRead(document, live)
