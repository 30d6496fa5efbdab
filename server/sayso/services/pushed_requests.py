"""Pushed authorization requests (RFC 9126): a client sends its authorization request over
the back channel, and the browser carries only a ``request_uri`` that stands for it.

A ``request_uri`` is ``urn:ietf:params:oauth:request_uri:`` and 256 random bits. Only its
SHA-256 is stored, with the parameters sealed (AES-256-GCM) under a key derived from the
``request_uri`` itself and bound to the client: neither the table nor the master key opens
them without the URI the client holds.

Its life: the browser must bring it within ``PUSH_LIFETIME`` of the push (the
``expires_in`` the client is told). That first arrival is its one use: it is claimed for
that browser (a cookie of its own, stored hashed) and stays good, for that browser only,
for ``CONSENT_WINDOW`` (time to sign in and read the consent page), until the authorization
response is sent: then it is spent. Any other browser, any other client, a late arrival or
a second authorization response is refused.
"""

from __future__ import annotations

import json
import secrets
from datetime import timedelta

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import delete, update
from sqlalchemy.orm import Session

from sayso.models import PushedAuthorizationRequest
from sayso.shared.clock import utcnow
from sayso.shared.crypto import VaultError, seal, unseal
from sayso.shared.tokens import token_hash

#: How every request_uri Sayso issues begins (RFC 9126 section 2.2).
REQUEST_URI_PREFIX = "urn:ietf:params:oauth:request_uri:"
#: From the push until the browser must have brought the request_uri.
PUSH_LIFETIME = timedelta(seconds=60)
#: From the browser's first arrival until the consumer must have answered.
CONSENT_WINDOW = timedelta(minutes=10)


class PushedRequestRefused(Exception):
    """The request_uri is unknown, another client's, expired, spent or another browser's."""


def _aead(request_uri: str) -> AESGCM:
    # A key from the request_uri alone: its 256 random bits are the secret.
    hkdf = HKDF(hashes.SHA256(), 32, salt=None, info=b"sayso/pushed-request/v1")
    return AESGCM(hkdf.derive(request_uri.encode()))


def _label(client_id: str) -> bytes:
    return f"sayso/pushed-request/v1/{client_id}".encode()


def _opened(sealed: bytes, request_uri: str, client_id: str) -> dict[str, str] | None:
    try:
        return json.loads(unseal(_aead(request_uri), sealed, _label(client_id)))
    except VaultError:
        return None


class PushedRequestService:
    """Stores pushed authorization requests and lets each be used once."""

    def __init__(self, session: Session):
        self.session = session

    def push(self, client_id: str, parameters: dict[str, str]) -> tuple[str, int]:
        """Store ``parameters`` for ``client_id``; the new request_uri and its lifetime in
        seconds. Commits (and drops this client's expired requests)."""
        now = utcnow()
        request_uri = REQUEST_URI_PREFIX + secrets.token_urlsafe(32)
        plaintext = json.dumps(parameters, separators=(",", ":"), sort_keys=True).encode()
        self.session.execute(
            delete(PushedAuthorizationRequest).where(
                PushedAuthorizationRequest.client_id == client_id,
                PushedAuthorizationRequest.expires_at <= now,
            )
        )
        self.session.add(
            PushedAuthorizationRequest(
                request_uri_hash=token_hash(request_uri),
                client_id=client_id,
                parameters_sealed=seal(_aead(request_uri), plaintext, _label(client_id)),
                expires_at=now + PUSH_LIFETIME,
            )
        )
        self.session.commit()
        return request_uri, int(PUSH_LIFETIME.total_seconds())

    def open(
        self, request_uri: str, client_id: str, browser: str | None
    ) -> tuple[dict[str, str], str | None]:
        """The parameters pushed for ``request_uri``, for the browser whose cookie value is
        ``browser``; and, on the first arrival, the new cookie value that browser must keep
        (else ``None``). Raises :class:`PushedRequestRefused`. Commits a first arrival."""
        found = self.session.get(PushedAuthorizationRequest, token_hash(request_uri))
        now = utcnow()
        if found is None or found.client_id != client_id or found.expires_at <= now:
            raise PushedRequestRefused()
        sealed = found.parameters_sealed
        new_browser = None
        if found.browser_hash is None:
            # The one use: whichever browser claims it first (one UPDATE decides a race).
            # A browser already holding a cookie keeps it (two sign-ins at once in one).
            new_browser = browser or secrets.token_urlsafe(32)
            claimed = self.session.execute(
                update(PushedAuthorizationRequest)
                .where(
                    PushedAuthorizationRequest.request_uri_hash == found.request_uri_hash,
                    PushedAuthorizationRequest.browser_hash.is_(None),
                    PushedAuthorizationRequest.expires_at > now,
                )
                .values(browser_hash=token_hash(new_browser), expires_at=now + CONSENT_WINDOW)
            )
            self.session.commit()
            if claimed.rowcount != 1:
                raise PushedRequestRefused()
        elif browser is None or token_hash(browser) != found.browser_hash:
            raise PushedRequestRefused()
        parameters = _opened(sealed, request_uri, client_id)
        if parameters is None:
            raise PushedRequestRefused()
        return parameters, new_browser

    def peek(self, request_uri: str, client_id: str) -> dict[str, str] | None:
        """The parameters pushed for ``request_uri`` while it is good, for any browser, and
        without using it (the sign-in page's read of where the request will end)."""
        found = self.session.get(PushedAuthorizationRequest, token_hash(request_uri))
        if found is None or found.client_id != client_id or found.expires_at <= utcnow():
            return None
        return _opened(found.parameters_sealed, request_uri, client_id)

    def spend(self, request_uri: str) -> None:
        """The authorization response for ``request_uri`` was sent: it works no more. Commits."""
        self.session.execute(
            update(PushedAuthorizationRequest)
            .where(PushedAuthorizationRequest.request_uri_hash == token_hash(request_uri))
            .values(expires_at=utcnow())
        )
        self.session.commit()
