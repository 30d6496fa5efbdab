"""Accounts: sign-up, sign-in with lockout, password changes."""

from __future__ import annotations

import secrets
from datetime import timedelta
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from werkzeug.exceptions import Forbidden

from sayso import time_zones
from sayso.ledger import Event, EventType, Ledger
from sayso.models import Account
from sayso.services.vault import Vault
from sayso.shared.clock import utcnow


class EmailTaken(Exception):
    """Sign-up with an email that already has an account."""


class WrongPassword(Exception):
    """A password change whose current password is not right."""


class SamePassword(Exception):
    """A new password that is the current one."""


class AddressNotConfirmed(Forbidden):
    """The account's email address is not confirmed yet, so it may grant nothing to a
    brand. A 403 wherever it reaches (errors.py answers it as every HTTP error)."""

    description = (
        "Confirm your email address before you share anything with a brand: follow the "
        "link we emailed you, or ask for a new one on your Disclosures page."
    )


@cache
def _hasher(time_cost: int, memory_cost: int) -> PasswordHasher:
    return PasswordHasher(time_cost=time_cost, memory_cost=memory_cost)


@cache
def _dummy_hash(time_cost: int, memory_cost: int) -> str:
    # Verified against when the email is unknown, so a miss costs as long as a hit.
    return _hasher(time_cost, memory_cost).hash(secrets.token_hex(16))


def actor_for(account: Account) -> str:
    """How an account appears as the actor of a ledger event."""
    return f"{account.role}:{account.pseudonym}"


