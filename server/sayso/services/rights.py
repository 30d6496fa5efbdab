"""A consumer's rights over their own data: a full export, and erasure (who read what is
``access_history.py``).

Erasure is one transaction across the services that own each table: revokes (with
their events and webhooks), token revocation, deleting disclosures, shredding the data key,
closing the account and the erasure event all land together, or nothing does.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime

from sqlalchemy import select

from sayso.ledger import Event, EventType, Ledger
from sayso.models import Account, Brand
from sayso.services.access_history import AccessHistory, ProfileRead
from sayso.services.accounts import AccountService, WrongPassword, actor_for
from sayso.services.consent import BrandGrants, ConsentService
from sayso.services.contacts import ContactPolicyService
from sayso.services.disclosures import DisclosureService
from sayso.services.questions import QuestionService
from sayso.services.receipts import ERASURE_REASON, ReceiptService
from sayso.services.sessions import forget_sign_ins_uncommitted
from sayso.services.tokens import TokenService
from sayso.services.vault import Vault
from sayso.shared.clock import utcnow


class AccountErased(Exception):
    """The account is already erased: there is nothing left to export or erase."""


@dataclass(frozen=True)
class ExportedAccount:
    """The account itself, as exported."""

    email: str
    created_at: datetime


@dataclass(frozen=True)
class DataExport:
    """Everything Sayso holds about one consumer, decrypted, at one moment."""

    exported_at: datetime
    account: ExportedAccount
    disclosures: dict
    grants: list[BrandGrants]
    receipts: list[dict]
    access_history: list[ProfileRead]
    ledger_seq: int
    answers: list[dict] = field(default_factory=list)
    contacts: list[dict] = field(default_factory=list)

    @property
    def filename(self) -> str:
        """What the export is called when saved."""
        return f"sayso-my-data-{self.exported_at:%Y%m%d}.json"


@dataclass(frozen=True)
class Erasure:
    """What erasing an account did."""

    revoked: dict[str, list[str]]
    brand_names: dict[str, str]
    disclosures_deleted: list[str]
    tokens_revoked: int
    ledger_seq: int


class DataExportService:
    """A consumer's whole export: what each owning service holds of them, decrypted, and the
    reads of them from the ledger."""

    def __init__(
        self,
        session,
        ledger: Ledger,
        accounts: AccountService,
        disclosures: DisclosureService,
        consent: ConsentService,
        receipts: ReceiptService,
        questions: QuestionService,
        contacts: ContactPolicyService,
    ):
        self.session = session
        self.ledger = ledger
        self.accounts = accounts
        self.disclosures = disclosures
        self.consent = consent
        self.receipts = receipts
        self.questions = questions
        self.contacts = contacts
        self.history = AccessHistory(session)

    def export(self, account: Account) -> DataExport:
        """Everything about the account, decrypted; the export is a ledger event, committed
        before anything is returned (if it cannot be recorded, nothing is handed out)."""
        if not account.is_active:
            raise AccountErased
        document = DataExport(
            exported_at=utcnow(),
            account=ExportedAccount(self.accounts.email_of(account), account.created_at),
            disclosures=self.disclosures.read(account),
            grants=self.consent.overview(account),
            receipts=self.receipts.for_account(account),
            access_history=list(self.history.all_reads(account)),
            ledger_seq=0,
            answers=self.questions.all_answers_of(account),
            contacts=self.contacts.history_of(account),
        )
        try:
            event = self.ledger.append(
                Event(
                    EventType.DATA_EXPORTED,
                    actor=actor_for(account),
                    subject=account.pseudonym,
                    fields=tuple(document.disclosures),
                    details={
                        "receipts": len(document.receipts),
                        "answers": len(document.answers),
                        "contacts": len(document.contacts),
                        "reads": len(document.access_history),
                    },
                )
            )
            self.session.commit()
        except Exception:
            self.session.rollback()
            raise
        return replace(document, ledger_seq=event.seq)


class ErasureService:
    """Erasing a consumer: one transaction across the services that own their data."""

    def __init__(
        self,
        session,
        ledger: Ledger,
        vault: Vault,
        accounts: AccountService,
        consent: ConsentService,
        tokens: TokenService,
        disclosures: DisclosureService,
        questions: QuestionService,
        contacts: ContactPolicyService,
    ):
        self.session = session
        self.ledger = ledger
        self.vault = vault
        self.accounts = accounts
        self.consent = consent
        self.tokens = tokens
        self.disclosures = disclosures
        self.questions = questions
        self.contacts = contacts

    def erase(self, account: Account, password: str) -> Erasure:
        """Erase the account, confirmed by its password; raise :class:`WrongPassword`.

        Every live grant is revoked (each with its ledger event and ``consent.revoked``
        webhooks), every token revoked, every disclosure, answer and contact a brand
        reported deleted (breaches stay: ``ContactPolicyService.delete_uncommitted``) and
        the data key shredded, so any copy of the ciphertexts (backups included) is
        unreadable for good. The email
        and password go; the account row and its pseudonym stay, because the ledger's events
        name it, and they hold no values. One transaction: all of it lands, or none.
        """
        if not account.is_active:
            raise AccountErased
        if not self.accounts.confirm_password(account, password):
            raise WrongPassword
        now = utcnow()
        try:
            # Tokens first, so the count covers all of them (a brand's revoke ends its own).
            tokens = self.tokens.revoke_all_of_account(account.id, now)
            revoked = self.consent.revoke_all_uncommitted(account, now, reason=ERASURE_REASON)
            deleted = self.disclosures.delete_all_uncommitted(account)
            answers = self.questions.delete_answers_uncommitted(account)
            contacts = self.contacts.delete_uncommitted(account)
            self.vault.shred(account.id)
            forget_sign_ins_uncommitted(self.session, account.id)
            self.accounts.close_uncommitted(account, now)
            event = self.ledger.append(
                Event(
                    EventType.ACCOUNT_ERASED,
                    actor=actor_for(account),
                    subject=account.pseudonym,
                    fields=tuple(deleted),
                    details={
                        "brands_revoked": len(revoked),
                        "answers_deleted": answers,
                        "contacts_deleted": contacts,
                        "tokens_revoked": tokens,
                        "data_key": "shredded",
                    },
                )
            )
            self.session.commit()
        except Exception:
            self.session.rollback()
            raise
        names = dict(
            self.session.execute(
                select(Brand.public_id, Brand.name).where(Brand.public_id.in_(revoked))
            ).all()
        )
        return Erasure(revoked, names, deleted, tokens, event.seq)
