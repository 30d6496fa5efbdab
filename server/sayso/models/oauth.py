"""Tokens, stored only as SHA-256 hashes (owned by the token service).

Authorization codes have no table: a code is sealed, not stored (``services/tokens.py``).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, LargeBinary, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from sayso.extensions import db
from sayso.models.types import UTCDateTime
from sayso.shared.clock import utcnow


class Token(db.Model):
    """An access token and its refresh token. ``family_id`` links every rotation of one grant."""

    __tablename__ = "tokens"
    __table_args__ = (
        Index("ix_tokens_family_id", "family_id"),
        # Only the few rows of pairs refreshed in the last seconds have one: what the sweep
        # of ended retry windows looks for (services/tokens.py).
        Index(
            "ix_tokens_retry_until",
            "retry_until",
            sqlite_where=text("retry_until IS NOT NULL"),
            postgresql_where=text("retry_until IS NOT NULL"),
        ),
    )

    access_token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    refresh_token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    client_id: Mapped[str] = mapped_column(
        ForeignKey("oauth_clients.client_id", ondelete="CASCADE"), index=True
    )
    account_id: Mapped[int] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), index=True
    )
    brand_id: Mapped[int | None] = mapped_column(Integer)
    scope: Mapped[str] = mapped_column(Text)
    family_id: Mapped[str] = mapped_column(String(64))
    # The hash of the authorization code a family's first token was issued for (NULL on
    # rotated tokens). Unique: inserting the token is what uses the code up, once.
    code_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    access_expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    refresh_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Set when this refresh token was exchanged for a new pair; using it again is reuse.
    rotated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # A pair issued by a refresh: this pair, sealed under a key only the refresh token it
    # replaced opens (never stored in the clear), so a retry of that refresh whose answer
    # was lost gets this same pair back until ``retry_until``. Dropped when this pair's
    # refresh token is used, when the family is revoked, or by a later refresh's sweep once
    # the window has ended.
    retry_sealed: Mapped[bytes | None] = mapped_column(LargeBinary)
    retry_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # RFC 9449: the JWK SHA-256 thumbprint (RFC 7638) of the key the access token is bound
    # to (and, for a public client, the refresh token too); NULL for a bearer token.
    jkt: Mapped[str | None] = mapped_column(String(43))
    # RFC 9396: the names (JSON list) the brand asked for as authorization details, whose
    # granted details the token endpoint and introspection answer; NULL: scopes only.
    authorization_details: Mapped[str | None] = mapped_column(Text)

    # Authlib's TokenMixin protocol.
    def check_client(self, client) -> bool:
        return self.client_id == client.get_client_id()

    def get_scope(self) -> str:
        return self.scope

    def get_expires_in(self) -> int:
        return max(0, int((self.access_expires_at - utcnow()).total_seconds()))

    def is_expired(self) -> bool:
        return self.access_expires_at <= utcnow()

    def is_revoked(self) -> bool:
        return self.revoked_at is not None


class DPoPProof(db.Model):
    """A DPoP proof already accepted (RFC 9449 section 11.1), kept until its ``iat`` is too
    old for it to be accepted anyway: the SHA-256 of its key's thumbprint and its ``jti``.
    Owned by ``services/dpop_proofs.py``."""

    __tablename__ = "dpop_proofs"

    proof_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
