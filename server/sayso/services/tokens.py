"""OAuth codes and tokens: stored hashed, single-use, rotated, revocable as a family."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, update

from sayso.models import AuthorizationCode, OAuthClient, Token
from sayso.models._types import utcnow
from sayso.services.brands import token_hash
from sayso.services.ledger import Event, EventType, Ledger

CODE_LIFETIME = timedelta(seconds=60)
ACCESS_LIFETIME = timedelta(minutes=10)
REFRESH_LIFETIME = timedelta(days=30)


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
        """Store a fresh authorization code (hashed) and commit it."""
        now = utcnow()
        self.session.add(
            AuthorizationCode(
                code_hash=token_hash(code),
                client_id=client.client_id,
                account_id=account_id,
                redirect_uri=redirect_uri,
                scope=scope,
                code_challenge=code_challenge,
                code_challenge_method=code_challenge_method,
                created_at=now,
                expires_at=now + CODE_LIFETIME,
            )
        )
        self.session.commit()

    def redeem_code(self, code: str, client_id: str) -> AuthorizationCode | None:
        """Claim a code for this client, once. A second claim is a replay: it revokes every
        token the code produced (RFC 6749 §4.1.2) and is recorded on the ledger."""
        code_hash = token_hash(code)
        now = utcnow()
        # Compare-and-set: of two concurrent redemptions exactly one sees rowcount 1.
        claimed = self.session.execute(
            update(AuthorizationCode)
            .where(
                AuthorizationCode.code_hash == code_hash,
                AuthorizationCode.client_id == client_id,
                AuthorizationCode.used_at.is_(None),
                AuthorizationCode.expires_at > now,
            )
            .values(used_at=now)
        ).rowcount
        row = self.session.get(AuthorizationCode, code_hash)
        if claimed == 1:
            return row
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

    def save_token(
        self,
        token: dict,
        client: OAuthClient,
        account_id: int,
        family_id: str,
    ) -> Token:
        """Store an issued access/refresh pair (hashed) and commit it, with the claim on the
        code or refresh token it was issued for."""
        now = utcnow()
        row = Token(
            access_token_hash=token_hash(token["access_token"]),
            refresh_token_hash=token_hash(token["refresh_token"])
            if token.get("refresh_token")
            else None,
            client_id=client.client_id,
            account_id=account_id,
            brand_id=client.brand_id,
            scope=token.get("scope", ""),
            family_id=family_id,
            issued_at=now,
            access_expires_at=now + timedelta(seconds=int(token["expires_in"])),
            refresh_expires_at=now + REFRESH_LIFETIME if token.get("refresh_token") else None,
        )
        self.session.add(row)
        self.session.commit()
        return row

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
