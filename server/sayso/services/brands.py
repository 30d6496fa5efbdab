"""Brands: organisations, their domains, members and OAuth clients."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select

from sayso.fields import grant_name_of, grantable
from sayso.ledger import Event, EventType, Ledger
from sayso.models import (
    Account,
    Brand,
    BrandDomain,
    BrandMember,
    OAuthClient,
)
from sayso.services.initial_access_tokens import (
    InitialAccessTokens,
    InitialAccessTokenSpent,
)
from sayso.services.webhook_secrets import WebhookSecrets
from sayso.shared.clock import utcnow
from sayso.shared.crypto import (
    MasterKeys,
    legacy_subject_key,
)
from sayso.shared.tokens import (
    new_client_id,
    new_client_secret,
    token_hash,
)


@dataclass(frozen=True)
class NewClient:
    """A client as just created: the only moment its secrets exist in clear."""

    client: OAuthClient
    client_secret: str | None
    webhook_secret: str | None


class BrandService:
    """Owns brands, domains, members, OAuth clients and initial access tokens.

    ``create_brand``, ``create_client``, ``add_member`` and ``verify_domain`` leave the
    commit to the caller (the CLI builds a brand and its client in one transaction). The
    methods the portal and dynamic registration call (``register_client``,
    ``rotate_secret``, ``rotate_webhook_secret``, ``delete_client``,
    ``issue_initial_access_token``, ``revoke_initial_access_tokens``) are each one
    committed unit of work, the change and its ledger event together.
    """

    def __init__(
        self,
        session,
        ledger: Ledger,
        master_keys: MasterKeys | bytes,
        initial_token_lifetime: timedelta = timedelta(days=1),
        initial_token_uses: int = 10,
        subject_key: bytes | None = None,
    ):
        self.session = session
        self.ledger = ledger
        self.initial_access_tokens = InitialAccessTokens(
            session, ledger, initial_token_lifetime, initial_token_uses
        )
        self.keys = MasterKeys.coerce(master_keys)
        # SAYSO_SUBJECT_KEY: not a subkey of the master key, so `sub` survives its rotation
        # (its default is the subkey `sub` was derived with before, see config.py).
        self._pairwise_key = subject_key or legacy_subject_key(self.keys.current.secret)
        self.webhook_secrets = WebhookSecrets(session, self.keys)

    # Brands -----------------------------------------------------------------

    def create_brand(self, name: str, domains: list[str], actor: str = "operator") -> Brand:
        """A new brand with the domains it claims (unverified until an operator checks)."""
        brand = Brand(public_id="br_" + secrets.token_hex(8), name=name.strip())
        brand.domains = [BrandDomain(domain=d.strip().lower()) for d in domains]
        self.session.add(brand)
        self.session.flush()
        self.ledger.append(Event(EventType.BRAND_CREATED, actor=actor, brand=brand.public_id))
        return brand

    def by_public_id(self, public_id: str) -> Brand | None:
        """A brand by the id the world sees."""
        if "\x00" in public_id:
            # No id holds a NUL, and PostgreSQL rejects one in a query instead of matching nothing.
            return None
        return self.session.scalar(select(Brand).where(Brand.public_id == public_id))

    def add_member(self, brand: Brand, account: Account, actor: str = "operator") -> None:
        """Let an account use the brand's portal (in the caller's transaction)."""
        if self.session.get(BrandMember, account.id) is None:
            self.session.add(BrandMember(account_id=account.id, brand_id=brand.id))
            self.ledger.append(
                Event(
                    EventType.BRAND_MEMBER_ADDED,
                    actor=actor,
                    subject=account.pseudonym,
                    brand=brand.public_id,
                )
            )

    def brand_of_member(self, account: Account) -> Brand | None:
        """The brand whose portal this account may use."""
        member = self.session.get(BrandMember, account.id)
        return self.session.get(Brand, member.brand_id) if member else None

    def all_brands(self) -> list[Brand]:
        """Every brand, oldest first."""
        return list(self.session.scalars(select(Brand).order_by(Brand.id)))

    def verify_domain(self, domain: str, actor: str = "operator") -> BrandDomain | None:
        """Mark a claimed domain as verified by an operator."""
        row = self.session.scalar(select(BrandDomain).where(BrandDomain.domain == domain.lower()))
        if row is not None and row.verified_at is None:
            row.verified_at = utcnow()
            self.ledger.append(
                Event(
                    EventType.DOMAIN_VERIFIED,
                    actor=actor,
                    brand=row.brand.public_id,
                    details={"domain": row.domain},
                )
            )
        return row

    def by_domain(self, domain: str) -> BrandDomain | None:
        """The claimed domain row for this registrable domain (verified or not)."""
        domain = domain.strip().lower().rstrip(".")
        if not domain or "\x00" in domain:
            return None
        return self.session.scalar(select(BrandDomain).where(BrandDomain.domain == domain))

    def domain_directory(self) -> dict[str, str]:
        """``{domain: brand public id}`` for every claimed domain, verified or not."""
        rows = self.session.execute(
            select(BrandDomain.domain, Brand.public_id)
            .join(Brand, BrandDomain.brand_id == Brand.id)
            .order_by(BrandDomain.domain)
        )
        return {domain: public_id for domain, public_id in rows}

    def declared_purposes(self, brand: Brand) -> dict[str, str]:
        """``{field: purpose}`` for every field any of the brand's clients asks for (the
        oldest client's purpose wins when two declare one)."""
        declared: dict[str, str] = {}
        for client in brand.clients:
            for scope, purpose in client.scope_purposes.items():
                name = grant_name_of(scope)
                if name is not None and scope not in client.third_party_scopes:
                    declared.setdefault(name, purpose)
        return declared

    def client_declaring(self, brand: Brand, field: str) -> OAuthClient | None:
        """The brand's oldest client that declared a purpose for ``field`` (or permission)."""
        granted = grantable(field)
        if granted is None:
            return None
        scope = granted.scope
        return next(
            (
                c
                for c in brand.clients
                if scope in c.scope_purposes and scope not in c.third_party_scopes
            ),
            None,
        )

    def ensure_first_party_client(
        self,
        client_id: str,
        name: str,
        scope_purposes: dict[str, str],
        redirect_uris: list[str] | None,
        actor: str = "operator",
    ) -> tuple[OAuthClient, bool]:
        """Create (or bring up to date) a first-party public client with no brand.

        Idempotent: redirect URIs are replaced only when given; returns the client and
        whether anything changed. The caller commits.
        """
        client = self.client(client_id)
        if client is None:
            new = self.create_client(
                None,
                name,
                list(redirect_uris or []),
                scope_purposes,
                public=True,
                actor=actor,
                client_id=client_id,
            )
            return new.client, True
        if client.brand_id is not None or not client.is_public:
            raise ValueError(f"client {client_id} exists and is not a first-party public client")
        changed = False
        if redirect_uris is not None and client.redirect_uris != list(redirect_uris):
            client.redirect_uris = list(redirect_uris)
            changed = True
        if client.scope_purposes != scope_purposes or client.name != name:
            client.scope_purposes = scope_purposes
            client.name = name
            changed = True
        if changed:
            self.ledger.append(
                Event(
                    EventType.CLIENT_UPDATED,
                    actor=actor,
                    details={"client_id": client.client_id, "redirect_uris": client.redirect_uris},
                )
            )
        return client, changed

    def pairwise_subject(self, brand_public_id: str, pseudonym: str) -> str:
        """The consumer's stable id for this brand alone, so brands cannot join on it."""
        mac = hmac.new(
            self._pairwise_key, f"{brand_public_id}/{pseudonym}".encode(), hashlib.sha256
        ).digest()
        return base64.urlsafe_b64encode(mac).decode().rstrip("=")

    # Clients ----------------------------------------------------------------

    def create_client(
        self,
        brand: Brand | None,
        name: str,
        redirect_uris: list[str],
        scope_purposes: dict[str, str],
        webhook_url: str | None = None,
        public: bool = False,
        actor: str = "operator",
        client_id: str | None = None,
        client_secret: str | None = None,
        third_party_scopes: list[str] = (),
        require_pushed_authorization_requests: bool = False,
        dpop_bound_access_tokens: bool = False,
        purpose_translations: dict[str, dict[str, str]] | None = None,
    ) -> NewClient:
        """Register a client; its secret (and webhook secret) are returned once, never stored.

        ``client_id`` and ``client_secret`` are generated unless given (dynamic registration
        generates them first, through Authlib's hooks).
        """
        client_secret = None if public else (client_secret or new_client_secret())
        client = OAuthClient(
            client_id=client_id or new_client_id(),
            client_secret_hash=None if public else token_hash(client_secret),
            brand_id=brand.id if brand else None,
            name=name.strip(),
            webhook_url=webhook_url or None,
            require_pushed_authorization_requests=require_pushed_authorization_requests,
            dpop_bound_access_tokens=dpop_bound_access_tokens,
        )
        client.redirect_uris = redirect_uris
        client.declare_scopes(scope_purposes, third_party_scopes)
        client.purpose_translations = purpose_translations
        webhook_secret = self.webhook_secrets.set_new(client) if webhook_url else None
        self.session.add(client)
        self.session.flush()
        self.ledger.append(
            Event(
                EventType.CLIENT_CREATED,
                actor=actor,
                brand=brand.public_id if brand else None,
                details={"client_id": client.client_id},
            )
        )
        return NewClient(client, client_secret, webhook_secret)

    def register_client(
        self,
        brand: Brand,
        name: str,
        redirect_uris: list[str],
        scope_purposes: dict[str, str],
        webhook_url: str | None = None,
        actor: str = "operator",
        client_id: str | None = None,
        client_secret: str | None = None,
        third_party_scopes: list[str] = (),
        initial_access_token: str | None = None,
        public: bool = False,
        require_pushed_authorization_requests: bool = False,
        dpop_bound_access_tokens: bool = False,
        purpose_translations: dict[str, dict[str, str]] | None = None,
    ) -> NewClient:
        """Create a brand's client (confidential unless ``public``) and commit it with its
        ledger event.

        Registered with an ``initial_access_token`` (its hash), the registration uses one
        of the token's uses up in the same transaction, or raises
        :class:`InitialAccessTokenSpent` having created nothing.
        """
        if initial_access_token is not None and not self.initial_access_tokens.use(
            initial_access_token
        ):
            self.session.rollback()
            raise InitialAccessTokenSpent()
        new = self.create_client(
            brand,
            name,
            redirect_uris,
            scope_purposes,
            webhook_url=webhook_url,
            actor=actor,
            client_id=client_id,
            client_secret=client_secret,
            third_party_scopes=third_party_scopes,
            public=public,
            require_pushed_authorization_requests=require_pushed_authorization_requests,
            dpop_bound_access_tokens=dpop_bound_access_tokens,
            purpose_translations=purpose_translations,
        )
        self.session.commit()
        return new

    def client(self, client_id: str) -> OAuthClient | None:
        """A client by its public client_id."""
        return self.session.scalar(select(OAuthClient).where(OAuthClient.client_id == client_id))

    def client_of_brand(self, brand: Brand, client_id: str) -> OAuthClient | None:
        """The brand's own client with this client_id; ``None`` for anyone else's."""
        return self.session.scalar(
            select(OAuthClient).where(
                OAuthClient.client_id == client_id, OAuthClient.brand_id == brand.id
            )
        )

    def check_secret(self, client: OAuthClient, secret: str) -> bool:
        """Constant-time comparison of a presented secret with the stored hash."""
        if client.client_secret_hash is None or not isinstance(secret, str):
            return False
        return hmac.compare_digest(client.client_secret_hash, token_hash(secret))

    def rotate_secret(self, client: OAuthClient, actor: str = "operator") -> str:
        """A new client secret; the old one stops working at once. Commits."""
        secret = new_client_secret()
        client.client_secret_hash = token_hash(secret)
        client.secret_rotated_at = utcnow()
        self.ledger.append(
            Event(
                EventType.CLIENT_SECRET_ROTATED,
                actor=actor,
                brand=client.brand.public_id if client.brand else None,
                details={"client_id": client.client_id},
            )
        )
        self.session.commit()
        return secret

    def rotate_webhook_secret(self, client: OAuthClient, actor: str = "operator") -> str:
        """A new webhook signing secret for the client. Commits."""
        secret = self.webhook_secrets.set_new(client)
        self.ledger.append(
            Event(
                EventType.WEBHOOK_SECRET_ROTATED,
                actor=actor,
                brand=client.brand.public_id if client.brand else None,
                details={"client_id": client.client_id},
            )
        )
        self.session.commit()
        return secret

    def webhook_secret(self, client: OAuthClient) -> str | None:
        """The client's webhook signing secret, for signing deliveries (see
        :meth:`WebhookSecrets.of`)."""
        return self.webhook_secrets.of(client)

    def delete_client(self, client: OAuthClient, actor: str = "operator") -> None:
        """Delete a client with its tokens and pending deliveries (the ledger stays).

        Commits; the database cascades the delete to the client's tokens and webhook
        deliveries. Its unexchanged codes die with it: no client authenticates to redeem them.
        """
        self.ledger.append(
            Event(
                EventType.CLIENT_DELETED,
                actor=actor,
                brand=client.brand.public_id if client.brand else None,
                details={"client_id": client.client_id},
            )
        )
        self.session.delete(client)
        self.session.commit()

    # Dynamic registration: initial access tokens (services/initial_access_tokens.py) ---

    def issue_initial_access_token(self, brand: Brand, actor: str = "operator"):
        """See :meth:`InitialAccessTokens.issue`."""
        return self.initial_access_tokens.issue(brand, actor)

    def live_initial_access_tokens(self, brand: Brand) -> list:
        """See :meth:`InitialAccessTokens.live`."""
        return self.initial_access_tokens.live(brand)

    def revoke_initial_access_tokens(self, brand: Brand, actor: str = "operator") -> int:
        """See :meth:`InitialAccessTokens.revoke_all`."""
        return self.initial_access_tokens.revoke_all(brand, actor)

    def brand_for_initial_access_token(self, token: str) -> Brand | None:
        """See :meth:`InitialAccessTokens.brand_for`."""
        return self.initial_access_tokens.brand_for(token)

    def revoke_exposed_initial_access_token(self, token: str) -> bool:
        """See :meth:`InitialAccessTokens.revoke_exposed`."""
        return self.initial_access_tokens.revoke_exposed(token)
