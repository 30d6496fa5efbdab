"""OAuth codes and tokens: codes sealed rather than stored, tokens stored hashed; each
code used once, refresh tokens rotated, a family of tokens revocable as one."""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import bindparam, insert, select, update

from sayso.models import Account, Token
from sayso.models._types import utcnow
from sayso.services.brands import token_hash
from sayso.services.consent import INSERT_ON_CONFLICT
from sayso.services.ledger import Event, EventType, Ledger
from sayso.services.vault import VaultError, derive_key, seal, unseal

CODE_LIFETIME = timedelta(seconds=60)
ACCESS_LIFETIME = timedelta(minutes=10)
REFRESH_LIFETIME = timedelta(days=30)

# The statements of the code exchange, built once: Core, not ORM, because the token endpoint
# is on every brand's sign-in path and an ORM load or flush costs more than the SQL itself.
_TOKENS = Token.__table__
_ACCOUNTS = Account.__table__
_INSERT_TOKEN = insert(_TOKENS)
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
    for dialect, insert_on_conflict in INSERT_ON_CONFLICT.items()
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
    """

    def __init__(self, master_key: bytes):
        self._aead = AESGCM(derive_key(master_key, "authorization-codes/v1"))

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
        return _base64url(seal(self._aead, plaintext, self._label(client_id)))

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
        try:
            plaintext = unseal(self._aead, blob, self._label(client_id))
        except VaultError:
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


def _base64url(blob: bytes) -> str:
    return base64.urlsafe_b64encode(blob).rstrip(b"=").decode()


class TokenService:
    """Owns ``tokens``, and the authorization codes they are exchanged for."""

    def __init__(self, session, ledger: Ledger, master_key: bytes):
        self.session = session
        self.ledger = ledger
        self.codes = CodeSeal(master_key)

    def redeemable_code(self, code: str, client_id: str) -> AuthorizationCode | None:
        """The code, if it is this client's and still within its lifetime. An expired code
        may still be a replay, and is handled as one (see :meth:`_refuse`)."""
        opened = self.codes.open(code, client_id)
        if opened is None:
            return None
        if opened.expires_at <= utcnow():
            self._refuse(opened, client_id)
            return None
        return opened

    def save_token_for_code(self, token: dict, client, code: AuthorizationCode) -> bool:
        """Store the first token pair of a code's family (hashed) and commit it; the same
        INSERT uses the code up. False, with nothing stored, if the code was used before (a
        replay) or its account is no longer active.

        ``client`` is any client record with ``client_id`` and ``brand_id``.
        """
        now = utcnow()
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
        # the exchange's was begun as database.one_write, which allows that INSERT alone.
        self.session.commit()
        used = self.session.scalar(
            select(_TOKENS.c.family_id).where(_TOKENS.c.code_hash == code.code_hash)
        )
        if used is not None:
            self._revoke_family_recorded(code.code_hash, EventType.CODE_REPLAYED, client_id)

    def save_token(self, token: dict, client, account_id: int, family_id: str) -> None:
        """Store a rotated access/refresh pair (hashed) and commit it, with the claim on the
        refresh token it was issued for.

        ``client`` is any client record with ``client_id`` and ``brand_id`` (the token
        endpoint authenticates clients without loading the ORM object).
        """
        now = utcnow()
        refresh = token.get("refresh_token")
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
            },
        )
        self.session.commit()

    def rotate_refresh(self, refresh_token: str, client_id: str) -> Token | None:
        """Claim a refresh token for one rotation. Presenting a rotated one again is reuse:
        the whole family is revoked (OAuth 2.0 Security BCP §4.14)."""
        digest = token_hash(refresh_token)
        now = utcnow()
        # The ledger head first, as a revoke takes it before it ends the brand's tokens: a
        # rotation and a revoke run one after the other. Otherwise, on PostgreSQL, a revoke
        # whose UPDATE waited for this claim's row lock would not see the new token this
        # rotation inserts (its snapshot predates it), and that token would outlive it.
        self.ledger.lock()
        # The UPDATE takes the row lock: a concurrent rotation waits, then finds it rotated.
        claimed = self.session.execute(
            update(Token)
            .where(
                Token.refresh_token_hash == digest,
                Token.client_id == client_id,
                Token.rotated_at.is_(None),
                Token.revoked_at.is_(None),
                Token.refresh_expires_at > now,
            )
            .values(rotated_at=now)
        ).rowcount
        row = self.session.scalar(select(Token).where(Token.refresh_token_hash == digest))
        if claimed == 1:
            return row
        if row is not None and row.client_id == client_id and row.rotated_at is not None:
            self._revoke_family_recorded(row.family_id, EventType.REFRESH_REUSED, client_id, now)
        return None

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
        """Revoke every token descended from one authorization."""
        self.session.execute(
            update(Token)
            .where(Token.family_id == family_id, Token.revoked_at.is_(None))
            .values(revoked_at=now or utcnow())
        )

    def revoke_all_of_account(self, account_id: int, now=None) -> int:
        """Revoke every token issued for the account, in the caller's transaction; how many."""
        return self.session.execute(
            update(Token)
            .where(Token.account_id == account_id, Token.revoked_at.is_(None))
            .values(revoked_at=now or utcnow())
        ).rowcount
