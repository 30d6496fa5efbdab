"""OAuth codes and tokens: codes sealed rather than stored, tokens stored hashed; each
code used once, refresh tokens rotated, a family of tokens revocable as one."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

from sqlalchemy import and_, bindparam, func, insert, literal, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite

from sayso.fields import scope_of
from sayso.ledger import Event, EventType, Ledger, ordering
from sayso.models import Account, AuditEvent, Token
from sayso.services.token_seals import (
    AuthorizationCode,
    CodeSeal,
    RetriedPair,
    RetrySeal,
)
from sayso.shared.clock import utcnow
from sayso.shared.crypto import MasterKeys
from sayso.shared.tokens import token_hash

ACCESS_LIFETIME = timedelta(minutes=10)
REFRESH_LIFETIME = timedelta(days=30)
#: How long a refresh whose answer was lost may be retried for the same pair, by default
#: (``SAYSO_REFRESH_GRACE_SECONDS``).
REFRESH_GRACE = timedelta(seconds=10)

# The statements of the code exchange, built once: Core, not ORM, because the token endpoint
# is on every brand's sign-in path and an ORM load or flush costs more than the SQL itself.
_TOKENS = Token.__table__
_ACCOUNTS = Account.__table__
_INSERT_TOKEN = insert(_TOKENS)
#: INSERT ... ON CONFLICT, as each backend spells it (the consent service has the same; not
#: imported from it, as it imports this module).
_INSERT_ON_CONFLICT = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}
# The token a code is exchanged for, in one statement that also uses the code up and checks
# its account: the row is selected only if the account is still active, and skipped if a
# token already holds the code's hash (unique). No row back means one of the two. Every
# column is a parameter but ``account_id``, which comes from the account row selected.
_CODE_TOKEN_PARAMETERS = (
    "access_token_hash",
    "refresh_token_hash",
    "client_id",
    "brand_id",
    "scope",
    "family_id",
    "code_hash",
    "issued_at",
    "access_expires_at",
    "refresh_expires_at",
    "authorization_details",
    "jkt",
)
_INSERT_TOKEN_FOR_CODE = {
    dialect: insert_on_conflict(_TOKENS)
    .from_select(
        [*_CODE_TOKEN_PARAMETERS, "account_id"],
        select(
            *(bindparam(name, type_=_TOKENS.c[name].type) for name in _CODE_TOKEN_PARAMETERS),
            _ACCOUNTS.c.id,
        ).where(_ACCOUNTS.c.id == bindparam("code_account_id"), _ACCOUNTS.c.erased_at.is_(None)),
    )
    .on_conflict_do_nothing(index_elements=[_TOKENS.c.code_hash])
    .returning(_TOKENS.c.access_token_hash)
    for dialect, insert_on_conflict in _INSERT_ON_CONFLICT.items()
}


def _detail_names(token: dict) -> str | None:
    """What a token row keeps of its RFC 9396 details: the names granted (JSON), or None
    for a token of scopes only (oauth/rich_authorization.py builds the details)."""
    granted = token.get("authorization_details")
    return None if granted is None else json.dumps([d["field"] for d in granted])


class TokenService:
    """Owns ``tokens``, and the authorization codes they are exchanged for."""

    def __init__(
        self,
        session,
        ledger: Ledger,
        master_keys: MasterKeys | bytes,
        refresh_grace: timedelta = REFRESH_GRACE,
    ):
        self.session = session
        self.ledger = ledger
        self.codes = CodeSeal(master_keys)
        self.retries = RetrySeal(master_keys)
        self.refresh_grace = refresh_grace

    def redeemable_code(self, code: str, client_id: str) -> AuthorizationCode | None:
        """The code, if it is this client's, expired or not. An expired code is refused only
        when its token would be saved (:meth:`save_token_for_code`): after the request has
        proved it holds the code, so that only such a request can revoke as a replay."""
        return self.codes.open(code, client_id)

    def save_token_for_code(
        self, token: dict, client, code: AuthorizationCode, jkt: str | None = None
    ) -> bool:
        """Store the first token pair of a code's family (hashed) and commit it; the same
        INSERT uses the code up. False, with nothing stored, if the code has expired, was
        used before (a replay), or its account is no longer active.

        Called only once the request has proved it holds the code: the client authenticated
        (with its secret, if it has one), the redirect URI matched and the PKCE verifier
        answered the code's challenge. A replay, expired or not, is revoked only then.

        ``client`` is any client record with ``client_id`` and ``brand_id``. ``jkt``: the
        thumbprint of the DPoP key the pair is bound to (RFC 9449), if any.
        """
        now = utcnow()
        if code.expires_at <= now:
            self._refuse(code, client.client_id)
            return False
        refresh = token.get("refresh_token")
        statement = _INSERT_TOKEN_FOR_CODE[self.session.get_bind().dialect.name]
        inserted = self.session.execute(
            statement,
            {
                "access_token_hash": token_hash(token["access_token"]),
                "refresh_token_hash": token_hash(refresh) if refresh else None,
                "client_id": client.client_id,
                "brand_id": client.brand_id,
                "scope": token.get("scope", ""),
                # A family is named after the code that started it.
                "family_id": code.code_hash,
                "code_hash": code.code_hash,
                "issued_at": now,
                "access_expires_at": now + timedelta(seconds=int(token["expires_in"])),
                "refresh_expires_at": now + REFRESH_LIFETIME if refresh else None,
                "authorization_details": _detail_names(token),
                "jkt": jkt,
                "code_account_id": code.account_id,
            },
        ).first()
        if inserted is None:
            self._refuse(code, client.client_id)
            return False
        self.session.commit()
        return True

    def _refuse(self, code: AuthorizationCode, client_id: str) -> None:
        """A code that gets no token. If it got one before, this is a replay: every token
        the code produced is revoked (RFC 6749 §4.1.2), and the replay recorded, committed."""
        # The INSERT claimed nothing. Whatever is written now is a transaction of its own:
        # the exchange's was begun as db.one_write, which allows that INSERT alone.
        self.session.commit()
        used = self.session.scalar(
            select(_TOKENS.c.family_id).where(_TOKENS.c.code_hash == code.code_hash)
        )
        if used is not None:
            self._revoke_family_recorded(code.code_hash, EventType.CODE_REPLAYED, client_id)

    def save_token(
        self,
        token: dict,
        client,
        account_id: int,
        family_id: str,
        replaced: str | None = None,
        jkt: str | None = None,
    ) -> None:
        """Store a rotated access/refresh pair (hashed) and commit it, with the claim on the
        refresh token it was issued for.

        ``replaced`` is that refresh token: for the grace window the pair is also kept
        sealed under a key only it opens (:class:`RetrySeal`), so a retry of this refresh
        gets the same pair (:meth:`rotate_refresh`). Pairs whose window has ended are
        dropped here too.

        ``client`` is any client record with ``client_id`` and ``brand_id`` (the token
        endpoint authenticates clients without loading the ORM object). ``jkt``: as for
        :meth:`save_token_for_code`.
        """
        now = utcnow()
        refresh = token.get("refresh_token")
        retry = bool(replaced and refresh and self.refresh_grace > timedelta(0))
        self.session.execute(
            _INSERT_TOKEN,
            {
                "access_token_hash": token_hash(token["access_token"]),
                "refresh_token_hash": token_hash(refresh) if refresh else None,
                "client_id": client.client_id,
                "account_id": account_id,
                "brand_id": client.brand_id,
                "scope": token.get("scope", ""),
                "family_id": family_id,
                "issued_at": now,
                "access_expires_at": now + timedelta(seconds=int(token["expires_in"])),
                "refresh_expires_at": now + REFRESH_LIFETIME if refresh else None,
                "authorization_details": _detail_names(token),
                "jkt": jkt,
                "retry_sealed": (
                    self.retries.seal(replaced, client.client_id, token["access_token"], refresh)
                    if retry
                    else None
                ),
                "retry_until": now + self.refresh_grace if retry else None,
            },
        )
        self._drop_ended_retries(now)
        self.session.commit()

    def _drop_ended_retries(self, now: datetime) -> None:
        """Drop the sealed pairs whose retry window has ended, whoever's they are (a few rows,
        found by a partial index). Rows another transaction holds are skipped, not waited
        for (PostgreSQL): the next refresh drops them."""
        ended = (
            select(_TOKENS.c.access_token_hash)
            .where(_TOKENS.c.retry_until <= now)
            .limit(100)
            .with_for_update(skip_locked=True)
        )
        self.session.execute(
            update(_TOKENS)
            .where(_TOKENS.c.access_token_hash.in_(ended.scalar_subquery()))
            .values(retry_sealed=None, retry_until=None)
        )

    def rotate_refresh(self, refresh_token: str, client_id: str) -> Token | RetriedPair | None:
        """Claim a refresh token for one rotation. Presenting a rotated one again is reuse:
        the whole family is revoked (OAuth 2.0 Security BCP §4.14), unless it is a retry
        of that rotation whose answer was lost: then the pair it issued (see
        :meth:`_retried`)."""
        digest = token_hash(refresh_token)
        now = utcnow()
        # The consumer's lock for the brand first (shared), as a revoke takes it before it
        # ends the brand's tokens: a rotation and a revoke run one after the other
        # (ledger/ordering.py). Otherwise, on PostgreSQL, a revoke whose UPDATE waited for
        # this claim's row lock would not see the new token this rotation inserts (its
        # snapshot predates it), and that token would outlive it.
        owner = self.session.execute(
            select(Token.account_id, Token.brand_id).where(Token.refresh_token_hash == digest)
        ).first()
        if owner is not None and owner.brand_id is not None:
            ordering.hold(self.session, owner.account_id, [owner.brand_id], shared=True)
        # The UPDATE takes the row lock: a concurrent rotation waits, then finds it rotated.
        # Using this pair's refresh token ends the retry of the refresh that issued it.
        claimed = self.session.execute(
            update(Token)
            .where(
                Token.refresh_token_hash == digest,
                Token.client_id == client_id,
                Token.rotated_at.is_(None),
                Token.revoked_at.is_(None),
                Token.refresh_expires_at > now,
            )
            .values(rotated_at=now, retry_sealed=None, retry_until=None)
        ).rowcount
        row = self.session.scalar(select(Token).where(Token.refresh_token_hash == digest))
        if claimed == 1:
            return row
        if row is not None and row.client_id == client_id and row.rotated_at is not None:
            retried = self._retried(row, refresh_token, now)
            if retried is not None:
                # Nothing was written: end the transaction, and the consumer's lock.
                self.session.commit()
                return retried
            self._revoke_family_recorded(row.family_id, EventType.REFRESH_REUSED, client_id, now)
        return None

    def _retried(self, replaced: Token, refresh_token: str, now: datetime) -> RetriedPair | None:
        """The pair ``replaced`` was rotated into, if presenting it again is a retry of that
        rotation: within the grace window, and while the pair is unused (its refresh token
        not used, no read by the client of this consumer recorded since it was issued).

        Only the pair sealed for this very refresh token opens (:class:`RetrySeal`): a
        rotated token older than the last one finds none, and is reuse.
        """
        if replaced.revoked_at is not None:
            return None
        candidates = self.session.scalars(
            select(Token).where(
                Token.family_id == replaced.family_id,
                Token.retry_sealed.is_not(None),
                Token.retry_until > now,
                Token.rotated_at.is_(None),
                Token.revoked_at.is_(None),
            )
        ).all()
        for successor in candidates:
            pair = self.retries.open(successor.retry_sealed, refresh_token, replaced.client_id)
            if pair is None:
                continue
            if self._read_since(successor):
                return None
            access_token, new_refresh_token = pair
            return RetriedPair(
                client_id=successor.client_id,
                access_token=access_token,
                refresh_token=new_refresh_token,
                scope=successor.scope,
                expires_in=successor.get_expires_in(),
                jkt=successor.jkt,
            )
        return None

    def _read_since(self, token: Token) -> bool:
        """Whether the ledger records anything the token's client did with this consumer
        since the token was issued: the one trace a use of an access token leaves (a read is
        recorded before any value leaves). Which token of the family it was is not recorded,
        so any counts, which errs towards revoking."""
        pseudonym = self.session.scalar(
            select(_ACCOUNTS.c.pseudonym).where(_ACCOUNTS.c.id == token.account_id)
        )
        found = self.session.scalar(
            select(AuditEvent.seq)
            .where(
                AuditEvent.subject == pseudonym,
                AuditEvent.actor == f"client:{token.client_id}",
                AuditEvent.occurred_at >= token.issued_at,
            )
            .limit(1)
        )
        return found is not None

    def find(self, token: str) -> Token | None:
        """A token row by its access token or its refresh token."""
        digest = token_hash(token)
        row = self.session.get(Token, digest)
        if row is None:
            row = self.session.scalar(select(Token).where(Token.refresh_token_hash == digest))
        return row

    def revoke_exposed(self, token: str) -> bool:
        """Revoke the family of a token sent where it leaks (a URL, which logs and proxies
        keep), and record it; whether it was a live token. Commits."""
        row = self.find(token)
        if row is None or row.revoked_at is not None:
            return False
        self._revoke_family_recorded(row.family_id, EventType.TOKEN_EXPOSED, row.client_id)
        return True

    def revoke(self, token: Token, client_id: str) -> None:
        """A client's revocation request (RFC 7009): the token's whole family, committed."""
        self._revoke_family_recorded(token.family_id, EventType.TOKEN_REVOKED, client_id)

    def _revoke_family_recorded(
        self, family_id: str, why: EventType, client_id: str, now=None
    ) -> None:
        """Revoke the family and record why on the ledger, committed together."""
        self.revoke_family(family_id, now)
        self.ledger.append(
            Event(why, actor=f"client:{client_id}", details={"family": family_id[:16]})
        )
        self.session.commit()

    def revoke_family(self, family_id: str, now=None) -> None:
        """Revoke every token descended from one authorization (and drop any pair kept
        sealed for a retry)."""
        self.session.execute(
            update(Token)
            .where(Token.family_id == family_id, Token.revoked_at.is_(None))
            .values(revoked_at=now or utcnow(), retry_sealed=None, retry_until=None)
        )

    def revoke_all_of_account(self, account_id: int, now=None) -> int:
        """Revoke every token issued for the account, in the caller's transaction; how many."""
        return self.session.execute(
            update(Token)
            .where(Token.account_id == account_id, Token.revoked_at.is_(None))
            .values(revoked_at=now or utcnow())
        ).rowcount


