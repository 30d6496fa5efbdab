"""The mail outbox: each message queued in the transaction of the change that causes it
(``MailOutbox.enqueue``), sealed with the recipient's data key, and sent later by the mail
worker (``mail_delivery.py``, ``sayso mail deliver``), so a mail server that is down loses
nothing and a change that rolls back sends nothing."""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import format_datetime

from sqlalchemy import select

from sayso.models import Account, OutgoingMail
from sayso.services.vault import Vault
from sayso.shared.clock import utcnow

#: What a message may be for (``OutgoingMail.kind``).
MAIL_KINDS = ("confirm_address", "address_taken", "password_reset")
STATUSES = ("pending", "sent", "failed")


@dataclass(frozen=True)
class Letter:
    """What one message says: to whom, its subject, its plain text."""

    to: str
    subject: str
    text: str


def _label(message_id: str) -> str:
    # The sealed message opens only as this row's (associated data, see Vault).
    return f"mail:{message_id}"


class MailOutbox:
    """Owns the ``mail_outbox`` table: queues messages, opens them for the worker, lists
    them (kinds and statuses only) for operators."""

    def __init__(self, session, vault: Vault):
        self.session = session
        self.vault = vault

    def enqueue(self, account: Account, kind: str, letter: Letter) -> OutgoingMail:
        """Queue ``letter`` to ``account`` in the caller's transaction (the caller commits)."""
        if kind not in MAIL_KINDS:
            raise ValueError(f"unknown kind of mail: {kind!r}")
        message_id = secrets.token_hex(16)
        body = json.dumps({"to": letter.to, "subject": letter.subject, "text": letter.text})
        mail = OutgoingMail(
            account_id=account.id,
            message_id=message_id,
            kind=kind,
            sealed=self.vault.encrypt_for(account.id, _label(message_id), body.encode()),
            status="pending",
            attempts=0,
            next_attempt_at=utcnow(),
        )
        self.session.add(mail)
        return mail

    def open(self, mail: OutgoingMail) -> Letter:
        """The message a queued row holds (raises ``VaultError`` if its account's key is gone)."""
        data = json.loads(
            self.vault.decrypt_for(mail.account_id, _label(mail.message_id), mail.sealed)
        )
        return Letter(to=data["to"], subject=data["subject"], text=data["text"])

    def messages(self, status: str | None = None, limit: int = 50) -> list[OutgoingMail]:
        """The most recent messages, newest first (kinds, statuses and times: no content)."""
        query = select(OutgoingMail).order_by(OutgoingMail.id.desc()).limit(limit)
        if status is not None:
            query = query.where(OutgoingMail.status == status)
        return list(self.session.scalars(query))


def email_message(letter: Letter, sender: str, message_id: str) -> EmailMessage:
    """``letter`` as the message handed to the mail server."""
    message = EmailMessage()
    message["From"] = sender
    message["To"] = letter.to
    message["Subject"] = letter.subject
    message["Date"] = format_datetime(utcnow())
    domain = sender.rsplit("@", 1)[-1].rstrip(">") or "sayso.localhost"
    message["Message-ID"] = f"<{message_id}@{domain}>"
    # RFC 3834: no auto-reply (out of office) should answer it.
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(letter.text)
    return message
