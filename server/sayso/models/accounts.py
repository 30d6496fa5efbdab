"""People who sign in: consumers (and, later, officers and brand members)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, Integer, LargeBinary, String, false
from sqlalchemy.orm import Mapped, mapped_column

from sayso.extensions import db
from sayso.models.types import UTCDateTime
from sayso.shared.clock import utcnow


class Account(db.Model):
    """An account. The email is kept only as a keyed hash (to look it up) and encrypted."""

    __tablename__ = "accounts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    role: Mapped[str] = mapped_column(String(16), default="consumer")
    # HMAC of the normalised email: lets sign-in find the account without plaintext.
    email_index: Mapped[bytes | None] = mapped_column(LargeBinary(32), unique=True)
    email_encrypted: Mapped[bytes | None] = mapped_column(LargeBinary)
    password_hash: Mapped[str | None] = mapped_column(String(255))
    # The consumer's id in the ledger: random, never derived from the email or row id.
    pseudonym: Mapped[str] = mapped_column(String(32), unique=True)
    # Bumped on password change so every other session of the account ends.
    session_epoch: Mapped[int] = mapped_column(Integer, default=0)
    # The consumer's IANA time zone (quiet hours, times shown on pages); None until set.
    time_zone: Mapped[str | None] = mapped_column(String(64))
    # The language chosen with the picker (en, fr, de); None: follow Accept-Language.
    language: Mapped[str | None] = mapped_column(String(8))
    # When the consumer followed the emailed confirmation link (None: not yet; such an
    # account may sign in but grant nothing to a brand).
    email_confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # SHA-256 (hex) of the one live confirmation link, and of the one live password reset
    # link with when it ends; each is cleared when used, replaced by a newer link.
    confirm_token_hash: Mapped[str | None] = mapped_column(String(64), index=True, unique=True)
    reset_token_hash: Mapped[str | None] = mapped_column(String(64), index=True, unique=True)
    reset_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Ask for a passkey after the password (services/passkeys.py); off by default.
    passkey_second_factor: Mapped[bool] = mapped_column(
        Boolean, default=False, server_default=false()
    )
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    erased_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    # Flask-Login protocol.
    is_anonymous = False

    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def is_active(self) -> bool:
        return self.erased_at is None

    @property
    def email_confirmed(self) -> bool:
        """Whether the address was confirmed by the emailed link (or by a password reset)."""
        return self.email_confirmed_at is not None

    def get_id(self) -> str:
        return f"{self.id}.{self.session_epoch}"
