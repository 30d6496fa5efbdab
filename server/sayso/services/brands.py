"""Brands: organisations, their domains, members and OAuth clients."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta

from cryptography.exceptions import InvalidTag
from sqlalchemy import LargeBinary, func, literal, select, update

from sayso.fields import grant_name_of, grantable
from sayso.ledger import Event, EventType, Ledger
from sayso.models import (
    Account,
    Brand,
    BrandDomain,
    BrandMember,
    InitialAccessToken,
    OAuthClient,
)
from sayso.models._types import utcnow
from sayso.shared.crypto import (
    MasterKeyMissing,
    MasterKeys,
    VaultError,
    key_id_of,
    keyed_body,
    keyed_prefix,
    legacy_subject_key,
    seal_keyed,
    unseal,
)
from sayso.shared.tokens import (
    INITIAL_ACCESS_TOKEN_PREFIX,
    new_client_id,
    new_client_secret,
    new_secret,
    token_hash,
)

#: The subkey of each master key that seals webhook signing secrets.
_WEBHOOK_SECRETS = "webhook-secrets/v1"


@dataclass(frozen=True)
class IssuedInitialAccessToken:
    """An initial access token as just issued (the only moment it exists in clear), with
    its limits."""

    token: str
    expires_at: datetime
    uses: int


class InitialAccessTokenSpent(Exception):
    """The initial access token stopped working (revoked, expired or used up) between
    the check of the request and the registration."""


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
        self.initial_token_lifetime = initial_token_lifetime
        self.initial_token_uses = initial_token_uses
        self.keys = MasterKeys.coerce(master_keys)
        # SAYSO_SUBJECT_KEY: not a subkey of the master key, so `sub` survives its rotation
        # (its default is the subkey `sub` was derived with before, see config.py).
        self._pairwise_key = subject_key or legacy_subject_key(self.keys.current.secret)

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
        )
        client.redirect_uris = redirect_uris
        client.declare_scopes(scope_purposes, third_party_scopes)
        webhook_secret = self._set_webhook_secret(client) if webhook_url else None
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
    ) -> NewClient:
        """Create a brand's confidential client and commit it with its ledger event.

        Registered with an ``initial_access_token`` (its hash), the registration uses one
        of the token's uses up in the same transaction, or raises
        :class:`InitialAccessTokenSpent` having created nothing.
        """
        if initial_access_token is not None and not self._use_initial_access_token(
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
        secret = self._set_webhook_secret(client)
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
        """The client's webhook signing secret, for signing deliveries. Raises
        :class:`MasterKeyMissing` if the master key that sealed it is not configured."""
        blob = client.webhook_secret_sealed
        if not blob:
            return None
        secret, _ = self._open_webhook_secret(client.client_id, blob)
        return secret.decode()

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

    def _set_webhook_secret(self, client: OAuthClient) -> str:
        secret = new_secret("sayso_whs")
        client.webhook_secret_sealed = self._seal_webhook_secret(client.client_id, secret.encode())
        return secret

    def _seal_webhook_secret(self, client_id: str, secret: bytes) -> bytes:
        """Sealed under the current master key's subkey, naming that key (vault format)."""
        return seal_keyed(self.keys.current, _WEBHOOK_SECRETS, secret, client_id.encode())

    def _open_webhook_secret(self, client_id: str, blob: bytes) -> tuple[bytes, bytes]:
        """The secret, and the id of the master key that sealed it."""
        label = client_id.encode()
        key_id = key_id_of(blob)
        master = self.keys.find(key_id) if key_id is not None else None
        if master is not None:
            try:
                return unseal(master.aead(_WEBHOOK_SECRETS), keyed_body(blob), label), key_id
            except VaultError:
                pass  # one sealed before ids whose random nonce begins like an id: below
        # Sealed before master keys had ids: a 12-byte nonce and the ciphertext, under the
        # subkey of the master key of the day (the current one, or a retired one).
        for master in self.keys:
            try:
                secret = master.aead(_WEBHOOK_SECRETS).decrypt(blob[:12], blob[12:], label)
            except (InvalidTag, ValueError):
                continue
            return secret, master.key_id
        raise MasterKeyMissing(f"the webhook secret of client {client_id}", key_id)

    def webhook_secrets_by_master_key(self) -> tuple[Counter, Counter]:
        """How many webhook secrets each configured master key seals (those sealed before
        ids counted under the key that opens them), and how many need one that is not
        configured, by its id (``None``: sealed before ids, and no configured key opens it)."""
        sealed, missing = Counter(), Counter()
        rows = self.session.execute(
            select(OAuthClient.client_id, OAuthClient.webhook_secret_sealed).where(
                OAuthClient.webhook_secret_sealed.is_not(None)
            )
        ).all()
        for client_id, blob in rows:
            try:
                _, key_id = self._open_webhook_secret(client_id, blob)
            except MasterKeyMissing as error:
                missing[error.key_id] += 1
            else:
                sealed[key_id] += 1
        return sealed, missing

    def reseal_webhook_secrets(self, after: int, limit: int):
        """Re-seal under the current master key up to ``limit`` webhook secrets (of clients
        after row id ``after``) that another key sealed; commits. Returns how many, the last
        row id looked at (``None``: none left) and the clients whose key is missing."""
        prefix = keyed_prefix(self.keys.current)
        rows = self.session.execute(
            select(OAuthClient.id, OAuthClient.client_id, OAuthClient.webhook_secret_sealed)
            .where(
                OAuthClient.id > after,
                OAuthClient.webhook_secret_sealed.is_not(None),
                func.substr(OAuthClient.webhook_secret_sealed, 1, len(prefix), type_=LargeBinary)
                != literal(prefix, LargeBinary),
            )
            .order_by(OAuthClient.id)
            .limit(limit)
        ).all()
        resealed, last, missing = 0, None, []
        for row_id, client_id, blob in rows:
            last = row_id
            try:
                secret, _ = self._open_webhook_secret(client_id, blob)
            except MasterKeyMissing as error:
                missing.append(error)
                continue
            resealed += self.session.execute(
                update(OAuthClient)
                .where(OAuthClient.id == row_id, OAuthClient.webhook_secret_sealed == blob)
                .values(webhook_secret_sealed=self._seal_webhook_secret(client_id, secret))
                .execution_options(synchronize_session=False)
            ).rowcount
        self.session.commit()
        return resealed, last, missing

    # Dynamic registration -----------------------------------------------------

    def issue_initial_access_token(
        self, brand: Brand, actor: str = "operator"
    ) -> IssuedInitialAccessToken:
        """A bearer token with which the brand may register clients (RFC 7591), until it
        expires or has registered its number of clients. Commits."""
        token = new_secret(INITIAL_ACCESS_TOKEN_PREFIX)
        expires_at = utcnow() + self.initial_token_lifetime
        self.session.add(
            InitialAccessToken(
                token_hash=token_hash(token),
                brand_id=brand.id,
                expires_at=expires_at,
                uses_left=self.initial_token_uses,
            )
        )
        self.ledger.append(
            Event(
                EventType.INITIAL_TOKEN_ISSUED,
                actor=actor,
                brand=brand.public_id,
                details={
                    "expires_at": expires_at.isoformat(timespec="seconds"),
                    "uses": self.initial_token_uses,
                },
            )
        )
        self.session.commit()
        return IssuedInitialAccessToken(token, expires_at, self.initial_token_uses)

    def live_initial_access_tokens(self, brand: Brand) -> list[InitialAccessToken]:
        """The brand's initial access tokens that still work, newest first."""
        return list(
            self.session.scalars(
                select(InitialAccessToken)
                .where(InitialAccessToken.brand_id == brand.id, *self._live(utcnow()))
                .order_by(InitialAccessToken.created_at.desc())
            )
        )

    def revoke_initial_access_tokens(self, brand: Brand, actor: str = "operator") -> int:
        """Revoke every initial access token of the brand that still works; how many there
        were. Commits, with the ledger event (when there was any to revoke)."""
        revoked = self.session.execute(
            update(InitialAccessToken)
            .where(InitialAccessToken.brand_id == brand.id, *self._live(utcnow()))
            .values(revoked_at=utcnow())
        ).rowcount
        if revoked:
            self.ledger.append(
                Event(
                    EventType.INITIAL_TOKENS_REVOKED,
                    actor=actor,
                    brand=brand.public_id,
                    details={"count": revoked},
                )
            )
        self.session.commit()
        return revoked

    def brand_for_initial_access_token(self, token: str) -> Brand | None:
        """The brand an initial access token belongs to, if it still works: not revoked,
        not expired, not used up."""
        row = self.session.get(InitialAccessToken, token_hash(token))
        if row is None or not self._works(row, utcnow()):
            return None
        return self.session.get(Brand, row.brand_id)

    def revoke_exposed_initial_access_token(self, token: str) -> bool:
        """Revoke an initial access token sent where it leaks (a URL, which logs and
        proxies keep), and record it as any exposed token is; whether it still worked.
        Commits."""
        row = self.session.get(InitialAccessToken, token_hash(token))
        if row is None or not self._works(row, utcnow()):
            return False
        row.revoked_at = utcnow()
        brand = self.session.get(Brand, row.brand_id)
        self.ledger.append(
            Event(
                EventType.TOKEN_EXPOSED,
                actor=f"registration:{row.token_hash[:16]}",
                brand=brand.public_id,
                details={"initial_access_token": row.token_hash[:16]},
            )
        )
        self.session.commit()
        return True

    def _use_initial_access_token(self, hashed: str) -> bool:
        """Take one use of the token, if it still works (one conditional ``UPDATE``: of
        two registrations racing for its last use, one gets it)."""
        return (
            self.session.execute(
                update(InitialAccessToken)
                .where(InitialAccessToken.token_hash == hashed, *self._live(utcnow()))
                .values(uses_left=InitialAccessToken.uses_left - 1)
            ).rowcount
            == 1
        )

    @staticmethod
    def _live(now: datetime) -> tuple:
        return (
            InitialAccessToken.revoked_at.is_(None),
            InitialAccessToken.expires_at > now,
            InitialAccessToken.uses_left > 0,
        )

    @staticmethod
    def _works(row: InitialAccessToken, now: datetime) -> bool:
        return row.revoked_at is None and row.expires_at > now and row.uses_left > 0