class AccountService:
    """Owns the ``accounts`` table. Each public method that writes is one committed unit
    of work, except ``close_uncommitted``, which leaves the commit to its caller."""

    def __init__(
        self,
        session,
        vault: Vault,
        ledger: Ledger,
        *,
        max_failures: int,
        lockout_seconds: int,
        argon2_time_cost: int,
        argon2_memory_cost: int,
    ):
        self.session = session
        self.vault = vault
        self.ledger = ledger
        self.max_failures = max_failures
        self.lockout = timedelta(seconds=lockout_seconds)
        self._cost = (argon2_time_cost, argon2_memory_cost)
        self.hasher = _hasher(*self._cost)

    def sign_up(self, email: str, password: str, role: str = "consumer") -> Account:
        """Create an account with its data key, its address taken as confirmed (for the
        command line and the demo, where the operator vouches for it); raise
        :class:`EmailTaken` if the email is used. People sign up through
        ``AccountLinks.request_sign_up``, which confirms the address by email."""
        if self.find_by_email(email) is not None:
            raise EmailTaken
        try:
            account = self.create_uncommitted(email, self.hasher.hash(password), role)
            account.email_confirmed_at = account.created_at
            self.session.commit()
        except IntegrityError:
            # Lost a race with another sign-up for the same email.
            self.session.rollback()
            raise EmailTaken from None
        except Exception:
            self.session.rollback()
            raise
        return account

    def create_uncommitted(self, email: str, password_hash: str, role: str = "consumer") -> Account:
        """A new account (address not confirmed) with its data key and its ledger event, in
        the caller's transaction; the unique email index refuses a taken address at commit
        (or at the flush here)."""
        account = Account(
            role=role,
            email_index=self.vault.email_index(email),
            password_hash=password_hash,
            pseudonym=secrets.token_hex(16),
            created_at=utcnow(),
        )
        self.session.add(account)
        self.session.flush()
        self.vault.create_key(account.id)
        account.email_encrypted = self.vault.encrypt_for(
            account.id, "email", email.strip().encode()
        )
        # Each role's creation is its own event type, so a search for consumer sign-ups
        # lists neither the people who audit them nor brands' staff.
        created = {
            "officer": EventType.OFFICER_CREATED,
            "brand": EventType.BRAND_MEMBER_CREATED,
        }.get(role, EventType.ACCOUNT_CREATED)
        self.ledger.append(Event(created, actor=actor_for(account), subject=account.pseudonym))
        return account

    def hash_password(self, password: str) -> str:
        """The stored form of ``password`` (Argon2id, with the app's costs)."""
        return self.hasher.hash(password)

    def is_current_password(self, account: Account, password: str) -> bool:
        """Whether ``password`` is the account's now (no lockout counting: for refusing it
        as a new one)."""
        return account.password_hash is not None and self._verify(account.password_hash, password)

    def find_by_email(self, email: str) -> Account | None:
        """The account behind an email address, if any."""
        # One account at most, but for an address taken again while a retired master key
        # was missing (docs/configuration.md, Rotating the master key): the first one.
        return self.session.scalar(
            select(Account)
            .where(Account.email_index.in_(self.vault.email_indexes(email)))
            .order_by(Account.id)
            .limit(1)
        )

    def email_of(self, account: Account) -> str:
        """Decrypt the account's email address."""
        return self.vault.decrypt_for(account.id, "email", account.email_encrypted).decode()

    def authenticate(self, email: str, password: str) -> Account | None:
        """The account if the credentials are right and it is not locked; records the attempt."""
        account = self.find_by_email(email)
        if account is None or account.password_hash is None or not account.is_active:
            self._verify(_dummy_hash(*self._cost), password)
            self._record_failure(None, "unknown_account")
            return None
        if not self._check_counting_failures(account, password):
            return None
        if self.hasher.check_needs_rehash(account.password_hash):
            account.password_hash = self.hasher.hash(password)
        self.ledger.append(
            Event(EventType.LOGIN_SUCCEEDED, actor=actor_for(account), subject=account.pseudonym)
        )
        self.session.commit()
        return account

    def change_password(self, account: Account, current: str, new: str) -> None:
        """Set a new password and end every other session; raise :class:`WrongPassword`,
        or :class:`SamePassword` when the new one is the current one.

        A wrong current password counts toward the lockout as on the sign-in page (and a
        locked account's is refused), so a session left open is no way to guess it."""
        if not self._check_counting_failures(account, current):
            raise WrongPassword
        if new == current:
            raise SamePassword
        account.password_hash = self.hasher.hash(new)
        account.session_epoch += 1
        # A reset link sent before no longer works.
        account.reset_token_hash = account.reset_expires_at = None
        self.ledger.append(
            Event(EventType.PASSWORD_CHANGED, actor=actor_for(account), subject=account.pseudonym)
        )
        self.session.commit()

    def set_time_zone(self, account: Account, zone: str | None) -> None:
        """Set (an IANA name, e.g. "Europe/Paris") or clear (None) the consumer's own time
        zone, in which their quiet hours are kept and times are shown to them.

        No ledger event: it is a setting of the account, not something disclosed to a brand
        (the quiet hours that use it are part of the channels disclosure, which has its own).
        """
        if zone is not None and time_zones.resolve(zone) != zone:
            raise ValueError(f"not an IANA time zone: {zone!r}")
        if account.time_zone != zone:
            account.time_zone = zone
            self.session.commit()

    def sign_out(self, account: Account) -> None:
        """End every session of the account: its session id (``Account.get_id``) changes,
        so a copy of a signed-in cookie, taken before, no longer signs anyone in."""
        account.session_epoch += 1
        self.session.commit()

    def confirm_password(self, account: Account, password: str) -> bool:
        """Whether ``password`` is the account's, confirming a grave step (erasure). As on
        the sign-in page, a wrong one counts toward the lockout and is recorded (committed)
        and a locked account's is refused, so a session left open is no way to guess it."""
        if account.password_hash is None:
            return False
        return self._check_counting_failures(account, password)

    def close_uncommitted(self, account: Account, now) -> None:
        """Make the account unusable and forget its email, in the caller's transaction.

        The email's keyed hash, its ciphertext and the password hash go; bumping the
        session epoch ends every session; ``erased_at`` keeps it from signing in again.
        The row itself (and its pseudonym, which ledger events name) stays.
        """
        account.email_index = None
        account.email_encrypted = None
        account.password_hash = None
        account.confirm_token_hash = account.reset_token_hash = account.reset_expires_at = None
        account.failed_logins = 0
        account.locked_until = None
        account.session_epoch += 1
        account.erased_at = now

    def _check_counting_failures(self, account: Account, password: str) -> bool:
        """Whether ``password`` is the account's and the account is not locked. A wrong one
        is counted (locking the account after ``max_failures``) and recorded, committed;
        a right one clears the count, left for the caller to commit."""
        now = utcnow()
        if account.locked_until and account.locked_until > now:
            self._verify(_dummy_hash(*self._cost), password)
            self._record_failure(account, "locked")
            return False
        if not self._verify(account.password_hash, password):
            account.failed_logins += 1
            if account.failed_logins >= self.max_failures:
                account.locked_until = now + self.lockout
                account.failed_logins = 0
                self.ledger.append(
                    Event(
                        EventType.LOGIN_LOCKED,
                        actor="system",
                        subject=account.pseudonym,
                        details={"seconds": int(self.lockout.total_seconds())},
                    )
                )
            self._record_failure(account, "bad_password")
            return False
        account.failed_logins = 0
        account.locked_until = None
        return True

    def _verify(self, password_hash: str, password: str) -> bool:
        try:
            return self.hasher.verify(password_hash, password)
        except (VerificationError, InvalidHashError):
            return False

    def _record_failure(self, account: Account | None, reason: str) -> None:
        self.ledger.append(
            Event(
                EventType.LOGIN_FAILED,
                actor="anonymous",
                subject=account.pseudonym if account else None,
                details={"reason": reason},
            )
        )
        self.session.commit()
