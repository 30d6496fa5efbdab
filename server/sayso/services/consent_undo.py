"""Undoing a revoke, for a short while, from the Brands page: part of the consent service
(``ConsentService`` inherits it, and it writes ``grants`` only through that service's
session and ledger), kept in a module of its own."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select

from sayso.ledger import ordering
from sayso.models import Account, Brand, Grant
from sayso.services.consent_events import granted_event
from sayso.shared.clock import utcnow

#: How long a revoke may be undone from the Brands page. An undo is a new grant (its own
#: ledger event), so the window only bounds how long Sayso offers to repeat the old one.
UNDO_WINDOW = timedelta(minutes=10)


class NothingToUndo(Exception):
    """The revoke is not one of the consumer's, is older than ``UNDO_WINDOW``, or what it
    ended has been granted (or revoked) again since."""


@dataclass(frozen=True)
class Undoable:
    """What one revoke ended, per brand, while it may still be undone."""

    revoked_at: datetime
    until: datetime
    ended: list[tuple[Brand, list[str]]]


class RevokeUndo:
    """The undo of a revoke, as a new grant: mixed into ``ConsentService`` (which provides
    ``session`` and ``ledger``)."""

    def _ended_by(self, account: Account, revoked_at: datetime, now: datetime) -> list[Grant]:
        """The grants the revoke at ``revoked_at`` ended that are still as it left them
        (not granted or revoked again since, not expired), while it may be undone."""
        if not revoked_at <= now <= revoked_at + UNDO_WINDOW:
            return []
        rows = self.session.scalars(
            select(Grant)
            .where(Grant.account_id == account.id, Grant.revoked_at == revoked_at)
            .order_by(Grant.brand_id, Grant.field)
        ).all()
        return [r for r in rows if r.expires_at is None or r.expires_at > now]

    def undoable(
        self, account: Account, revoked_at: datetime, now: datetime | None = None
    ) -> Undoable | None:
        """What the revoke at ``revoked_at`` ended, if it may still be undone."""
        now = now or utcnow()
        rows = self._ended_by(account, revoked_at, now)
        if not rows:
            return None
        by_brand: dict[int, list[str]] = defaultdict(list)
        for row in rows:
            by_brand[row.brand_id].append(row.field)
        brands = self.session.scalars(select(Brand).where(Brand.id.in_(by_brand))).all()
        ended = sorted(
            ((b, by_brand[b.id]) for b in brands), key=lambda item: item[0].name.casefold()
        )
        return Undoable(revoked_at, revoked_at + UNDO_WINDOW, ended)

    def undo_revoke(
        self, account: Account, revoked_at: datetime, now: datetime | None = None
    ) -> dict[str, list[str]]:
        """Grant again exactly what the revoke at ``revoked_at`` ended, within
        ``UNDO_WINDOW``; committed before this returns. Raises :class:`NothingToUndo`.

        This does not erase the revoke: the revoke stays on the ledger, and the undo is a new
        grant event (``via: "undo"``, naming the revoke it undoes) with each grant's purpose,
        client, expiry and view as they were. Only grants still stamped with this revoke's time
        are granted again, so a field granted or revoked since is left alone. Tokens the
        revoke narrowed stay narrowed (as after any re-grant): the brand's next
        authorization gets the fields back.
        """
        now = now or utcnow()
        try:
            result = self._undo(account, revoked_at, now)
            self.session.commit()
        except Exception:
            self.session.rollback()
            raise
        return result

    def _undo(self, account, revoked_at, now) -> dict[str, list[str]]:
        brand_ids = sorted({r.brand_id for r in self._ended_by(account, revoked_at, now)})
        if not brand_ids:
            raise NothingToUndo(revoked_at)
        # The consumer's locks for these brands first (ascending, as a revoke takes them),
        # then the rows read again under them: a revoke or grant that got there first wins.
        ordering.hold(self.session, account.id, brand_ids)
        self.session.expire_all()
        rows = self._ended_by(account, revoked_at, now)
        if not rows:
            raise NothingToUndo(revoked_at)
        brands = {
            b.id: b for b in self.session.scalars(select(Brand).where(Brand.id.in_(brand_ids)))
        }
        # One grant event per brand, client and expiry: a receipt names one of each.
        groups: dict[tuple, list[Grant]] = defaultdict(list)
        for row in rows:
            groups[(row.brand_id, row.client_id, row.expires_at)].append(row)
        result: dict[str, list[str]] = defaultdict(list)
        for (brand_id, client_id, expires_at), grants in groups.items():
            for grant in grants:
                grant.revoked_at = None
                grant.granted_at = now
            brand = brands[brand_id]
            declared = {g.field: g.purpose for g in grants}
            context = {"via": "undo", "undoes_revoke_at": revoked_at.isoformat()}
            # Each grant keeps the view it had (the revoke left it on the row).
            views = {g.field: g.coarse_view for g in grants}
            self.ledger.append(
                granted_event(account, brand, client_id, declared, expires_at, context, views)
            )
            result[brand.public_id].extend(declared)
        return dict(result)
