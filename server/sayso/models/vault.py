"""Wrapped per-account data keys (owned by the vault service)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, LargeBinary
from sqlalchemy.orm import Mapped, mapped_column

from sayso.extensions import db
from sayso.models.types import UTCDateTime
from sayso.shared.clock import utcnow


class DataKey(db.Model):
    """An account's AES-256 data key, wrapped by the master key. Deleting it shreds the data.

    ``wrapped_key`` names the master key that wrapped it (``0x02`` and the key's id before
    the seal; a bare seal if written before ids), so ``sayso keys rotate`` can re-wrap it
    under a new one (``services/vault.py``)."""

    __tablename__ = "data_keys"

    account_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True
    )
    wrapped_key: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
