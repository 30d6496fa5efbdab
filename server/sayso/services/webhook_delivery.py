"""The webhook worker: sends due deliveries from the outbox (``webhooks.py``), signed, and
retries failures with backoff (``sayso webhooks deliver``)."""

from __future__ import annotations

import logging
import random
import time
from dataclasses import dataclass
from datetime import timedelta

from sayso import outbound
from sayso.faults import DATABASE_ERRORS, is_transient
from sayso.models import WebhookDelivery
from sayso.services import outbox_worker
from sayso.services.brands import BrandService
from sayso.services.webhooks import (
    EVENT_ID_HEADER,
    EVENT_TYPE_HEADER,
    SIGNATURE_HEADER,
    USER_AGENT,
    sign,
)
from sayso.shared.crypto import MasterKeyMissing

log = logging.getLogger(__name__)

#: Retry schedule: ``BASE * 2 ** (attempts - 1)``, at most ``CAP``, each +/- ``JITTER``.
BACKOFF_BASE = timedelta(seconds=30)
BACKOFF_CAP = timedelta(hours=6)
BACKOFF_JITTER = 0.1
#: How long one attempt may take in all, from connecting to the status line.
SEND_DEADLINE_SECONDS = 10
#: How long a claimed delivery stays out of other workers' way while it is being sent:
#: far longer than an attempt may take. If the worker dies mid-send, the delivery
#: becomes due again after this and is sent again (deliveries are at-least-once).
CLAIM_LEASE = timedelta(minutes=5)


@dataclass
class DeliverySummary:
    """What one round of :meth:`WebhookDispatcher.deliver_due` did."""

    delivered: int = 0
    retried: int = 0
    failed: int = 0

    @property
    def total(self) -> int:
        """How many deliveries the round handled."""
        return self.delivered + self.retried + self.failed

    def __str__(self) -> str:
        return f"delivered {self.delivered}, retried {self.retried}, failed {self.failed}"


@dataclass(frozen=True)
class _Job:
    """What sending one delivery needs, copied out so no transaction spans the request.

    ``problem`` says why it cannot be sent at all (then ``url`` or ``secret`` is missing);
    ``retry`` that the problem may pass (a master key put back), so it is tried again later.
    """

    delivery_id: int
    event_id: str
    event_type: str
    body: bytes
    url: str | None
    secret: str | None
    problem: str | None = None
    retry: bool = False


@dataclass(frozen=True)
class _Outcome:
    status_code: int | None
    error: str | None
    give_up: bool = False

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


