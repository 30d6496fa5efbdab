"""Signed-in sessions, one row per browser, and the extension's tokens, as the consumer's
"Sessions and devices" page lists and ends them."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache

from flask import g
from sqlalchemy import and_, delete, func, or_, select, update
from ua_parser import parse

from sayso.db import one_write, writing_anyway
from sayso.fields import MANAGE_SCOPE
from sayso.ledger import Event, EventType, Ledger
from sayso.models import Account, AccountSession, OAuthClient, Passkey, PasskeyChallenge, Token
from sayso.services.accounts import actor_for
from sayso.services.tokens import TokenService
from sayso.shared.clock import utcnow

#: "Last seen" is written at most this often per session, not on every request.
LAST_SEEN_EVERY = timedelta(minutes=5)


def id_hash(raw: str) -> str:
    """How a session id (the cookie's) is stored."""
    return hashlib.sha256(raw.encode()).hexdigest()


@lru_cache(maxsize=512)
def describe(user_agent: str) -> tuple[str | None, str | None]:
    """The browser and operating system a User-Agent header names ("Firefox", "Windows"),
    each None when it names none (the page puts them in a sentence of its language)."""
    parsed = parse(user_agent or "")
    browser = parsed.user_agent.family if parsed.user_agent else None
    system = parsed.os.family if parsed.os else None
    return (
        browser if browser and browser != "Other" else None,
        system if system and system != "Other" else None,
    )


def _live(account_id: int, epoch: int, raw: str):
    """What makes the session a cookie names live: the account's conditions (named, at
    its current epoch, not erased) and its record's (that id, that epoch, not ended)."""
    account = and_(
        Account.id == account_id,
        Account.session_epoch == epoch,
        Account.erased_at.is_(None),
    )
    record = and_(
        AccountSession.account_id == Account.id,
        AccountSession.id_hash == id_hash(raw),
        AccountSession.epoch == Account.session_epoch,
        AccountSession.ended_at.is_(None),
    )
    return account, record


def forget_sign_ins_uncommitted(session, account_id: int) -> None:
    """At erasure, in the caller's transaction: the account's session records (their
    User-Agents), passkeys and pending challenges go. Erasure's epoch bump has already
    ended the sessions; nothing here is needed to sign in to an erased account."""
    for model in (AccountSession, Passkey, PasskeyChallenge):
        session.execute(delete(model).where(model.account_id == account_id))


@dataclass(frozen=True)
class ExtensionAccess:
    """A live token family of a first-party client holding ``consent:manage``."""

    family_id: str
    client_name: str
    first_seen: datetime
    last_seen: datetime


class SessionRecords:
    """Owns ``account_sessions``. ``start`` and the ``end_*`` methods commit."""

    def __init__(self, session, ledger: Ledger, tokens: TokenService | None = None, engine=None):
        self.session = session
        self.ledger = ledger
        self.tokens = tokens
        self.engine = engine

    def start(self, account: Account, user_agent: str, method: str = "password") -> str:
        """Record a new signed-in session; the random id its cookie is to carry."""
        raw = secrets.token_urlsafe(32)
        now = utcnow()
        # The account's ended sessions are forgotten as a new one starts (no table of
        # every sign-in ever: the ledger keeps those).
        self.session.execute(
            delete(AccountSession).where(
                AccountSession.account_id == account.id,
                or_(
                    AccountSession.ended_at.is_not(None),
                    AccountSession.epoch != account.session_epoch,
                ),
            )
        )
        self.session.add(
            AccountSession(
                id_hash=id_hash(raw),
                account_id=account.id,
                epoch=account.session_epoch,
                user_agent=(user_agent or "")[:512],
                method=method,
                created_at=now,
                last_seen_at=now,
            )
        )
        self.session.commit()
        return raw

    def load(self, account_id: int, epoch: int, raw: str | None) -> Account | None:
        """The account a cookie names, if its session is live: one statement (the same
        count as loading the account alone), or none when ``along`` already read it in
        this request. Notes the session seen, at most every ``LAST_SEEN_EVERY``, on a
        connection of its own (a GET's transaction is read-only)."""
        if not raw:
            return None
        ahead = g.pop("sayso_session_ahead", None)
        if ahead is not None and ahead[0] == (account_id, epoch, raw):
            row = ahead[1]
        else:
            account_on, record_on = _live(account_id, epoch, raw)
            row = self.session.execute(
                select(Account, AccountSession.last_seen_at)
                .join(AccountSession, record_on)
                .where(account_on)
            ).first()
        if row is None:
            return None
        account, last_seen = row
        now = utcnow()
        if self.engine is not None and now - last_seen >= LAST_SEEN_EVERY:
            with writing_anyway(), one_write(), self.engine.connect() as connection:
                connection.execute(
                    update(AccountSession)
                    .where(AccountSession.id_hash == id_hash(raw))
                    .values(last_seen_at=now)
                )
                connection.commit()
        return account

    def along(self, statement, account_id: int, epoch: int, raw: str):
        """``statement`` (a select of one row, as a client by its id) with the account of
        the session a cookie names and the session's last-seen time added to its row
        (both ``None`` unless the session is live); hand the row's two to ``read_along``.

        For a request that needs a row of its own and the signed-in account anyway (the
        authorization endpoint): one statement instead of two, the same checks."""
        account_on, record_on = _live(account_id, epoch, raw)
        # The joins hang off the statement's own row (their conditions name no column of it).
        row = statement.column_descriptions[0]["entity"]
        return (
            statement.select_from(row)
            .add_columns(Account, AccountSession.last_seen_at)
            .outerjoin(Account, account_on)
            .outerjoin(AccountSession, record_on)
        )

    def read_along(self, account_id: int, epoch: int, raw: str, account, last_seen) -> None:
        """What ``along`` read, for this request's ``load`` of the same session (which then
        executes nothing). An account without a session record's time has no live
        session: the outer joins found the account but not the record."""
        row = (account, last_seen) if last_seen is not None else None
        g.sayso_session_ahead = ((account_id, epoch, raw), row)

    def live(self, account: Account) -> list[AccountSession]:
        """The account's live sessions, the most recently seen first."""
        return list(
            self.session.scalars(
                select(AccountSession)
                .where(
                    AccountSession.account_id == account.id,
                    AccountSession.epoch == account.session_epoch,
                    AccountSession.ended_at.is_(None),
                )
                .order_by(AccountSession.last_seen_at.desc(), AccountSession.created_at.desc())
            )
        )

    def end(self, account: Account, session_hash: str) -> bool:
        """End one of the account's sessions; whether it was live."""
        ended = self.session.execute(
            update(AccountSession)
            .where(
                AccountSession.id_hash == session_hash,
                AccountSession.account_id == account.id,
                AccountSession.ended_at.is_(None),
            )
            .values(ended_at=utcnow())
        ).rowcount
        if ended:
            self._record(account, {"what": "session"})
        self.session.commit()
        return bool(ended)

    def end_others(self, account: Account, keep_raw: str | None) -> int:
        """End every session of the account but the one whose cookie holds ``keep_raw``."""
        keep = id_hash(keep_raw) if keep_raw else ""
        ended = self.session.execute(
            update(AccountSession)
            .where(
                AccountSession.account_id == account.id,
                AccountSession.epoch == account.session_epoch,
                AccountSession.id_hash != keep,
                AccountSession.ended_at.is_(None),
            )
            .values(ended_at=utcnow())
        ).rowcount
        if ended:
            self._record(account, {"what": "other_sessions", "count": ended})
        self.session.commit()
        return ended

    def extension_access(self, account: Account) -> list[ExtensionAccess]:
        """The live token families of first-party clients (no brand) holding
        ``consent:manage`` for the account: the browser extension, signed in."""
        now = utcnow()
        rows = self.session.execute(
            select(
                Token.family_id,
                OAuthClient.name,
                func.min(Token.issued_at),
                func.max(Token.issued_at),
            )
            .join(OAuthClient, OAuthClient.client_id == Token.client_id)
            .where(
                Token.account_id == account.id,
                Token.brand_id.is_(None),
                OAuthClient.brand_id.is_(None),
                Token.revoked_at.is_(None),
                Token.scope.contains(MANAGE_SCOPE),
            )
            .group_by(Token.family_id, OAuthClient.name)
            .having(
                func.max(func.coalesce(Token.refresh_expires_at, Token.access_expires_at)) > now
            )
            .order_by(func.max(Token.issued_at).desc())
        ).all()
        return [ExtensionAccess(*row) for row in rows]

    def end_extension_access(self, account: Account, family_id: str) -> bool:
        """Revoke one of those families (the extension is signed out); whether it was one."""
        if family_id not in {a.family_id for a in self.extension_access(account)}:
            return False
        self.tokens.revoke_family(family_id)
        self._record(account, {"what": "extension", "family": family_id[:16]})
        self.session.commit()
        return True

    def _record(self, account: Account, details: dict) -> None:
        self.ledger.append(
            Event(
                EventType.SESSION_ENDED,
                actor=actor_for(account),
                subject=account.pseudonym,
                details=details,
            )
        )
