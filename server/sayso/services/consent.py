"""Consent: the only writer of grants. Every grant and revoke is a ledger event in the
same transaction, and every revoke queues a signed webhook to the brand."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.dialects import postgresql, sqlite

from sayso.coarsening import COARSENABLE, EVERYTHING, View
from sayso.fields import EXPIRY_CHOICES, FIELDS, scope_of
from sayso.ledger import Event, EventType, Ledger, ordering
from sayso.models import Account, AuditEvent, Brand, Grant, OAuthClient, Token
from sayso.services.accounts import AddressNotConfirmed, actor_for
from sayso.services.brands import BrandService
from sayso.services.consent_events import granted_event
from sayso.services.consent_undo import RevokeUndo
from sayso.services.tokens import narrow_scopes
from sayso.services.webhooks import WebhookOutbox
from sayso.shared.clock import utcnow

#: INSERT ... ON CONFLICT, as each backend spells it in SQLAlchemy (by dialect name).
INSERT_ON_CONFLICT = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}


def field_of(scope: str) -> str | None:
    """The disclosure field a ``<field>:read`` scope reads, if it names one."""
    name, _, action = scope.partition(":")
    return name if action == "read" and name in FIELDS else None


@dataclass(frozen=True)
class BrandGrants:
    """What one brand may see of one consumer, for the consumer's own pages."""

    brand: Brand
    grants: list[Grant]
    last_read_at: datetime | None
    #: The fields of ``grants`` no longer live that the brand still declares a purpose for,
    #: so the consumer may grant them again.
    grantable_again: frozenset[str] = frozenset()

    def live(self, now: datetime) -> list[Grant]:
        """The grants the brand may use right now."""
        return [g for g in self.grants if g.is_live(now)]


