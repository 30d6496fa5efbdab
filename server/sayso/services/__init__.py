"""The domain services, built for the current app and its database session.

Views call these factories; the services themselves take a session and never
touch ``request``.
"""

from datetime import timedelta

from flask import current_app, render_template, url_for

from sayso.coarsening import Coarsener, noise_key
from sayso.db.modes import Mode, transaction_mode
from sayso.extensions import db
from sayso.i18n import speaking
from sayso.ledger import Ledger
from sayso.mail_transport import transport_for
from sayso.services.access_history import AccessHistory
from sayso.services.account_links import AccountLinks, MailWriter
from sayso.services.accounts import AccountService
from sayso.services.audit_console import AuditConsole
from sayso.services.brands import BrandService
from sayso.services.consent import ConsentService
from sayso.services.contacts import ContactPolicyService
from sayso.services.disclosures import DisclosureService
from sayso.services.dpop_proofs import SeenProofs
from sayso.services.integration import IntegrationDashboard
from sayso.services.keys import KeyRotation
from sayso.services.mail import MailOutbox
from sayso.services.mail_delivery import MailDispatcher
from sayso.services.preview import SharePreview
from sayso.services.profile import ProfileService
from sayso.services.pushed_requests import PushedRequestService
from sayso.services.questions import QuestionService
from sayso.services.receipts import ReceiptLinks, ReceiptService
from sayso.services.rights import DataExportService, ErasureService
from sayso.services.sessions import SessionRecords
from sayso.services.tokens import TokenService
from sayso.services.vault import Vault
from sayso.services.webhook_delivery import WebhookDispatcher
from sayso.services.webhooks import WebhookOutbox
from sayso.shared.issuer import issuer, public_url


def vault() -> Vault:
    """The vault, keyed by the app's master keys (the current one and any retired)."""
    return Vault(
        db.session,
        current_app.config["MASTER_KEYS"],
        current_app.extensions["sayso_data_keys"],
    )


def ledger(on=None) -> Ledger:
    """The ledger on the current session (or on connection ``on``)."""
    return Ledger(db.session if on is None else on)


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


def account_links() -> AccountLinks:
    """Sign-up, address confirmation and password reset by emailed links (needs a request:
    the links are absolute, on the issuer's origin)."""
    return AccountLinks(
        db.session,
        accounts(),
        mail_outbox(),
        ledger(),
        MailWriter(public_url, render_template, speaking),
    )


def mail_outbox() -> MailOutbox:
    """The mail outbox: messages queued with the change that causes them."""
    return MailOutbox(db.session, vault())


def mail(session=None) -> MailDispatcher:
    """The mail worker: sends due messages through SAYSO_MAIL_URL's server (or, without one,
    into instance/mail/), on the current session (or on session ``session``)."""
    session = db.session if session is None else session
    return MailDispatcher(
        session,
        MailOutbox(session, Vault(session, current_app.config["MASTER_KEYS"])),
        transport_for(current_app.config, current_app.instance_path),
        current_app.config["MAIL_SENDER"],
    )


def disclosures() -> DisclosureService:
    """The disclosure service."""
    return DisclosureService(db.session, vault(), ledger(), WebhookOutbox(db.session), brands())


def brands(on=None) -> BrandService:
    """The brand service (clients, members, pairwise subjects, initial access tokens with
    the app's limits), on the current session (or on session ``on``)."""
    cfg = current_app.config
    return BrandService(
        db.session if on is None else on,
        ledger(on=on),
        cfg["MASTER_KEYS"],
        initial_token_lifetime=timedelta(seconds=cfg["INITIAL_ACCESS_TOKEN_SECONDS"]),
        initial_token_uses=cfg["INITIAL_ACCESS_TOKEN_USES"],
        subject_key=cfg["SUBJECT_KEY_BYTES"],
    )


def consent() -> ConsentService:
    """The consent service: the only writer of grants."""
    return ConsentService(db.session, ledger(), WebhookOutbox(db.session), brands())


def coarsener() -> Coarsener:
    """Grants' views of a value (less than everything), noised with a key derived from the
    pairwise subject key, which never rotates: the noise a brand sees stays the same."""
    return Coarsener(noise_key(current_app.config["SUBJECT_KEY_BYTES"]))


def share_preview() -> SharePreview:
    """The consumer's own values as a brand would receive them (no brand read event)."""
    return SharePreview(disclosures(), questions(), coarsener())


def contacts() -> ContactPolicyService:
    """Contact policy checks and the contacts brands report."""
    return ContactPolicyService(db.session, vault(), ledger())


