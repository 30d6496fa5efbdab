"""Contacts brands report making, each checked against the consumer's channel preferences."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from sayso.extensions import db
from sayso.models.types import UTCDateTime
from sayso.shared.clock import utcnow


class Contact(db.Model):
    """One message a brand says it sent a consumer, and whether it broke their preferences."""

    __tablename__ = "contacts"
    __table_args__ = (
        Index("ix_contacts_account_brand_sent", "account_id", "brand_id", "sent_at"),
        Index("ix_contacts_brand_breach", "brand_id", "breach"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    brand_id: Mapped[int] = mapped_column(ForeignKey("brands.id", ondelete="CASCADE"))
    channel: Mapped[str] = mapped_column(String(16))
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime)
    breach: Mapped[bool] = mapped_column(Boolean, default=False)
    # Why it was a breach ("quiet_hours", "weekly_cap_reached", ...), or "ok".
    reason: Mapped[str] = mapped_column(String(32))
    # The kind of message the brand says it was ("offers", ...), or None if it did not say.
    kind: Mapped[str | None] = mapped_column(String(32), nullable=True)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
