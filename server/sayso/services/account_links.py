"""Accounts by email: signing up without telling anyone whether an address has an account,
confirming the address by an emailed link, and resetting a forgotten password by one.

Every link is a random secret (prefixed, so a leaked one is recognisable and blanked in
logs, see logs.py) stored only as its SHA-256 on the account: one confirmation link and one
reset link live at a time, so a newer link replaces the older, using one clears it, and a
password change or reset clears the reset link. Every message is queued in the outbox in
the transaction of the change that causes it (services/mail.py).
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from datetime import timedelta

from flask_babel import gettext
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from sayso.ledger import Event, EventType, Ledger
from sayso.models import Account
from sayso.services.accounts import AccountService, SamePassword, actor_for
from sayso.services.mail import Letter, MailOutbox
from sayso.shared.clock import utcnow
from sayso.shared.forms import N_
from sayso.shared.tokens import new_secret, token_hash

#: How long a password reset link works.
RESET_LIFETIME = timedelta(minutes=30)
CONFIRM_PREFIX = "sayso_cfm"
RESET_PREFIX = "sayso_rst"


class LinkNotValid(Exception):
    """The link was used already, replaced by a newer one, or has expired."""


@dataclass(frozen=True)
class MailWriter:
    """How messages are written: ``link(endpoint, **values)``, an absolute URL on the
    issuer's origin; ``render(template, **context)``, a text template; ``speaking(account)``,
    the recipient's language while a message is written (i18n.speaking: the account's
    choice, else the language of the request that causes the message)."""

    link: Callable[..., str]
    render: Callable[..., str]
    speaking: Callable[[Account], AbstractContextManager] = lambda _account: nullcontext()


class AccountLinks:
    """Sign-up requests, address confirmation and password resets. Writes the ``accounts``
    columns of links and confirmation (through :class:`AccountService` for the rest)."""

    def __init__(
        self,
        session,
        accounts: AccountService,
        outbox: MailOutbox,
        ledger: Ledger,
        writer: MailWriter,
    ):
        self.session = session
        self.accounts = accounts
        self.outbox = outbox
        self.ledger = ledger
        self.writer = writer

    # Signing up ------------------------------------------------------------------

    def request_sign_up(self, email: str, password: str, next_url: str = "") -> None:
        """Create an account whose address is to be confirmed and email it the link, or,
        when the address has an account, email that account instead ("someone tried to sign
        up with your address"). Either way one password hash, one message queued, one
        event and one commit: the caller cannot tell which happened, nor, much, by timing."""
        email = email.strip()
        existing = self.accounts.find_by_email(email)
        password_hash = self.accounts.hash_password(password)
        try:
            if existing is None:
                account = self.accounts.create_uncommitted(email, password_hash)
                self._send_confirmation(account, email, next_url)
            else:
                self._address_taken(existing, next_url)
            self.session.commit()
        except IntegrityError:
            # Lost a race with another sign-up for the same address: it has an account now.
            self.session.rollback()
            existing = self.accounts.find_by_email(email)
            if existing is None:
                raise
            self._address_taken(existing, next_url)
            self.session.commit()
        except Exception:
            self.session.rollback()
            raise

    def resend_confirmation(self, account: Account, next_url: str = "") -> None:
        """A new confirmation link for a signed-in account whose address is not confirmed
        (the older link stops working); nothing when it is confirmed."""
        if account.email_confirmed or not account.is_active:
            return
        self._send_confirmation(account, self.accounts.email_of(account), next_url)
        self.session.commit()

    def confirmable(self, token: str) -> Account | None:
        """The account a confirmation link is for, if the link is still good."""
        if not token.startswith(CONFIRM_PREFIX + "_"):
            return None
        account = self.session.scalar(
            select(Account).where(Account.confirm_token_hash == token_hash(token))
        )
        if account is None or not account.is_active or account.email_confirmed:
            return None
        return account

    def confirm(self, token: str, password: str) -> Account | None:
        """Confirm the address the link was sent to, given the account's password too (so
        neither someone who signed up with another's address, nor someone with only the
        mailbox, can confirm it); every other session ends. The account, or ``None`` when
        the password is wrong (counted toward the lockout, as at sign-in); raises
        :class:`LinkNotValid`."""
        account = self.confirmable(token)
        if account is None:
            raise LinkNotValid
        if not self.accounts.confirm_password(account, password):
            return None
        account.email_confirmed_at = utcnow()
        account.confirm_token_hash = None
        account.session_epoch += 1
        self.ledger.append(
            Event(EventType.EMAIL_CONFIRMED, actor=actor_for(account), subject=account.pseudonym)
        )
        self.session.commit()
        return account

    # Resetting a password -------------------------------------------------------

    def request_reset(self, email: str) -> None:
        """Email a reset link to the account with this address, if there is one (the
        older link stops working). Recorded either way (the account's pseudonym, or no
        subject: never the address), so both take one commit."""
        account = self.accounts.find_by_email(email)
        if account is not None and account.is_active and account.password_hash is not None:
            token = new_secret(RESET_PREFIX)
            account.reset_token_hash = token_hash(token)
            account.reset_expires_at = utcnow() + RESET_LIFETIME
            minutes = int(RESET_LIFETIME.total_seconds() // 60)
            self._enqueue(
                account,
                "password_reset",
                self.accounts.email_of(account),  # as the account has it, not as typed
                N_("Reset your Sayso password"),
                "mail/password_reset.txt",
                link=self.writer.link("web.reset_password", token=token),
                minutes=minutes,
                forgot=self.writer.link("web.forgot_password"),
            )
            subject = account.pseudonym
        else:
            subject = None
        self.ledger.append(
            Event(EventType.PASSWORD_RESET_REQUESTED, actor="anonymous", subject=subject)
        )
        self.session.commit()

    def resettable(self, token: str) -> Account | None:
        """The account a reset link is for, if the link is still good."""
        if not token.startswith(RESET_PREFIX + "_"):
            return None
        account = self.session.scalar(
            select(Account).where(Account.reset_token_hash == token_hash(token))
        )
        if (
            account is None
            or not account.is_active
            or account.reset_expires_at is None
            or account.reset_expires_at <= utcnow()
        ):
            return None
        return account

    def reset(self, token: str, new_password: str) -> Account:
        """Set the new password through the link, which then stops working; every session
        of the account ends, sign-in is no longer paused, and the address counts as
        confirmed (the link reached it). Raises :class:`LinkNotValid`, or
        :class:`SamePassword` when the new password is the current one."""
        account = self.resettable(token)
        if account is None:
            raise LinkNotValid
        if self.accounts.is_current_password(account, new_password):
            raise SamePassword
        now = utcnow()
        account.password_hash = self.accounts.hash_password(new_password)
        account.reset_token_hash = account.reset_expires_at = None
        if not account.email_confirmed:
            account.email_confirmed_at = now
            account.confirm_token_hash = None
        account.failed_logins = 0
        account.locked_until = None
        account.session_epoch += 1
        self.ledger.append(
            Event(EventType.PASSWORD_RESET, actor=actor_for(account), subject=account.pseudonym)
        )
        self.session.commit()
        return account

    # Messages ---------------------------------------------------------------------

    def _send_confirmation(self, account: Account, email: str, next_url: str) -> None:
        token = new_secret(CONFIRM_PREFIX)
        account.confirm_token_hash = token_hash(token)
        values = {"next": next_url} if next_url else {}
        self._enqueue(
            account,
            "confirm_address",
            email,
            N_("Confirm your email address for Sayso"),
            "mail/confirm_address.txt",
            link=self.writer.link("web.confirm_address", token=token, **values),
        )

    def _address_taken(self, account: Account, next_url: str) -> None:
        values = {"next": next_url} if next_url else {}
        self._enqueue(
            account,
            "address_taken",
            self.accounts.email_of(account),
            N_("Someone tried to sign up to Sayso with your address"),
            "mail/address_taken.txt",
            sign_in=self.writer.link("web.login", **values),
            forgot=self.writer.link("web.forgot_password"),
        )
        self.ledger.append(
            Event(EventType.SIGNUP_REPEATED, actor="anonymous", subject=account.pseudonym)
        )

    def _enqueue(self, account, kind, to, subject, template, **context) -> None:
        with self.writer.speaking(account):
            text = self.writer.render(template, **context)
            subject = gettext(subject)
        self.outbox.enqueue(account, kind, Letter(to=to, subject=subject, text=text))