def questions() -> QuestionService:
    """Brands' questions and consumers' answers, with the app's k-anonymity threshold."""
    return QuestionService(db.session, vault(), ledger(), current_app.config["ANSWERS_K"])


def pushed_requests(on=None) -> PushedRequestService:
    """Pushed authorization requests (RFC 9126), on the current session (or on ``on``)."""
    return PushedRequestService(db.session if on is None else on)


def tokens(on=None) -> TokenService:
    """Authorization codes (sealed with a key from the master key) and tokens, on the
    current session (or on session ``on``)."""
    session = db.session if on is None else on
    cfg = current_app.config
    return TokenService(
        session,
        ledger(on=on),
        cfg["MASTER_KEYS"],
        refresh_grace=timedelta(seconds=cfg["REFRESH_GRACE_SECONDS"]),
    )


def dpop_proofs() -> SeenProofs:
    """The DPoP proofs already accepted, on the app's engine (connections of its own), or,
    when this request's SQLite transaction already holds the write lock (a write request
    whose session was read, e.g. a stale sign-in cookie checked), in that transaction."""
    session = db.session()
    holds_lock = (
        db.engine.dialect.name == "sqlite"
        and session.in_transaction()
        and transaction_mode(session.connection()) is Mode.ORDINARY
    )
    return SeenProofs(db.engine, session if holds_lock else None)


def profile() -> ProfileService:
    """Profile reads for brands' tokens, each recorded before anything is disclosed."""
    return ProfileService(
        vault(),
        db.engine,
        current_app.extensions.get("sayso_read_groups"),
        brands(),
        questions(),
        coarsener(),
    )


def key_rotation() -> KeyRotation:
    """Master key rotation: what each key wraps, and re-wrapping under the current one."""
    return KeyRotation(db.session, current_app.config["MASTER_KEYS"], vault(), brands())


def webhook_outbox() -> WebhookOutbox:
    """The webhook outbox: queued deliveries and how they went."""
    return WebhookOutbox(db.session)


def webhooks() -> WebhookDispatcher:
    """The worker side of webhooks: sends due deliveries."""
    return WebhookDispatcher(
        db.session, brands(), allow_loopback=current_app.config["ALLOW_HTTP_LOOPBACK"]
    )


def audit_console() -> AuditConsole:
    """The officer console's queries over the ledger, its key and its witnesses."""
    cfg = current_app.config
    return AuditConsole(
        db.session,
        ledger(),
        current_app.extensions["sayso_ledger_key"],
        cfg["LEDGER_WITNESSES"],
        cfg["LEDGER_CHECKPOINT_SECONDS"],
    )


def receipts() -> ReceiptService:
    """Consent receipts, signed with the ledger key (needs a request: links are absolute)."""
    site = issuer()
    links = ReceiptLinks(
        issuer=site,
        public_key=site + url_for("wellknown.ledger_key"),
        brands_page=site + url_for("web.brands"),
        revoke_api=lambda brand_id: site + url_for("api.revoke_brand", brand_id=brand_id),
    )
    return ReceiptService(
        db.session,
        current_app.extensions["sayso_ledger_key"],
        brands(),
        links,
        witnessed=bool(current_app.config["LEDGER_WITNESSES"]),
    )


def access_history() -> AccessHistory:
    """Who read what of a consumer, from the ledger."""
    return AccessHistory(db.session)


def data_export() -> DataExportService:
    """A consumer's whole export."""
    return DataExportService(
        db.session,
        ledger(),
        accounts(),
        disclosures(),
        consent(),
        receipts(),
        questions(),
        contacts(),
    )


def erasure() -> ErasureService:
    """Erasing a consumer, in one transaction across the services that own their data."""
    return ErasureService(
        db.session,
        ledger(),
        vault(),
        accounts(),
        consent(),
        tokens(),
        disclosures(),
        questions(),
        contacts(),
    )


def integration_dashboard() -> IntegrationDashboard:
    """Per-client counts for the brand portal's dashboard (reads, errors, webhooks, consent)."""
    return IntegrationDashboard(db.session)


def session_records() -> SessionRecords:
    """Signed-in sessions (and the extension's tokens) the consumer can list and end."""
    return SessionRecords(db.session, ledger(), tokens(), db.engine)


def passkey_service():
    """Passkeys (WebAuthn), for the relying party the issuer names (``shared/issuer.py``)."""
    # Imported here: py_webauthn is loaded only by the pages that use passkeys.
    from sayso.services.passkeys import PasskeyService

    return PasskeyService(db.session, ledger(), issuer())
