"""Pushed authorization requests (RFC 9126), owned by the pushed-request service.

Only the hash of a ``request_uri`` is stored, and the parameters sealed under a key derived
from the ``request_uri`` itself (services/pushed_requests.py): the table alone reveals
neither the URI nor what was asked.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from sayso.extensions import db
from sayso.models.types import UTCDateTime


class PushedAuthorizationRequest(db.Model):
    """An authorization request a client pushed, until its browser leg ends or it expires."""

    __tablename__ = "pushed_authorization_requests"

    request_uri_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    client_id: Mapped[str] = mapped_column(
        ForeignKey("oauth_clients.client_id", ondelete="CASCADE"), index=True
    )
    parameters_sealed: Mapped[bytes] = mapped_column(LargeBinary)
    # Until the browser brings it (60 s after the push); then until the consent page's
    # window ends; set to the moment it was used once the authorization response is sent.
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    # The hash of the browser cookie of the first browser that brought it (the one use):
    # only that browser may go on with it (sign in, the consent page, its answer).
    browser_hash: Mapped[str | None] = mapped_column(String(64))
