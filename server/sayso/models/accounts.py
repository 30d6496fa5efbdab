"""People who sign in: consumers (and, later, officers and brand members)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer, LargeBinary, String
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

    def get_id(self) -> str:
        return f"{self.id}.{self.session_epoch}"