class ConsentService(RevokeUndo):
    """Owns the ``grants`` table (undoing a revoke is in ``consent_undo.py``)."""

    def __init__(self, session, ledger: Ledger, outbox: WebhookOutbox, brands: BrandService):
        self.session = session
        self.ledger = ledger
        self.outbox = outbox
        self.brands = brands

    def live_grants(
        self, account_id: int, brand_id: int, now: datetime | None = None
    ) -> dict[str, Grant]:
        """The grants, by field, this brand holds of this consumer right now."""
        now = now or utcnow()
        rows = self.session.scalars(
            select(Grant).where(
                Grant.account_id == account_id,
                Grant.brand_id == brand_id,
                Grant.revoked_at.is_(None),
            )
        ).all()
        return {g.field: g for g in rows if g.is_live(now)}

    def grant_of(self, account_id: int, brand_id: int, field: str) -> Grant | None:
        """The brand's grant of ``field``, live or not (a revoked grant keeps its view)."""
        return self.session.scalar(
            select(Grant).where(
                Grant.account_id == account_id, Grant.brand_id == brand_id, Grant.field == field
            )
        )

    def live_fields(self, account_id: int, brand_id: int, now: datetime | None = None) -> set[str]:
        """The fields this brand may read of this consumer right now."""
        return set(self.live_grants(account_id, brand_id, now))

    def consented_through(self, account_id: int, client: OAuthClient, fields: list[str]) -> bool:
        """Whether each of ``fields`` is live for the client's brand, granted through this
        very client with the purpose it declares now: then asking again needs no page.
        Another client of the brand (its own purposes, its own redirect URIs), or a purpose
        changed since, is shown the page."""
        live = self.live_grants(account_id, client.brand_id)
        declared = client.scope_purposes
        return bool(fields) and all(
            f in live
            and live[f].client_id == client.client_id
            and live[f].purpose == declared.get(scope_of(f))
            for f in fields
        )

    def grant(
        self,
        account: Account,
        client: OAuthClient,
        fields: list[str],
        expiry: str,
        context: dict | None = None,
        views: dict[str, View] | None = None,
    ) -> None:
        """Record the consumer's "allow" for ``fields`` with the client's declared purposes
        (and ``views``, as :meth:`grant_uncommitted` takes them), and commit it."""
        try:
            self.grant_uncommitted(account, client, fields, expiry, context, views)
            self.session.commit()
        except Exception:
            self.session.rollback()
            raise

    def grant_uncommitted(
        self,
        account: Account,
        client: OAuthClient,
        fields: list[str],
        expiry: str,
        context: dict | None = None,
        views: dict[str, View] | None = None,
    ) -> None:
        """The grants and their ledger event, in the caller's transaction; the caller commits.

        The consent page commits them as it issues its authorization code, so a code never
        exists without the grants it stands for (nor the grants without their event). On an
        error the caller rolls back. ``views`` is what the brand gets of each field (a field
        it leaves out, everything); ``None`` keeps the view of a field granted before (a
        grant again, the extension's toggle), and gives a new one everything.
        """
        if not account.email_confirmed:
            raise AddressNotConfirmed  # an account grants nothing before its address is confirmed
        brand = client.brand
        purposes = client.scope_purposes
        now = utcnow()
        expires_at = now + EXPIRY_CHOICES[expiry] if EXPIRY_CHOICES[expiry] else None
        declared = {field: purposes[scope_of(field)] for field in sorted(set(fields))}
        if not declared:
            raise ValueError("a grant needs at least one field")
        # The consumer's lock for this brand before any grant row is written, as a revoke
        # takes it (ledger/ordering.py): a grant and a revoke of it run one after the other.
        ordering.hold(self.session, account.id, [brand.id])
        # One statement for every field, new or granted before (and perhaps revoked or
        # expired since): the grant is made afresh either way.
        table = Grant.__table__
        chosen = (
            {f: views.get(f, EVERYTHING) if f in COARSENABLE else EVERYTHING for f in declared}
            if views is not None
            else {}
        )
        upsert = INSERT_ON_CONFLICT[self.session.get_bind().dialect.name](table).values(
            [
                {
                    "account_id": account.id,
                    "brand_id": brand.id,
                    "field": field,
                    "purpose": purpose,
                    "client_id": client.client_id,
                    "granted_at": now,
                    "expires_at": expires_at,
                    "revoked_at": None,
                    "view": chosen.get(field, EVERYTHING).name,
                    "view_parameter": chosen.get(field, EVERYTHING).parameter,
                }
                for field, purpose in declared.items()
            ]
        )
        kept = {} if views is None else {"view": upsert.excluded.view}
        if kept:
            kept["view_parameter"] = upsert.excluded.view_parameter
        # RETURNING the views as they end up (a field granted before keeps its own when no
        # view is given), for the ledger event: still one statement.
        granted = self.session.execute(
            upsert.on_conflict_do_update(
                index_elements=[table.c.account_id, table.c.brand_id, table.c.field],
                set_={
                    "purpose": upsert.excluded.purpose,
                    "client_id": upsert.excluded.client_id,
                    "granted_at": upsert.excluded.granted_at,
                    "expires_at": upsert.excluded.expires_at,
                    "revoked_at": None,
                    **kept,
                },
            ).returning(table.c.field, table.c.view, table.c.view_parameter)
        ).all()
        views = {row.field: View(row.view, row.view_parameter) for row in granted}
        self.ledger.append(
            granted_event(account, brand, client.client_id, declared, expires_at, context, views)
        )

    def record_denial(self, account: Account, client: OAuthClient, fields: list[str]) -> None:
        """Record that the consumer chose Deny on the client's consent page, for these
        fields (names only); committed here. Brands see it only as a count (the portal's
        consent rate)."""
        try:
            self.ledger.append(
                Event(
                    EventType.CONSENT_DENIED,
                    actor=actor_for(account),
                    subject=account.pseudonym,
                    brand=client.brand.public_id,
                    fields=tuple(sorted(set(fields))),
                    details={"client_id": client.client_id},
                )
            )
            self.session.commit()
        except Exception:
            self.session.rollback()
            raise

    def grant_field(
        self,
        account: Account,
        brand: Brand,
        field: str,
        expiry: str = "1y",
        via: str = "api",
        view: View | None = None,
    ) -> OAuthClient | None:
        """Grant one field at once (the extension's toggle), with the purpose the brand
        declared for it on its client; ``None`` when the brand never asked for the field.
        Without a ``view``, a field granted before keeps the view it had."""
        client = self.brands.client_declaring(brand, field)
        if client is None:
            return None
        views = {field: view} if view is not None else None
        self.grant(account, client, [field], expiry, context={"via": via}, views=views)
        return client

    def change_view(
        self, account: Account, brand: Brand, field: str, view: View, via: str = "web"
    ) -> Grant | None:
        """Let a brand see ``view`` of a field it holds a live grant of, committed with its
        ledger grant event (same purpose, client and expiry; the new view). ``None`` when
        the brand holds no live grant of the field; nothing is recorded when the view is
        the one it has already."""
        if view.name != EVERYTHING.name and field not in COARSENABLE:
            raise ValueError(f"{field} is always shared whole")
        try:
            ordering.hold(self.session, account.id, [brand.id])
            grant = self.live_grants(account.id, brand.id).get(field)
            if grant is not None and grant.coarse_view != view:
                grant.view, grant.view_parameter = view.name, view.parameter
                context = {"via": via, "changed": "view"}
                self.ledger.append(
                    granted_event(
                        account,
                        brand,
                        grant.client_id,
                        {field: grant.purpose},
                        grant.expires_at,
                        context,
                        {field: view},
                    )
                )
            self.session.commit()
        except Exception:
            self.session.rollback()
            raise
        return grant

    def revoke(
        self,
        account: Account,
        brand: Brand,
        fields: list[str] | None = None,
        now: datetime | None = None,
    ) -> list[str]:
        """Revoke some (or all) of a brand's fields; committed before this returns. Every
        grant it ends is stamped revoked at ``now``, which names the revoke for an undo."""
        now = now or utcnow()
        try:
            revoked = self._revoke(account, brand, fields, now)
            self.session.commit()
        except Exception:
            self.session.rollback()
            raise
        return revoked

    def revoke_everything(
        self, account: Account, now: datetime | None = None
    ) -> dict[str, list[str]]:
        """Revoke every grant of every brand, in one transaction (all stamped ``now``)."""
        try:
            result = self.revoke_all_uncommitted(account, now)
            self.session.commit()
        except Exception:
            self.session.rollback()
            raise
        return result

    def revoke_all_uncommitted(
        self, account: Account, now: datetime | None = None, reason: str | None = None
    ) -> dict[str, list[str]]:
        """Revoke every grant of every brand in the caller's transaction; the caller commits.

        For units of work larger than a revoke (erasing an account), so the revokes, their
        ledger events and webhooks land together with the rest, or not at all. ``reason``
        is recorded in each revoke event's details.
        """
        now = now or utcnow()
        brand_ids = self.session.scalars(
            select(Grant.brand_id)
            .where(Grant.account_id == account.id, Grant.revoked_at.is_(None))
            .distinct()
        ).all()
        result = {}
        brands = select(Brand).where(Brand.id.in_(brand_ids)).order_by(Brand.id)
        for brand in self.session.scalars(brands):
            result[brand.public_id] = self._revoke(account, brand, None, now, reason)
        return result

    def _revoke(self, account, brand, fields, now, reason=None) -> list[str]:
        # The consumer's lock for this brand, exclusively, before any grant row: a read of
        # the brand under way finishes (its event committed) first, and a read that comes
        # after waits for this revoke's commit, then finds the grant revoked
        # (ledger/ordering.py). Taken per brand in ascending order (revoke_all_uncommitted).
        ordering.hold(self.session, account.id, [brand.id])
        query = select(Grant).where(
            Grant.account_id == account.id,
            Grant.brand_id == brand.id,
            Grant.revoked_at.is_(None),
        )
        if fields is not None:
            query = query.where(Grant.field.in_(fields))
        rows = self.session.scalars(query).all()
        if not rows:
            return []
        for row in rows:
            row.revoked_at = now
        names = sorted(r.field for r in rows)
        # Tokens issued until now lose these scopes for good (a re-grant reaches new ones only).
        narrow_scopes(self.session, account.id, brand.id, names, now)
        # The purposes withdrawn are recorded too, so a revoke's consent receipt is
        # complete from its own event.
        details = {"purposes": {r.field: r.purpose for r in sorted(rows, key=lambda r: r.field)}}
        if reason:
            details["reason"] = reason
        self.ledger.append(
            Event(
                EventType.CONSENT_REVOKED,
                actor=actor_for(account),
                subject=account.pseudonym,
                brand=brand.public_id,
                fields=tuple(names),
                details=details,
            )
        )
        if not self.live_fields(account.id, brand.id, now):
            # Nothing left to read: end the brand's tokens too, so refresh stops as well.
            self.session.execute(
                update(Token)
                .where(
                    Token.account_id == account.id,
                    Token.brand_id == brand.id,
                    Token.revoked_at.is_(None),
                )
                .values(revoked_at=now)
            )
        data = {
            "brand_id": brand.public_id,
            "sub": self.brands.pairwise_subject(brand.public_id, account.pseudonym),
            "fields": names,
        }
        for client in brand.clients:
            self.outbox.enqueue(client, "consent.revoked", data)
        return names

    def overview(self, account: Account) -> list[BrandGrants]:
        """Each brand that holds or held a grant, with its grants and when it last read."""
        grants = self.session.scalars(
            select(Grant).where(Grant.account_id == account.id).order_by(Grant.field)
        ).all()
        by_brand: dict[int, list[Grant]] = defaultdict(list)
        for grant in grants:
            by_brand[grant.brand_id].append(grant)
        if not by_brand:
            return []
        brands = self.session.scalars(select(Brand).where(Brand.id.in_(by_brand))).all()
        last_reads = dict(
            self.session.execute(
                select(AuditEvent.brand, func.max(AuditEvent.occurred_at))
                .where(
                    AuditEvent.subject == account.pseudonym,
                    AuditEvent.type == str(EventType.PROFILE_READ),
                )
                .group_by(AuditEvent.brand)
            ).all()
        )
        now = utcnow()
        return sorted(
            (
                BrandGrants(
                    b,
                    by_brand[b.id],
                    last_reads.get(b.public_id),
                    frozenset(
                        g.field
                        for g in by_brand[b.id]
                        if not g.is_live(now) and self.brands.client_declaring(b, g.field)
                    ),
                )
                for b in brands
            ),
            key=lambda entry: entry.brand.name.casefold(),
        )
