"""Grants: what each consumer lets each brand read (owned by the consent service)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from sayso.coarsening import View
from sayso.extensions import db
from sayso.models.types import UTCDateTime
from sayso.shared.clock import utcnow


class Grant(db.Model):
    """The current state of one consumer x brand x field. Its history is in the ledger."""

    __tablename__ = "grants"
    __table_args__ = (
        UniqueConstraint("account_id", "brand_id", "field", name="uq_grants_account_brand_field"),
        Index("ix_grants_brand_id", "brand_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    brand_id: Mapped[int] = mapped_column(ForeignKey("brands.id", ondelete="CASCADE"))
    field: Mapped[str] = mapped_column(String(64))
    purpose: Mapped[str] = mapped_column(Text)
    # The client the consumer gave it through (its purpose is ``purpose``); ``None`` for a
    # grant older than migration 0007. Only that client is re-authorized without a page.
    client_id: Mapped[str | None] = mapped_column(String(48))
    granted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # What the brand gets of the field (sayso/coarsening.py): "all", or less than
    # everything of interests and browsing categories. Migration 0014.
    view: Mapped[str] = mapped_column(String(16), default="all", server_default="all")
    view_parameter: Mapped[int | None] = mapped_column(Integer)

    @property
    def coarse_view(self) -> View:
        """The view granted, as a :class:`~sayso.coarsening.View`."""
        return View(self.view or "all", self.view_parameter)

    def is_live(self, now: datetime) -> bool:
        """Granted, not revoked, not expired."""
        return self.revoked_at is None and (self.expires_at is None or self.expires_at > now)
