"""The domain services, built for the current app and its database session.

Views call these factories; the services themselves take a session and never
touch ``request``.
"""

from flask import current_app, url_for

from sayso.extensions import db
from sayso.services.accounts import AccountService
from sayso.services.audit_console import AuditConsole
from sayso.services.brands import BrandService
from sayso.services.consent import ConsentService
from sayso.services.contacts import ContactPolicyService
from sayso.services.disclosures import DisclosureService
from sayso.services.ledger import Ledger
from sayso.services.profile import ProfileService
from sayso.services.questions import QuestionService
from sayso.services.receipts import ReceiptLinks, ReceiptService
from sayso.services.rights import DataRightsService
from sayso.services.tokens import TokenService
from sayso.services.vault import Vault
from sayso.services.webhooks import WebhookDispatcher, WebhookOutbox


def vault() -> Vault:
    """The vault, keyed by the app's master key."""
    return Vault(
        db.session,
        current_app.config["MASTER_KEY_BYTES"],
        current_app.extensions["sayso_data_keys"],
    )


def ledger(on=None) -> Ledger:
    """The ledger on the current session (or on connection ``on``), signing checkpoints
    with the app's key."""
    return Ledger(
        db.session if on is None else on,
        current_app.extensions["sayso_ledger_key"],
        current_app.config["LEDGER_CHECKPOINT_INTERVAL"],
    )


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
    return DisclosureService(db.session, vault(), ledger(), WebhookOutbox(db.session), brands())


def brands() -> BrandService:
    """The brand service (clients, members, pairwise subjects)."""
    return BrandService(db.session, ledger(), current_app.config["MASTER_KEY_BYTES"])


def consent() -> ConsentService:
    """The consent service: the only writer of grants."""
    return ConsentService(db.session, ledger(), WebhookOutbox(db.session), brands())


def contacts() -> ContactPolicyService:
    """Contact policy checks and the contacts brands report."""
    return ContactPolicyService(db.session, vault(), ledger())


def questions() -> QuestionService:
    """Brands' questions and consumers' answers, with the app's k-anonymity threshold."""
    return QuestionService(db.session, vault(), ledger(), current_app.config["ANSWERS_K"])


def tokens(on=None) -> TokenService:
    """Authorization codes (sealed with a key from the master key) and tokens, on the
    current session (or on session ``on``)."""
    session = db.session if on is None else on
    return TokenService(session, ledger(on=on), current_app.config["MASTER_KEY_BYTES"])


def profile() -> ProfileService:
    """Profile reads for brands' tokens, recorded in transactions shared by the reads of
    this process (``database.GroupCommit``)."""
    return ProfileService(
        vault(),
        ledger,
        current_app.extensions["sayso_read_groups"],
        brands(),
        questions(),
    )


def webhook_outbox() -> WebhookOutbox:
    """The webhook outbox: queued deliveries and how they went."""
    return WebhookOutbox(db.session)


def webhooks() -> WebhookDispatcher:
    """The worker side of webhooks: sends due deliveries."""
    return WebhookDispatcher(
        db.session, brands(), allow_loopback=current_app.config["ALLOW_HTTP_LOOPBACK"]
    )


def audit_console() -> AuditConsole:
    """The officer console's queries over the ledger."""
    return AuditConsole(db.session, ledger())


def receipts() -> ReceiptService:
    """Consent receipts, signed with the ledger key (needs a request: links are absolute)."""
    from sayso.oauth.issuer import issuer  # the oauth package imports this module

    site = issuer()
    links = ReceiptLinks(
        issuer=site,
        public_key=site + url_for("wellknown.ledger_key"),
        brands_page=site + url_for("web.brands"),
        revoke_api=lambda brand_id: site + url_for("api.revoke_brand", brand_id=brand_id),
    )
    return ReceiptService(db.session, current_app.extensions["sayso_ledger_key"], brands(), links)


def rights() -> DataRightsService:
    """A consumer's access history, data export and erasure."""
    return DataRightsService(
        db.session,
        ledger(),
        vault(),
        accounts(),
        consent(),
        disclosures(),
        tokens(),
        receipts(),
        questions(),
        contacts(),
    )
