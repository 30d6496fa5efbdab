"""The mail worker: sends due messages from the outbox (``mail.py``) and retries failures
with backoff (``sayso mail deliver``, or each app process's background thread with
``SAYSO_MAIL_WORKER=background``). The same shape as the webhook worker: each message is
claimed, sent and recorded in short transactions of its own; no transaction stays open
while the mail server answers."""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass
from datetime import timedelta
from email.message import EmailMessage

from sayso.mail_transport import MailFailed
from sayso.models import OutgoingMail
from sayso.services import outbox_worker
from sayso.services.mail import MailOutbox, email_message
from sayso.shared.crypto import KeyShredded, MasterKeyMissing, VaultError

log = logging.getLogger(__name__)

#: Retry schedule: ``BASE * 2 ** (attempts - 1)``, at most ``CAP``, each +/- ``JITTER``.
BACKOFF_BASE = timedelta(seconds=30)
BACKOFF_CAP = timedelta(hours=1)
BACKOFF_JITTER = 0.1
#: Attempts before a message is given up (about a day and a half of retries).
MAX_ATTEMPTS = 40
#: How long a claimed message stays out of other workers' way while it is being sent. If
#: the worker dies mid-send it is sent again after this (mail is at-least-once).
CLAIM_LEASE = timedelta(minutes=5)


@dataclass
class MailSummary:
    """What one round of :meth:`MailDispatcher.deliver_due` did."""

    sent: int = 0
    retried: int = 0
    failed: int = 0

    @property
    def total(self) -> int:
        """How many messages the round handled."""
        return self.sent + self.retried + self.failed

    def __str__(self) -> str:
        return f"sent {self.sent}, retried {self.retried}, failed {self.failed}"


class MailDispatcher:
    """Sends due messages through ``transport`` and reschedules the ones that fail; a
    message's content is deleted once it is sent or given up."""

    def __init__(
        self, session, outbox: MailOutbox, transport, sender: str, *, max_attempts=MAX_ATTEMPTS
    ):
        self.session = session
        self.outbox = outbox
        self.transport = transport
        self.sender = sender
        self.max_attempts = max_attempts
        self._random = random.Random()  # noqa: S311  (jitter spreads retries; not a secret)

    def run(self, stop, limit: int = 100, interval: float = 5.0, report=None) -> None:
        """Rounds of :meth:`deliver_due` until ``stop.is_set()``, waiting ``interval``
        seconds when nothing more is due. A database error ends the round, not the worker:
        it waits (longer while errors go on) and tries again (see :func:`outbox_worker.run`)."""
        outbox_worker.run(
            "mail",
            log,
            self.session,
            self.deliver_due,
            self.fault_backoff,
            stop,
            limit=limit,
            interval=interval,
            report=report,
        )

    def deliver_due(self, limit: int = 100, stop=None) -> MailSummary:
        """Send up to ``limit`` due messages, one at a time; stop early once ``stop.is_set()``."""
        return outbox_worker.deliver_round(
            MailSummary(), limit, stop, self._claim, self._send_and_record
        )

    def backoff(self, attempts: int) -> timedelta:
        """How long to wait after the ``attempts``-th failed attempt (with jitter)."""
        return outbox_worker.retry_backoff(
            self._random, attempts, BACKOFF_BASE, BACKOFF_CAP, BACKOFF_JITTER
        )

    def fault_backoff(self, failures: int) -> float:
        """Seconds to wait after the ``failures``-th database error in a row (with jitter)."""
        return outbox_worker.fault_backoff(self._random, failures, BACKOFF_JITTER)

    def _send_and_record(self, claimed) -> str | None:
        mail_id, message, problem = claimed
        return self._record(mail_id, *self._send(message, problem))

    def _claim(self) -> tuple[int, EmailMessage | None, tuple[str, bool] | None] | None:
        """Take the next due message out of other workers' reach, open it, and commit (see
        :func:`outbox_worker.claim_next`)."""
        return outbox_worker.claim_next(self.session, OutgoingMail, CLAIM_LEASE, self._open)

    def _open(self, mail: OutgoingMail) -> tuple[int, EmailMessage | None, tuple[str, bool] | None]:
        message, problem = None, None
        try:
            letter = self.outbox.open(mail)
            message = email_message(letter, self.sender, mail.message_id)
        except MasterKeyMissing as missing:
            # A retired master key dropped too early: try again, in case it is put back.
            problem = (str(missing), False)
        except KeyShredded:
            problem = ("the account was erased before it could be sent", True)
        except VaultError:
            problem = ("the message cannot be opened", True)
        return mail.id, message, problem

    def _send(self, message: EmailMessage | None, problem) -> tuple[str | None, bool]:
        """Hand the message over; ``(error, permanent)``, ``(None, False)`` when it went."""
        if problem is not None:
            return problem
        try:
            self.transport.send(message)
        except MailFailed as failed:
            return str(failed), failed.permanent
        except Exception:
            # One odd message must not stop the worker for every other one.
            log.exception("mail %s: unexpected error while sending", message["Message-ID"])
            return "unexpected error while sending", False
        return None, False

    def _record(self, mail_id: int, error: str | None, permanent: bool) -> str | None:
        """Write down how the attempt went (and forget the message once it is done)."""

        def write(mail: OutgoingMail, now) -> tuple[str, int, str]:
            mail.attempts += 1
            mail.last_attempt_at = now
            mail.last_error = error[:255] if error else None
            if error is None:
                mail.status, result = "sent", "sent"
                mail.sent_at = now
            elif permanent or mail.attempts >= self.max_attempts:
                mail.status, result = "failed", "failed"
            else:
                mail.next_attempt_at = now + self.backoff(mail.attempts)
                result = "retried"
            if mail.status != "pending":
                mail.sealed = None  # personal data: kept only until it is sent or given up
            return result, mail.attempts, mail.kind

        written = outbox_worker.record_attempt(self.session, OutgoingMail, mail_id, write)
        if written is None:
            return None
        result, attempts, kind = written
        if error is not None:
            log.warning(
                "mail %d (%s): %s (%s after %d attempts)", mail_id, kind, error, result, attempts
            )
        return result
