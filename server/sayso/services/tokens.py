"""OAuth codes and tokens: stored hashed, single-use, rotated, revocable as a family."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import bindparam, exists, insert, select, update

from sayso.models import Account, AuthorizationCode, OAuthClient, Token
from sayso.models._types import UTCDateTime, utcnow
from sayso.services.brands import token_hash
from sayso.services.ledger import Event, EventType, Ledger

CODE_LIFETIME = timedelta(seconds=60)
ACCESS_LIFETIME = timedelta(minutes=10)
REFRESH_LIFETIME = timedelta(days=30)

# The statements of the code exchange, built once: Core, not ORM, because the token endpoint
# is on every brand's sign-in path and an ORM load or flush costs more than the SQL itself.
_CODES = AuthorizationCode.__table__
_TOKENS = Token.__table__
_ACCOUNTS = Account.__table__
_INSERT_CODE = insert(_CODES)
_INSERT_TOKEN = insert(_TOKENS)
# Claim and read a code in one statement. The parameters are not named after columns: an
# UPDATE would take a parameter named like a column as a value to SET.
_CLAIM_CODE = (
    update(_CODES)
    .where(
        _CODES.c.code_hash == bindparam("claim_hash"),
        _CODES.c.client_id == bindparam("claim_client"),
        _CODES.c.used_at.is_(None),
        _CODES.c.expires_at > bindparam("claim_now", type_=UTCDateTime),
    )
    .values(used_at=bindparam("claim_now", type_=UTCDateTime))
    .returning(
        _CODES.c.code_hash,
        _CODES.c.account_id,
        _CODES.c.redirect_uri,
        _CODES.c.scope,
        _CODES.c.code_challenge,
        _CODES.c.code_challenge_method,
        # Whether the code's account may still get a token, asked in the same statement.
        exists()
        .where(_ACCOUNTS.c.id == _CODES.c.account_id, _ACCOUNTS.c.erased_at.is_(None))
        .label("account_active"),
    )
)


@dataclass(frozen=True, slots=True)
class RedeemedCode:
    """A code just claimed for one token request: what Authlib checks it against
    (its ``AuthorizationCodeMixin`` protocol) and whose it is."""

    code_hash: str
    account_id: int
    redirect_uri: str
    scope: str
    code_challenge: str
    code_challenge_method: str
    account_active: bool

    def get_redirect_uri(self) -> str:
        return self.redirect_uri

    def get_scope(self) -> str:
        return self.scope


class TokenService:
    """Owns ``authorization_codes`` and ``tokens``."""

    def __init__(self, session, ledger: Ledger):
        self.session = session
        self.ledger = ledger

    def save_code(
        self,
        code: str,
        client: OAuthClient,
        account_id: int,
        redirect_uri: str,
        scope: str,
        code_challenge: str,
        code_challenge_method: str,
    ) -> None:
        """Store a fresh authorization code (hashed) and commit it, together with whatever
        the caller left in the transaction (the consent page's grants and their event)."""
        now = utcnow()
        self.session.execute(
            _INSERT_CODE,
            {
                "code_hash": token_hash(code),
                "client_id": client.client_id,
                "account_id": account_id,
                "redirect_uri": redirect_uri,
                "scope": scope,
                "code_challenge": code_challenge,
                "code_challenge_method": code_challenge_method,
                "created_at": now,
                "expires_at": now + CODE_LIFETIME,
            },
        )
        self.session.commit()

    def redeem_code(self, code: str, client_id: str) -> RedeemedCode | None:
        """Claim a code for this client, once. A second claim is a replay: it revokes every
        token the code produced (RFC 6749 §4.1.2) and is recorded on the ledger."""
        code_hash = token_hash(code)
        now = utcnow()
        # Compare-and-set, returning the row: of two concurrent redemptions exactly one gets
        # it back. The claim stands only if the token is saved in the same transaction.
        claimed = self.session.execute(
            _CLAIM_CODE, {"claim_hash": code_hash, "claim_client": client_id, "claim_now": now}
        ).first()
        if claimed is not None:
            row = claimed._asdict()
            # SQLite answers EXISTS with 0 or 1, PostgreSQL with a boolean.
            row["account_active"] = bool(row["account_active"])
            return RedeemedCode(**row)
        # Not claimable: unknown, expired, another client's, or used already (a replay).
        row = self.session.get(AuthorizationCode, code_hash)
        if row is not None and row.client_id == client_id and row.used_at is not None:
            self.revoke_family(code_hash, now)
            self.ledger.append(
                Event(
                    EventType.CODE_REPLAYED,
                    actor=f"client:{client_id}",
                    details={"family": code_hash[:16]},
                )
            )
            self.session.commit()
        return None

    def save_token(self, token: dict, client, account_id: int, family_id: str) -> None:
        """Store an issued access/refresh pair (hashed) and commit it, with the claim on the
        code or refresh token it was issued for.

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
            self.revoke_family(row.family_id, now)
            self.ledger.append(
                Event(
                    EventType.REFRESH_REUSED,
                    actor=f"client:{client_id}",
                    details={"family": row.family_id[:16]},
                )
            )
            self.session.commit()
        return None

    def find(self, token: str) -> Token | None:
        """A token row by its access token or its refresh token."""
        digest = token_hash(token)
        row = self.session.get(Token, digest)
        if row is None:
            row = self.session.scalar(select(Token).where(Token.refresh_token_hash == digest))
        return row

    def revoke(self, token: Token, client_id: str) -> None:
        """A client's revocation request (RFC 7009): the token's whole family, committed."""
        self.revoke_family(token.family_id)
        self.ledger.append(
            Event(
                EventType.TOKEN_REVOKED,
                actor=f"client:{client_id}",
                details={"family": token.family_id[:16]},
            )
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
