"""The profile read: what a brand's token may see right now, and the ledger record of it."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, and_, bindparam, select
from sqlalchemy.exc import SQLAlchemyError

from sayso.coarsening import Coarsener, View
from sayso.db import GroupCommit, begin_pipelined
from sayso.db.driver import DriverStatement
from sayso.fields import FIELDS
from sayso.ledger import Event, EventType, Ledger, ordering
from sayso.models import Account, Brand, DataKey, Disclosure, Grant, Token
from sayso.services.brands import BrandService
from sayso.services.consent import field_of
from sayso.services.questions import ANSWERS, QuestionService
from sayso.services.vault import Vault
from sayso.shared.clock import utcnow
from sayso.shared.tokens import token_hash

_TOKENS = Token.__table__
_GRANTS = Grant.__table__
_ACCOUNTS = Account.__table__
_BRANDS = Brand.__table__
_KEYS = DataKey.__table__
_DISCLOSURES = Disclosure.__table__
ANSWERS_SCOPE = "answers:read"

log = logging.getLogger(__name__)

#: The whole read in one round trip, keyed by the token's hash (its primary key): the token,
#: its consumer's live (unrevoked) grants to its brand, the account, the brand's public id,
#: the wrapped data key, and the sealed values of the granted fields. Built once: composing
#: the statement per request cost more than running it.
_READ = (
    select(
        _TOKENS.c.client_id,
        _TOKENS.c.account_id,
        _TOKENS.c.brand_id,
        _TOKENS.c.scope,
        _TOKENS.c.access_expires_at,
        _TOKENS.c.revoked_at,
        _TOKENS.c.jkt,
        _GRANTS.c.field,
        _GRANTS.c.purpose,
        _GRANTS.c.expires_at,
        _GRANTS.c.view,
        _GRANTS.c.view_parameter,
        _ACCOUNTS.c.pseudonym,
        _ACCOUNTS.c.erased_at,
        _BRANDS.c.public_id,
        _KEYS.c.wrapped_key,
        _DISCLOSURES.c.ciphertext,
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
_DRIVER_READ = DriverStatement(_READ)


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
    #: The thumbprint of the DPoP key the token is bound to (``oauth.resource`` checks it).
    jkt: str | None = None

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


class ProfileService:
    """Reads a consumer's granted disclosures for a brand's token, recording every read.

    :meth:`read` owns the whole read, and these are its rules, in order:

    1. The ``Authorization`` header is parsed before any transaction (no database work
       while it is).
    2. The consumer's lock for the token's brand is taken, shared, before the grants are
       read (``ledger/ordering.py``): a revoke under way finishes first and the read sees
       it; a revoke that comes later waits until this read's event has committed.
    3. The token and its live grants are loaded and checked in one query, in the read's
       transaction (no cache): Authlib validates the token as any other.
    4. The read's event is appended in that same transaction, and committed.
    5. Only then are values decrypted and returned. A read whose event did not commit
       discloses nothing; when the commit's outcome is unknown (the connection was lost
       on the way) the event is looked for, by its salt, before answering either way.

    Transactions: on PostgreSQL each read has its own, pipelined (the lock travels with the
    load, the event with the COMMIT: three round trips). On SQLite the reads of a process
    that arrive together share one, and its commit (``db.GroupCommit``).
    """

    def __init__(
        self,
        vault: Vault,
        engine,
        groups: GroupCommit | None,
        brands: BrandService,
        questions: QuestionService | None = None,
        coarsener: Coarsener | None = None,
    ):
        self.vault = vault
        self.engine = engine
        self.groups = groups
        self.brands = brands
        # With it, a token with a live ``answers:read`` grant also reads "answers".
        self.questions = questions
        # Applies each grant's view (sharing less than everything); keyed for the noise.
        self.coarsener = coarsener or Coarsener(None)

    def read(self, presented) -> ProfileRead:
        """The fields ``presented`` (a parsed bearer token, ``oauth.resource``) may read
        now, recorded. Raises ``BearerRefused`` (a bad token), :class:`NothingGranted`, or a
        database error (nothing recorded, so nothing disclosed)."""
        with self._transaction() as (connection, pending):
            token = presented.token(lambda string: self._load(connection, string))
            grants = self._live_grants(token)
            pending.append(self._record(connection, token, grants))
        return self._disclose(token, grants)

    @contextmanager
    def _transaction(self) -> Iterator[tuple[Connection, list]]:
        if self.groups is not None:
            with self.groups.transaction(lambda connection: None) as (connection, _):
                yield connection, []
            return
        appended: list = []
        with self.engine.connect() as connection:
            transaction = connection.begin()
            begin_pipelined(connection)
            try:
                yield connection, appended
            except BaseException:
                transaction.rollback()
                raise
            try:
                transaction.commit()
            except SQLAlchemyError:
                if not appended or not self._committed_anyway(appended[0].salt):
                    raise
                log.warning("profile read: commit reported failed, but its event is recorded")

    def _committed_anyway(self, salt: bytes) -> bool:
        """Whether the event of a read whose commit failed was committed all the same.

        Asked on a fresh connection, a few times over about two seconds: the fault that
        broke the commit (a database restart, every connection cut) may break the first
        attempts too. If no attempt gets an answer the read answers an error, as it must
        when its event may be missing."""
        for pause in (0.0, 0.1, 0.3, 0.6, 1.0):
            time.sleep(pause)
            try:
                with self.engine.connect() as connection:
                    return Ledger(connection).recorded(salt)
            except SQLAlchemyError:
                continue
        return False

    def _load(self, connection: Connection, token_string: str) -> ProfileToken | None:
        """The token presented (``None`` if unknown) and everything a read of it needs,
        after the consumer's lock for its brand: one round trip, no ORM objects on the hot
        path (docs/benchmarks.md)."""
        digest = token_hash(token_string)
        ordering.hold_for_token(connection, digest)
        rows = _DRIVER_READ.fetch(connection, {"token_hash": digest})
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
            first.jkt,
        )

    def _live_grants(self, token: ProfileToken) -> tuple:
        """The token's rows whose field its scope covers and whose grant is live; raises
        :class:`NothingGranted` if none is left (or the consumer was erased)."""
        now = utcnow()
        wanted = {f for f in (field_of(s) for s in token.scope.split()) if f}
        if self.questions is not None and ANSWERS_SCOPE in token.scope.split():
            wanted.add(ANSWERS)
        grants = tuple(
            r
            for r in token.rows
            if r.field in wanted and (r.expires_at is None or r.expires_at > now)
        )
        if not grants or grants[0].erased_at is not None:
            raise NothingGranted  # erased: nothing of theirs is readable any more
        return grants

    def _record(self, connection: Connection, token: ProfileToken, grants: tuple):
        """Append the read's event in the read's transaction (travelling with the COMMIT)."""
        first = grants[0]
        details = {"purposes": {r.field: r.purpose for r in grants}}
        # The views of fields read as less than everything (names and parameters only).
        views = {r.field: {"name": r.view, "parameter": r.view_parameter} for r in grants}
        views = {field: view for field, view in views.items() if view["name"] != "all"}
        if views:
            details["views"] = views
        return Ledger(connection).append(
            Event(
                EventType.PROFILE_READ,
                actor=f"client:{token.client_id}",
                subject=first.pseudonym,
                brand=first.public_id,
                fields=tuple(sorted(r.field for r in grants)),
                details=details,
            ),
            want_seq=False,
        )

    def _disclose(self, token: ProfileToken, grants: tuple) -> ProfileRead:
        """The values of a read whose event has committed."""
        first = grants[0]
        live = sorted(r.field for r in grants)
        values = {
            r.field: self.coarsener.view(
                r.field,
                json.loads(
                    self.vault.decrypt_with(token.account_id, r.wrapped_key, r.field, r.ciphertext)
                ),
                View(r.view or "all", r.view_parameter),
                token.account_id,
                token.brand_id,
            )
            for r in grants
            if r.ciphertext is not None
        }
        document = {"sub": self.brands.pairwise_subject(first.public_id, first.pseudonym)}
        # A field with per-brand choices (hear_about) gives this brand only its own.
        document.update(
            {
                field: FIELDS[field].for_brand(values.get(field), first.public_id)
                for field in live
                if field != ANSWERS
            }
        )
        if ANSWERS in live:
            # Only the answers to this brand's own questions, never another brand's.
            document[ANSWERS] = self.questions.answers_for(token.account_id, token.brand_id)
        return ProfileRead(document, live)