class WebhookDispatcher:
    """Sends due deliveries from the outbox, signed, and reschedules the ones that fail.

    Each delivery is claimed, sent and recorded in short transactions of its own, so a
    crash loses nothing and a delivery recorded as delivered is never sent again; no
    transaction stays open while a brand's server is answering.
    """

    def __init__(
        self,
        session,
        brands: BrandService,
        *,
        max_attempts: int = 12,
        deadline: float = SEND_DEADLINE_SECONDS,
        allow_loopback: bool = False,
    ):
        self.session = session
        self.allow_loopback = allow_loopback
        self.brands = brands
        self.max_attempts = max_attempts
        self.deadline = deadline
        self._random = random.Random()  # noqa: S311  (jitter spreads retries; not a secret)

    def run(self, stop, limit: int = 100, interval: float = 5.0, report=None) -> None:
        """The worker: rounds of :meth:`deliver_due` until ``stop.is_set()``, waiting
        ``interval`` seconds when nothing more is due, and passing each round's summary to
        ``report``. A database error ends the round, not the worker: it waits
        (:meth:`fault_backoff`) and goes on (see :func:`outbox_worker.run`).
        """
        outbox_worker.run(
            "webhook",
            log,
            self.session,
            self.deliver_due,
            self.fault_backoff,
            stop,
            limit=limit,
            interval=interval,
            report=report,
        )

    def deliver_due(self, limit: int = 100, stop=None) -> DeliverySummary:
        """Send up to ``limit`` due deliveries, one at a time; stop early once ``stop.is_set()``."""
        return outbox_worker.deliver_round(
            DeliverySummary(),
            limit,
            stop,
            self._claim,
            lambda job: self._record_once_sent(job, self._send(job), stop),
        )

    def backoff(self, attempts: int) -> timedelta:
        """How long to wait after the ``attempts``-th failed attempt (with jitter)."""
        return outbox_worker.retry_backoff(
            self._random, attempts, BACKOFF_BASE, BACKOFF_CAP, BACKOFF_JITTER
        )

    def fault_backoff(self, failures: int) -> float:
        """Seconds to wait after the ``failures``-th database error in a row (with jitter)."""
        return outbox_worker.fault_backoff(self._random, failures, BACKOFF_JITTER)

    # One delivery ---------------------------------------------------------------

    def _claim(self) -> _Job | None:
        """Take the next due delivery out of other workers' reach, and commit (see
        :func:`outbox_worker.claim_next`)."""
        return outbox_worker.claim_next(self.session, WebhookDelivery, CLAIM_LEASE, self._job)

    def _job(self, delivery: WebhookDelivery) -> _Job:
        url, secret, problem, retry = self._destination(delivery.client_id)
        return _Job(
            delivery_id=delivery.id,
            event_id=delivery.event_id,
            event_type=delivery.event_type,
            body=delivery.payload.encode("utf-8"),
            url=url,
            secret=secret,
            problem=problem,
            retry=retry,
        )

    def _destination(self, client_id: str) -> tuple[str | None, str | None, str | None, bool]:
        """The client's webhook URL and signing secret now, or why there is none (and
        whether that may pass)."""
        client = self.brands.client(client_id)
        if client is None or not client.webhook_url:
            return None, None, "the client has no webhook URL any more", False
        try:
            secret = self.brands.webhook_secret(client)
        except MasterKeyMissing as missing:
            # A retired master key dropped too early: fail this one for now rather than
            # wedge the queue, and try again, in case the key is put back.
            log.error("webhook for client %s not sent: %s", client_id, missing)
            return None, None, str(missing), True
        if not secret:
            return None, None, "the client has no webhook secret", False
        return client.webhook_url, secret, None, False

    def _send(self, job: _Job) -> _Outcome:
        """POST the stored body as is, signed now, to an address checked first (see
        :mod:`sayso.outbound`); never follow a redirect or read the body."""
        if job.problem:
            return _Outcome(None, job.problem, give_up=not job.retry)
        headers = {
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            SIGNATURE_HEADER: sign(job.secret, job.body),
            EVENT_ID_HEADER: job.event_id,
            EVENT_TYPE_HEADER: job.event_type,
        }
        try:
            code = outbound.post(
                job.url,
                job.body,
                headers,
                allow_loopback=self.allow_loopback,
                deadline=self.deadline,
            )
        except outbound.Refused as refused:
            return _Outcome(None, str(refused), give_up=True)
        except outbound.Failed as failed:
            return _Outcome(None, str(failed))
        except Exception:
            # One odd URL or response must not stop the worker for every other brand.
            log.exception("webhook %s: unexpected error while sending", job.event_id)
            return _Outcome(None, "unexpected error while sending")
        if 200 <= code < 300:
            return _Outcome(code, None)
        if 300 <= code < 400:
            return _Outcome(code, f"HTTP {code}: redirects are not followed")
        return _Outcome(code, f"HTTP {code}")

    def _record_once_sent(self, job: _Job, outcome: _Outcome, stop=None) -> str | None:
        """:meth:`_record`, tried again after a database fault that passes.

        The delivery has been sent: if its outcome were not recorded, it would be sent
        again once its claim ran out. So recording waits for the database (with
        :meth:`fault_backoff`) for up to a claim's lease, unless the worker is stopping;
        then the error is raised and the delivery is sent again later (deliveries are
        at-least-once).
        """
        deadline = time.monotonic() + CLAIM_LEASE.total_seconds()
        failures = 0
        while True:
            try:
                return self._record(job, outcome)
            except DATABASE_ERRORS as error:
                failures += 1
                delay = self.fault_backoff(failures)
                stopping = stop is not None and stop.is_set()
                if not is_transient(error) or stopping or time.monotonic() + delay > deadline:
                    raise
                log.warning(
                    "webhook %s: sent, but its outcome could not be recorded (%s); again in %.1f s",
                    job.event_id,
                    outbox_worker.first_line(error),
                    delay,
                )
            if stop is not None:
                stop.wait(delay)
            else:
                time.sleep(delay)

    def _record(self, job: _Job, outcome: _Outcome) -> str | None:
        """Write down how the attempt went; returns the summary count it adds to. ``None``
        when its client was deleted meanwhile (the rows cascade), or another worker took it
        over after the lease ran out and has already finished it."""

        def write(delivery: WebhookDelivery, now) -> tuple[str, int]:
            if not outcome.give_up:
                delivery.attempts += 1
                delivery.last_attempt_at = now
                delivery.last_status_code = outcome.status_code
            attempts = delivery.attempts
            delivery.last_error = outcome.error
            if outcome.ok:
                delivery.status = "delivered"
                delivery.delivered_at = now
                result = "delivered"
            elif outcome.give_up or attempts >= self.max_attempts:
                delivery.status = "failed"
                result = "failed"
            else:
                delivery.next_attempt_at = now + self.backoff(attempts)
                result = "retried"
            return result, attempts

        written = outbox_worker.record_attempt(
            self.session, WebhookDelivery, job.delivery_id, write
        )
        if written is None:
            return None
        result, attempts = written
        if not outcome.ok:
            log.warning(
                "webhook %s: %s (%s after %d attempts)",
                job.event_id,
                outcome.error,
                result,
                attempts,
            )
        return result
