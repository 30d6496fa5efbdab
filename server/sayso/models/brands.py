"""Brands, their domains and people, and their OAuth clients (owned by the brand service)."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Integer, LargeBinary, String, Text, false
from sqlalchemy.orm import Mapped, mapped_column, relationship

from sayso.extensions import db
from sayso.models.types import UTCDateTime
from sayso.shared.clock import utcnow


class Brand(db.Model):
    """An organisation that asks consumers for access. ``public_id`` is what the world sees."""

    __tablename__ = "brands"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    public_id: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    domains: Mapped[list[BrandDomain]] = relationship(
        back_populates="brand", cascade="all, delete-orphan", order_by="BrandDomain.domain"
    )
    clients: Mapped[list[OAuthClient]] = relationship(
        back_populates="brand", cascade="all, delete-orphan", order_by="OAuthClient.id"
    )


class BrandDomain(db.Model):
    """A registrable domain a brand claims; ``verified_at`` once an operator checked it."""

    __tablename__ = "brand_domains"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    brand_id: Mapped[int] = mapped_column(ForeignKey("brands.id", ondelete="CASCADE"), index=True)
    domain: Mapped[str] = mapped_column(String(253), unique=True)
    verified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    brand: Mapped[Brand] = relationship(back_populates="domains")


class BrandMember(db.Model):
    """An account that may use a brand's portal."""

    __tablename__ = "brand_members"

    account_id: Mapped[int] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True
    )
    brand_id: Mapped[int] = mapped_column(ForeignKey("brands.id", ondelete="CASCADE"), index=True)


class OAuthClient(db.Model):
    """An OAuth 2 client of a brand (or, with no brand, a first-party public client).

    The secret is stored as a SHA-256 hash; the webhook secret, which Sayso must use
    to sign, is stored sealed with a key derived from the master key.
    """

    __tablename__ = "oauth_clients"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    client_id: Mapped[str] = mapped_column(String(48), unique=True)
    client_secret_hash: Mapped[str | None] = mapped_column(String(64))
    brand_id: Mapped[int | None] = mapped_column(
        ForeignKey("brands.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(120))
    redirect_uris_json: Mapped[str] = mapped_column("redirect_uris", Text, default="[]")
    # {"interests:read": "the purpose the brand declared for it", ...}
    scope_purposes_json: Mapped[str] = mapped_column("scope_purposes", Text, default="{}")
    # The purposes in other languages: {"fr": {"interests:read": "..."}, "de": {...}}
    # (registration's ``sayso_purposes#fr``); NULL: the brand's own words only.
    purpose_translations_json: Mapped[str | None] = mapped_column("purpose_translations", Text)
    webhook_url: Mapped[str | None] = mapped_column(String(2048))
    webhook_secret_sealed: Mapped[bytes | None] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    secret_rotated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # RFC 9126: authorization requests only by reference to one pushed to /oauth/par.
    require_pushed_authorization_requests: Mapped[bool] = mapped_column(
        Boolean, default=False, server_default=false()
    )
    # RFC 9449 section 5.2: every token request must carry a DPoP proof, so every token of
    # this client is bound to a key.
    dpop_bound_access_tokens: Mapped[bool] = mapped_column(
        Boolean, default=False, server_default=false()
    )

    brand: Mapped[Brand | None] = relationship(back_populates="clients")

    @property
    def redirect_uris(self) -> list[str]:
        return json.loads(self.redirect_uris_json)

    @redirect_uris.setter
    def redirect_uris(self, value: list[str]) -> None:
        self.redirect_uris_json = json.dumps(list(value))

    # Stored as ``{scope: purpose}``; a scope whose purpose passes data to third parties
    # is stored as ``{scope: {"purpose": ..., "third_parties": true}}``, so rows written
    # before the flag existed read the same.

    @property
    def scope_purposes(self) -> dict[str, str]:
        return {
            scope: value["purpose"] if isinstance(value, dict) else value
            for scope, value in json.loads(self.scope_purposes_json).items()
        }

    @scope_purposes.setter
    def scope_purposes(self, value: dict[str, str]) -> None:
        self.declare_scopes(value, ())

    @property
    def purpose_translations(self) -> dict[str, dict[str, str]]:
        return json.loads(self.purpose_translations_json or "{}")

    @purpose_translations.setter
    def purpose_translations(self, value: dict[str, dict[str, str]] | None) -> None:
        self.purpose_translations_json = json.dumps(value, sort_keys=True) if value else None

    @property
    def third_party_scopes(self) -> list[str]:
        """The scopes whose declared purpose involves passing data to third parties."""
        return sorted(
            scope
            for scope, value in json.loads(self.scope_purposes_json).items()
            if isinstance(value, dict) and value.get("third_parties")
        )

    def declare_scopes(self, purposes: dict[str, str], third_parties) -> None:
        """Set each scope's purpose, flagging those that pass data to third parties."""
        flagged = set(third_parties)
        self.scope_purposes_json = json.dumps(
            {
                scope: {"purpose": purpose, "third_parties": True} if scope in flagged else purpose
                for scope, purpose in purposes.items()
            },
            sort_keys=True,
        )

    @property
    def is_public(self) -> bool:
        return self.client_secret_hash is None

    # Authlib's ClientMixin protocol -----------------------------------------

    def get_client_id(self) -> str:
        return self.client_id

    def get_default_redirect_uri(self) -> str | None:
        # Only when there is no doubt: one registered URI.
        uris = self.redirect_uris
        return uris[0] if len(uris) == 1 else None

    def get_allowed_scope(self, scope: str | None) -> str:
        shared = self.third_party_scopes
        allowed = [s for s in self.scope_purposes if s not in shared]
        if not scope:
            return " ".join(allowed)
        return " ".join(s for s in allowed if s in scope.split())

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        # Exact string match: no prefix, case, query or trailing-slash leniency.
        return redirect_uri in self.redirect_uris

    def check_client_secret(self, client_secret: str) -> bool:
        if self.client_secret_hash is None or not isinstance(client_secret, str):
            return False
        digest = hashlib.sha256(client_secret.encode()).hexdigest()
        return hmac.compare_digest(self.client_secret_hash, digest)

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        if self.is_public:
            # A public client (the browser extension) proves itself with PKCE, and may
            # revoke its own tokens; it cannot introspect.
            return method == "none" and endpoint in {"token", "revocation"}
        return method in {"client_secret_basic", "client_secret_post"}

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code"

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type in {"authorization_code", "refresh_token"}


class InitialAccessToken(db.Model):
    """A brand's bearer token for dynamic client registration (RFC 7591), stored hashed.
    It works until ``expires_at``, for ``uses_left`` more registrations, unless revoked."""

    __tablename__ = "initial_access_tokens"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    brand_id: Mapped[int] = mapped_column(ForeignKey("brands.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    uses_left: Mapped[int] = mapped_column(Integer)
