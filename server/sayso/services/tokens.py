"""OAuth codes and tokens: codes sealed rather than stored, tokens stored hashed; each
code used once, refresh tokens rotated, a family of tokens revocable as one."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import and_, bindparam, func, insert, literal, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite

from sayso.fields import scope_of
from sayso.ledger import Event, EventType, Ledger, ordering
from sayso.models import Account, AuditEvent, Token
from sayso.models._types import utcnow
from sayso.services.brands import token_hash
from sayso.services.vault import MasterKeys, VaultError, derive_key, seal, unseal

CODE_LIFETIME = timedelta(seconds=60)
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


@dataclass(frozen=True, slots=True)
class AuthorizationCode:
    """An authorization code, opened: what the consumer consented to, which Authlib checks
    the token request against (its ``AuthorizationCodeMixin`` protocol), and whose it is."""

    code_hash: str
    account_id: int
    redirect_uri: str
    scope: str
    code_challenge: str
    code_challenge_method: str
    expires_at: datetime

    def get_redirect_uri(self) -> str:
        return self.redirect_uri

    def get_scope(self) -> str:
        return self.scope


class CodeSeal:
    """Authorization codes that carry their own contents, encrypted and authenticated.

    A code is base64url (unpadded) of a vault seal (``0x01`` version byte, random 96-bit
    nonce, AES-256-GCM ciphertext and tag) of compact JSON ``[account_id, expires_at,
    redirect_uri, scope, code_challenge, code_challenge_method]``, with a key derived from
    the master key. The random nonce makes each code unique (it is the code's id). The
    associated data names the client, so a code opens only for the client it was issued
    to; its ``v1`` versions the JSON layout, as the leading byte versions the seal.

    A code is sealed under the current master key and opens under any configured one: a
    code issued just before a rotation is exchanged after it (codes live 60 seconds).
    """

    def __init__(self, master_keys: MasterKeys | bytes):
        self._keys = [key.aead("authorization-codes/v1") for key in MasterKeys.coerce(master_keys)]

    def seal(
        self,
        client_id: str,
        account_id: int,
        redirect_uri: str,
        scope: str,
        code_challenge: str,
        code_challenge_method: str,
    ) -> str:
        """A fresh code for the client, valid for ``CODE_LIFETIME``."""
        expires_at = int(utcnow().timestamp()) + int(CODE_LIFETIME.total_seconds())
        contents = [
            account_id,
            expires_at,
            redirect_uri,
            scope,
            code_challenge,
            code_challenge_method,
        ]
        plaintext = json.dumps(contents, separators=(",", ":")).encode()
        return _base64url(seal(self._keys[0], plaintext, self._label(client_id)))

    def open(self, code: str, client_id: str) -> AuthorizationCode | None:
        """The code's contents, expired or not, if it was sealed by this key for this
        client; ``None`` for anything else (altered, another client's, another key's)."""
        try:
            blob = base64.urlsafe_b64decode(code + "=" * (-len(code) % 4))
        except (binascii.Error, ValueError):
            return None
        # Base64 spells the same bytes in more than one way (it skips stray characters, and
        # ignores the spare bits of the last one). A code is used up by the hash of its
        # text, so only the one spelling Sayso issued may open.
        if _base64url(blob) != code:
            return None
        plaintext = _unseal_any(self._keys, blob, self._label(client_id))
        if plaintext is None:
            return None
        account_id, expires_at, redirect_uri, scope, challenge, method = json.loads(plaintext)
        return AuthorizationCode(
            code_hash=token_hash(code),
            account_id=account_id,
            redirect_uri=redirect_uri,
            scope=scope,
            code_challenge=challenge,
            code_challenge_method=method,
            expires_at=datetime.fromtimestamp(expires_at, UTC),
        )

    @staticmethod
    def _label(client_id: str) -> bytes:
        return f"sayso/authorization-code/v1/{client_id}".encode()


def _unseal_any(keys: list[AESGCM], blob: bytes, label: bytes) -> bytes | None:
    """What ``blob`` holds, if one of ``keys`` (one per configured master key) opens it."""
    for aead in keys:
        try:
            return unseal(aead, blob, label)
        except VaultError:
            continue
    return None


def _base64url(blob: bytes) -> str:
    return base64.urlsafe_b64encode(blob).rstrip(b"=").decode()


class RetrySeal:
    """A pair issued by a refresh, sealed so that only the refresh token it replaced opens it.

    The key is HMAC-SHA256, keyed by a subkey of the master key, of that refresh token,
    which Sayso never stores (only its hash): so neither the database nor the master key
    alone opens a sealed pair. The seal is the vault's (``0x01``, random nonce, AES-256-GCM)
    of compact JSON ``[access_token, refresh_token]``; the associated data names the client.
    Sealed under the current master key, opened under any configured one (a pair lives
    ``SAYSO_REFRESH_GRACE_SECONDS``, a minute at most).
    """

    def __init__(self, master_keys: MasterKeys | bytes):
        self._roots = [
            derive_key(key.secret, "refresh-retries/v1") for key in MasterKeys.coerce(master_keys)
        ]

    def seal(self, replaced: str, client_id: str, access_token: str, refresh_token: str) -> bytes:
        """The pair, sealed for a retry that presents ``replaced`` again."""
        plaintext = json.dumps([access_token, refresh_token], separators=(",", ":")).encode()
        return seal(self._aead(self._roots[0], replaced), plaintext, self._label(client_id))

    def open(self, blob: bytes, replaced: str, client_id: str) -> tuple[str, str] | None:
        """The pair, if ``blob`` was sealed for ``replaced`` and this client; else ``None``."""
        keys = [self._aead(root, replaced) for root in self._roots]
        plaintext = _unseal_any(keys, blob, self._label(client_id))
        if plaintext is None:
            return None
        access_token, refresh_token = json.loads(plaintext)
        return access_token, refresh_token

    @staticmethod
    def _aead(root: bytes, replaced: str) -> AESGCM:
        return AESGCM(hmac.new(root, replaced.encode(), hashlib.sha256).digest())

    @staticmethod
    def _label(client_id: str) -> bytes:
        return f"sayso/refresh-retry/v1/{client_id}".encode()


@dataclass(frozen=True, slots=True)
class RetriedPair:
    """The pair a refresh issued, handed again to a retry of that refresh whose answer was
    lost. It answers Authlib's token questions (``check_client``, ``get_scope``) as the
    refresh token's row would."""

    client_id: str
    access_token: str
    refresh_token: str
    scope: str
    expires_in: int

    def check_client(self, client) -> bool:
        return self.client_id == client.get_client_id()

    def get_scope(self) -> str:
        return self.scope

    def response(self) -> dict:
        """The token response, as the refresh that issued the pair answered it (the
        lifetime left, and the scope as it is now)."""
        answer = {
            "token_type": "Bearer",
            "access_token": self.access_token,
            "expires_in": self.expires_in,
            "refresh_token": self.refresh_token,
        }
        if self.scope:
            answer["scope"] = self.scope
        return answer


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

    def save_token_for_code(self, token: dict, client, code: AuthorizationCode) -> bool:
        """Store the first token pair of a code's family (hashed) and commit it; the same
        INSERT uses the code up. False, with nothing stored, if the code has expired, was
        used before (a replay), or its account is no longer active.

        Called only once the request has proved it holds the code: the client authenticated
        (with its secret, if it has one), the redirect URI matched and the PKCE verifier
        answered the code's challenge. A replay, expired or not, is revoked only then.

        ``client`` is any client record with ``client_id`` and ``brand_id``.
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
        self, token: dict, client, account_id: int, family_id: str, replaced: str | None = None
    ) -> None:
        """Store a rotated access/refresh pair (hashed) and commit it, with the claim on the
        refresh token it was issued for.

        ``replaced`` is that refresh token: for the grace window the pair is also kept
        sealed under a key only it opens (:class:`RetrySeal`), so a retry of this refresh
        gets the same pair (:meth:`rotate_refresh`). Pairs whose window has ended are
        dropped here too.

        ``client`` is any client record with ``client_id`` and ``brand_id`` (the token
        endpoint authenticates clients without loading the ORM object).
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