def narrow_scopes(session, account_id: int, brand_id: int, names, now: datetime) -> None:
    """Take the scopes of the grants ``names`` (just revoked) out of every usable token the
    brand holds for the consumer, in the caller's transaction (the revoke's).

    A token then covers a revoked field no more, whatever is granted later: granting the
    field again reaches only tokens issued after (a new consent), never a family issued
    before the revoke. Reads, refreshes and introspection all intersect a token's scope
    with the live grants, so this one statement is enough. A token's scope is its scopes
    separated by single spaces (as issued), so each is cut out by text replacement.
    """
    ended = sorted({scope_of(name) for name in names})
    if not ended:
        return
    padded = literal(" ") + _TOKENS.c.scope + literal(" ")
    narrowed = padded
    for scope in ended:
        narrowed = func.replace(narrowed, f" {scope} ", " ")
    session.execute(
        update(_TOKENS)
        .where(
            _TOKENS.c.account_id == account_id,
            _TOKENS.c.brand_id == brand_id,
            _TOKENS.c.revoked_at.is_(None),
            # Only tokens that can still be used: an access token not yet expired, or a
            # refresh token neither used nor expired. Older rows are history.
            or_(
                _TOKENS.c.access_expires_at > now,
                and_(_TOKENS.c.rotated_at.is_(None), _TOKENS.c.refresh_expires_at > now),
            ),
            or_(*(padded.contains(f" {scope} ", autoescape=True) for scope in ended)),
        )
        .values(scope=func.trim(narrowed))
    )
