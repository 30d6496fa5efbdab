"""Initial access tokens (RFC 7591): bearer tokens with which a brand registers OAuth
clients itself, each expiring and good for a number of registrations, stored hashed."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update

from sayso.ledger import Event, EventType, Ledger
from sayso.models import Brand, InitialAccessToken
from sayso.shared.clock import utcnow
from sayso.shared.tokens import INITIAL_ACCESS_TOKEN_PREFIX, new_secret, token_hash


@dataclass(frozen=True)
class IssuedInitialAccessToken:
    """An initial access token as just issued (the only moment it exists in clear), with
    its limits."""

    token: str
    expires_at: datetime
    uses: int


class InitialAccessTokenSpent(Exception):
    """The initial access token stopped working (revoked, expired or used up) between
    the check of the request and the registration."""


class InitialAccessTokens:
    """Owns ``initial_access_tokens``: issues, counts down, expires and revokes them."""

    def __init__(self, session, ledger: Ledger, lifetime: timedelta, uses: int):
        self.session = session
        self.ledger = ledger
        self.lifetime = lifetime
        self.uses = uses

    def issue(self, brand: Brand, actor: str = "operator") -> IssuedInitialAccessToken:
        """A bearer token with which the brand may register clients (RFC 7591), until it
        expires or has registered its number of clients. Commits."""
        token = new_secret(INITIAL_ACCESS_TOKEN_PREFIX)
        expires_at = utcnow() + self.lifetime
        self.session.add(
            InitialAccessToken(
                token_hash=token_hash(token),
                brand_id=brand.id,
                expires_at=expires_at,
                uses_left=self.uses,
            )
        )
        self.ledger.append(
            Event(
                EventType.INITIAL_TOKEN_ISSUED,
                actor=actor,
                brand=brand.public_id,
                details={
                    "expires_at": expires_at.isoformat(timespec="seconds"),
                    "uses": self.uses,
                },
            )
        )
        self.session.commit()
        return IssuedInitialAccessToken(token, expires_at, self.uses)

    def live(self, brand: Brand) -> list[InitialAccessToken]:
        """The brand's initial access tokens that still work, newest first."""
        return list(
            self.session.scalars(
                select(InitialAccessToken)
                .where(InitialAccessToken.brand_id == brand.id, *self._live(utcnow()))
                .order_by(InitialAccessToken.created_at.desc())
            )
        )

    def revoke_all(self, brand: Brand, actor: str = "operator") -> int:
        """Revoke every initial access token of the brand that still works; how many there
        were. Commits, with the ledger event (when there was any to revoke)."""
        revoked = self.session.execute(
            update(InitialAccessToken)
            .where(InitialAccessToken.brand_id == brand.id, *self._live(utcnow()))
            .values(revoked_at=utcnow())
        ).rowcount
        if revoked:
            self.ledger.append(
                Event(
                    EventType.INITIAL_TOKENS_REVOKED,
                    actor=actor,
                    brand=brand.public_id,
                    details={"count": revoked},
                )
            )
        self.session.commit()
        return revoked

    def brand_for(self, token: str) -> Brand | None:
        """The brand an initial access token belongs to, if it still works: not revoked,
        not expired, not used up."""
        row = self.session.get(InitialAccessToken, token_hash(token))
        if row is None or not self._works(row, utcnow()):
            return None
        return self.session.get(Brand, row.brand_id)

    def revoke_exposed(self, token: str) -> bool:
        """Revoke an initial access token sent where it leaks (a URL, which logs and
        proxies keep), and record it as any exposed token is; whether it still worked.
        Commits."""
        row = self.session.get(InitialAccessToken, token_hash(token))
        if row is None or not self._works(row, utcnow()):
            return False
        row.revoked_at = utcnow()
        brand = self.session.get(Brand, row.brand_id)
        self.ledger.append(
            Event(
                EventType.TOKEN_EXPOSED,
                actor=f"registration:{row.token_hash[:16]}",
                brand=brand.public_id,
                details={"initial_access_token": row.token_hash[:16]},
            )
        )
        self.session.commit()
        return True

    def use(self, hashed: str) -> bool:
        """Take one use of the token, if it still works (one conditional ``UPDATE``: of
        two registrations racing for its last use, one gets it)."""
        return (
            self.session.execute(
                update(InitialAccessToken)
                .where(InitialAccessToken.token_hash == hashed, *self._live(utcnow()))
                .values(uses_left=InitialAccessToken.uses_left - 1)
            ).rowcount
            == 1
        )

    @staticmethod
    def _live(now: datetime) -> tuple:
        return (
            InitialAccessToken.revoked_at.is_(None),
            InitialAccessToken.expires_at > now,
            InitialAccessToken.uses_left > 0,
        )

    @staticmethod
    def _works(row: InitialAccessToken, now: datetime) -> bool:
        return row.revoked_at is None and row.expires_at > now and row.uses_left > 0
