"""The domain services, built for the current app and its database session.

Views call these factories; the services themselves take a session and never
touch ``request``.
"""

from flask import current_app

from sayso.extensions import db
from sayso.services.accounts import AccountService
from sayso.services.brands import BrandService
from sayso.services.consent import ConsentService
from sayso.services.disclosures import DisclosureService
from sayso.services.ledger import Ledger
from sayso.services.profile import ProfileService
from sayso.services.tokens import TokenService
from sayso.services.vault import Vault
from sayso.services.webhooks import WebhookOutbox


def vault() -> Vault:
    """The vault, keyed by the app's master key."""
    return Vault(db.session, current_app.config["MASTER_KEY_BYTES"])


def ledger() -> Ledger:
    """The ledger on the current session."""
    return Ledger(db.session)


def accounts() -> AccountService:
    """The account service, with the app's login and hashing settings."""
    cfg = current_app.config
    return AccountService(
        db.session,
        vault(),
        ledger(),
        max_failures=cfg["LOGIN_MAX_FAILURES"],
        lockout_seconds=cfg["LOGIN_LOCKOUT_SECONDS"],
        argon2_time_cost=cfg["ARGON2_TIME_COST"],
        argon2_memory_cost=cfg["ARGON2_MEMORY_COST"],
    )


def disclosures() -> DisclosureService:
    """The disclosure service."""
    return DisclosureService(db.session, vault(), ledger())


def brands() -> BrandService:
    """The brand service (clients, members, pairwise subjects)."""
    return BrandService(db.session, ledger(), current_app.config["MASTER_KEY_BYTES"])


def consent() -> ConsentService:
    """The consent service: the only writer of grants."""
    return ConsentService(db.session, ledger(), WebhookOutbox(db.session), brands())


def tokens() -> TokenService:
    """Authorization codes and tokens."""
    return TokenService(db.session, ledger())


def profile() -> ProfileService:
    """Profile reads for brands' tokens."""
    return ProfileService(db.session, vault(), ledger(), brands())
