"""The mail outbox: messages to people, written with the change that causes them, sent later."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from sayso.extensions import db
from sayso.models.types import UTCDateTime
from sayso.shared.clock import utcnow


class OutgoingMail(db.Model):
    """One message to one account's address, and how sending it went.

    The message (address, subject, body: personal data, and a link that signs in) is
    ``sealed`` with the account's data key, and set to ``None`` once it is sent or given up:
    what stays is its kind, status, attempts and times. Erasing the account shreds the key,
    so a message still queued then is never sent.
    """

    __tablename__ = "mail_outbox"
    __table_args__ = (Index("ix_mail_outbox_due", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), index=True
    )
    #: Random; the ``Message-ID`` header's left part, and the label the message is sealed under.
    message_id: Mapped[str] = mapped_column(String(40), unique=True)
    #: What the message is for (``MAIL_KINDS`` in services/mail.py), never what it says.
    kind: Mapped[str] = mapped_column(String(32))
    sealed: Mapped[bytes | None] = mapped_column(LargeBinary)
    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending|sent|failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
