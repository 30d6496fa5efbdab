"""Passkeys (WebAuthn): registering them, signing in with one alone or after the password,
and removing them. The ceremonies' checks are py_webauthn's; this module keeps the
credentials, the signature counters and the single-use challenges."""

from __future__ import annotations

import hashlib
import json
import secrets
from datetime import timedelta
from urllib.parse import urlsplit

from sqlalchemy import delete, func, select
from webauthn import (
    generate_authentication_options,
    generate_registration_options,
    options_to_json,
    verify_authentication_response,
    verify_registration_response,
)
from webauthn.helpers import base64url_to_bytes, bytes_to_base64url
from webauthn.helpers.exceptions import WebAuthnException
from webauthn.helpers.structs import (
    AuthenticatorSelectionCriteria,
    AuthenticatorTransport,
    PublicKeyCredentialDescriptor,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from sayso.ledger import Event, EventType, Ledger
from sayso.models import Account, Passkey, PasskeyChallenge
from sayso.services.accounts import actor_for
from sayso.shared.clock import utcnow

#: How long a challenge handed to the browser may be answered.
CHALLENGE_LIFETIME = timedelta(minutes=3)
#: The ceremonies, each with its own challenges: one is never accepted for another.
PURPOSES = ("register", "sign_in", "second_factor", "confirm")
#: At most this many passkeys per account.
MAX_PASSKEYS = 20


class PasskeyRefused(Exception):
    """The browser's answer does not prove a passkey of this site (or the challenge was
    used, is too old, or was for another ceremony)."""


def relying_party(issuer_url: str) -> tuple[str, str]:
    """The RP ID (the issuer's host name) and the origin browsers report (its origin)."""
    parts = urlsplit(issuer_url)
    return parts.hostname or "", f"{parts.scheme}://{parts.netloc}"


def _challenge_hash(challenge: str) -> str:
    return hashlib.sha256(challenge.encode()).hexdigest()


def _transports(names: str) -> list[AuthenticatorTransport]:
    known = {t.value: t for t in AuthenticatorTransport}
    return [known[n] for n in names.split(",") if n in known]


class PasskeyService:
    """Owns ``passkeys`` and ``passkey_challenges``. Each method that writes commits."""

    def __init__(self, session, ledger: Ledger, issuer_url: str, rp_name: str = "Sayso"):
        self.session = session
        self.ledger = ledger
        self.rp_id, self.origin = relying_party(issuer_url)
        self.rp_name = rp_name

    # -- listing and settings ------------------------------------------------------------

    def of(self, account: Account) -> list[Passkey]:
        """The account's passkeys, oldest first."""
        return list(
            self.session.scalars(
                select(Passkey).where(Passkey.account_id == account.id).order_by(Passkey.id)
            )
        )

    def count(self, account: Account) -> int:
        """How many passkeys the account has."""
        return self.session.scalar(
            select(func.count()).select_from(Passkey).where(Passkey.account_id == account.id)
        )

    def wants_second_factor(self, account: Account) -> bool:
        """Whether signing in with the password must be followed by a passkey."""
        return bool(account.passkey_second_factor) and self.count(account) > 0

    def set_second_factor(self, account: Account, on: bool) -> bool:
        """Ask (or stop asking) for a passkey after the password; only with a passkey to
        ask for. Whether the setting is now ``on``."""
        account.passkey_second_factor = bool(on) and self.count(account) > 0
        self.session.commit()
        return account.passkey_second_factor

    def remove(self, account: Account, passkey_id: int) -> bool:
        """Remove one of the account's passkeys (the second-factor setting goes with the
        last one); whether there was such a passkey."""
        passkey = self.session.get(Passkey, passkey_id)
        if passkey is None or passkey.account_id != account.id:
            return False
        self.session.delete(passkey)
        self.session.flush()
        if self.count(account) == 0:
            account.passkey_second_factor = False
        self.ledger.append(
            Event(EventType.PASSKEY_REMOVED, actor=actor_for(account), subject=account.pseudonym)
        )
        self.session.commit()
        return True

    def record_refused(self, account: Account | None) -> None:
        """Note a passkey sign-in that failed, as a wrong password is noted (committed).
        It does not count toward the password's lockout: nothing can be guessed."""
        self.ledger.append(
            Event(
                EventType.LOGIN_FAILED,
                actor="anonymous",
                subject=account.pseudonym if account else None,
                details={"reason": "passkey"},
            )
        )
        self.session.commit()

    # -- challenges ----------------------------------------------------------------------

    def _new_challenge(self, purpose: str, account: Account | None) -> bytes:
        challenge = secrets.token_bytes(32)
        now = utcnow()
        self.session.execute(delete(PasskeyChallenge).where(PasskeyChallenge.expires_at <= now))
        self.session.add(
            PasskeyChallenge(
                challenge_hash=_challenge_hash(bytes_to_base64url(challenge)),
                purpose=purpose,
                account_id=account.id if account else None,
                expires_at=now + CHALLENGE_LIFETIME,
            )
        )
        self.session.commit()
        return challenge

    def _use_challenge(self, challenge: str | None, purpose: str, account: Account | None):
        """Use up a challenge this browser was given; the bytes, or PasskeyRefused."""
        if not challenge:
            raise PasskeyRefused
        used = self.session.execute(
            delete(PasskeyChallenge).where(
                PasskeyChallenge.challenge_hash == _challenge_hash(challenge),
                PasskeyChallenge.purpose == purpose,
                PasskeyChallenge.expires_at > utcnow(),
                (
                    PasskeyChallenge.account_id == account.id
                    if account
                    else PasskeyChallenge.account_id.is_(None)
                ),
            )
        ).rowcount
        # Committed now: a challenge is used up whether or not the answer proves anything.
        self.session.commit()
        if used != 1:
            raise PasskeyRefused
        return base64url_to_bytes(challenge)

    # -- registration --------------------------------------------------------------------

    def registration_options(self, account: Account, user_name: str) -> tuple[str, str]:
        """The options for ``navigator.credentials.create`` (JSON) and their challenge
        (base64url), which the caller keeps in the browser's session."""
        challenge = self._new_challenge("register", account)
        options = generate_registration_options(
            rp_id=self.rp_id,
            rp_name=self.rp_name,
            user_id=hashlib.sha256(b"sayso passkey user\n" + account.pseudonym.encode()).digest(),
            user_name=user_name,
            user_display_name=user_name,
            challenge=challenge,
            authenticator_selection=AuthenticatorSelectionCriteria(
                resident_key=ResidentKeyRequirement.REQUIRED,
                user_verification=UserVerificationRequirement.REQUIRED,
            ),
            exclude_credentials=[
                PublicKeyCredentialDescriptor(id=p.credential_id) for p in self.of(account)
            ],
        )
        return options_to_json(options), bytes_to_base64url(challenge)

    def register(self, account: Account, credential: dict, challenge: str | None, name: str):
        """Check the browser's answer to ``registration_options`` and keep the passkey."""
        expected = self._use_challenge(challenge, "register", account)
        if self.count(account) >= MAX_PASSKEYS:
            raise PasskeyRefused
        try:
            verified = verify_registration_response(
                credential=json.dumps(credential),
                expected_challenge=expected,
                expected_rp_id=self.rp_id,
                expected_origin=self.origin,
                require_user_verification=True,
            )
        except (WebAuthnException, ValueError, KeyError, TypeError):
            raise PasskeyRefused from None
        taken = self.session.scalar(
            select(Passkey.id).where(Passkey.credential_id == verified.credential_id)
        )
        if taken is not None:
            raise PasskeyRefused
        transports = credential.get("response", {}).get("transports") or []
        passkey = Passkey(
            account_id=account.id,
            credential_id=verified.credential_id,
            public_key=verified.credential_public_key,
            sign_count=verified.sign_count,
            name=name,
            transports=",".join(str(t) for t in transports if isinstance(t, str))[:128],
            created_at=utcnow(),
        )
        self.session.add(passkey)
        self.ledger.append(
            Event(EventType.PASSKEY_ADDED, actor=actor_for(account), subject=account.pseudonym)
        )
        self.session.commit()
        return passkey

    # -- authentication ------------------------------------------------------------------

    def authentication_options(self, purpose: str, account: Account | None = None):
        """Options for ``navigator.credentials.get`` (JSON) and their challenge. Without an
        account (sign-in with a passkey alone) the browser offers any passkey it holds for
        this site; with one, only that account's."""
        challenge = self._new_challenge(purpose, account)
        allow = (
            [
                PublicKeyCredentialDescriptor(
                    id=p.credential_id, transports=_transports(p.transports) or None
                )
                for p in self.of(account)
            ]
            if account
            else []
        )
        options = generate_authentication_options(
            rp_id=self.rp_id,
            challenge=challenge,
            allow_credentials=allow,
            user_verification=UserVerificationRequirement.REQUIRED
            if purpose == "sign_in"
            else UserVerificationRequirement.PREFERRED,
        )
        return options_to_json(options), bytes_to_base64url(challenge)

    def authenticate(
        self, credential: dict, challenge: str | None, purpose: str, account: Account | None = None
    ) -> Account:
        """The account whose passkey answered ``authentication_options``; with ``account``,
        the answer must come from one of its passkeys. Raises :class:`PasskeyRefused`.

        Signing in with a passkey alone needs the authenticator to have verified the person
        (PIN, fingerprint): that is two factors in one."""
        expected = self._use_challenge(challenge, purpose, account)
        try:
            raw_id = base64url_to_bytes(str(credential.get("rawId") or credential.get("id")))
        except (ValueError, TypeError):
            raise PasskeyRefused from None
        passkey = self.session.scalar(select(Passkey).where(Passkey.credential_id == raw_id))
        if passkey is None or (account is not None and passkey.account_id != account.id):
            raise PasskeyRefused
        try:
            verified = verify_authentication_response(
                credential=json.dumps(credential),
                expected_challenge=expected,
                expected_rp_id=self.rp_id,
                expected_origin=self.origin,
                credential_public_key=passkey.public_key,
                credential_current_sign_count=passkey.sign_count,
                require_user_verification=purpose == "sign_in",
            )
        except (WebAuthnException, ValueError, KeyError, TypeError):
            # A counter that went backwards (a cloned authenticator) ends here too.
            raise PasskeyRefused from None
        owner = self.session.get(Account, passkey.account_id)
        if owner is None or not owner.is_active:
            raise PasskeyRefused
        passkey.sign_count = verified.new_sign_count
        passkey.last_used_at = utcnow()
        if purpose in ("sign_in", "second_factor"):
            self.ledger.append(
                Event(
                    EventType.LOGIN_SUCCEEDED,
                    actor=actor_for(owner),
                    subject=owner.pseudonym,
                    details={"method": "passkey"},
                )
            )
        self.session.commit()
        return owner
