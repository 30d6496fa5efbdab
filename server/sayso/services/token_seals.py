"""Sealed OAuth secrets: authorization codes that carry their own contents, and the pair a
refresh issued, sealed for a retry whose answer was lost. Neither is stored in the clear."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from sayso.shared.clock import utcnow
from sayso.shared.crypto import MasterKeys, VaultError, derive_key, seal, unseal
from sayso.shared.tokens import token_hash

CODE_LIFETIME = timedelta(seconds=60)


@dataclass(frozen=True, slots=True)
class AuthorizationCode:
    """An authorization code, opened: what the consumer consented to, which Authlib checks
    the token request against (its ``AuthorizationCodeMixin`` protocol), and whose it is."""

    code_hash: str
    account_id: int
    redirect_uri: str
    scope: str
    code_challenge: str
    code_challenge_method: str
    expires_at: datetime
    #: RFC 9396: ``[name, expires_at, view]`` of each entry granted, when the request
    #: asked with authorization details (oauth/rich_authorization.py); else ``None``.
    details: list | None = None

    def get_redirect_uri(self) -> str:
        return self.redirect_uri

    def get_scope(self) -> str:
        return self.scope


class CodeSeal:
    """Authorization codes that carry their own contents, encrypted and authenticated.

    A code is base64url (unpadded) of a vault seal (``0x01`` version byte, random 96-bit
    nonce, AES-256-GCM ciphertext and tag) of compact JSON ``[account_id, expires_at,
    redirect_uri, scope, code_challenge, code_challenge_method]`` (then, for a request with
    RFC 9396 authorization details, the granted entries), with a key derived from
    the master key. The random nonce makes each code unique (it is the code's id). The
    associated data names the client, so a code opens only for the client it was issued
    to; its ``v1`` versions the JSON layout, as the leading byte versions the seal.

    A code is sealed under the current master key and opens under any configured one: a
    code issued just before a rotation is exchanged after it (codes live 60 seconds).
    """

    def __init__(self, master_keys: MasterKeys | bytes):
        self._keys = [key.aead("authorization-codes/v1") for key in MasterKeys.coerce(master_keys)]

    def seal(
        self,
        client_id: str,
        account_id: int,
        redirect_uri: str,
        scope: str,
        code_challenge: str,
        code_challenge_method: str,
        details: list | None = None,
    ) -> str:
        """A fresh code for the client, valid for ``CODE_LIFETIME``."""
        expires_at = int(utcnow().timestamp()) + int(CODE_LIFETIME.total_seconds())
        contents = [
            account_id,
            expires_at,
            redirect_uri,
            scope,
            code_challenge,
            code_challenge_method,
        ]
        if details is not None:
            contents.append(details)
        plaintext = json.dumps(contents, separators=(",", ":")).encode()
        return _base64url(seal(self._keys[0], plaintext, self._label(client_id)))

    def open(self, code: str, client_id: str) -> AuthorizationCode | None:
        """The code's contents, expired or not, if it was sealed by this key for this
        client; ``None`` for anything else (altered, another client's, another key's)."""
        try:
            blob = base64.urlsafe_b64decode(code + "=" * (-len(code) % 4))
        except (binascii.Error, ValueError):
            return None
        # Base64 spells the same bytes in more than one way (it skips stray characters, and
        # ignores the spare bits of the last one). A code is used up by the hash of its
        # text, so only the one spelling Sayso issued may open.
        if _base64url(blob) != code:
            return None
        plaintext = _unseal_any(self._keys, blob, self._label(client_id))
        if plaintext is None:
            return None
        account_id, expires_at, redirect_uri, scope, challenge, method, *more = json.loads(
            plaintext
        )
        return AuthorizationCode(
            code_hash=token_hash(code),
            account_id=account_id,
            redirect_uri=redirect_uri,
            scope=scope,
            code_challenge=challenge,
            code_challenge_method=method,
            expires_at=datetime.fromtimestamp(expires_at, UTC),
            details=more[0] if more else None,
        )

    @staticmethod
    def _label(client_id: str) -> bytes:
        return f"sayso/authorization-code/v1/{client_id}".encode()


def _unseal_any(keys: list[AESGCM], blob: bytes, label: bytes) -> bytes | None:
    """What ``blob`` holds, if one of ``keys`` (one per configured master key) opens it."""
    for aead in keys:
        try:
            return unseal(aead, blob, label)
        except VaultError:
            continue
    return None


def _base64url(blob: bytes) -> str:
    return base64.urlsafe_b64encode(blob).rstrip(b"=").decode()


class RetrySeal:
    """A pair issued by a refresh, sealed so that only the refresh token it replaced opens it.

    The key is HMAC-SHA256, keyed by a subkey of the master key, of that refresh token,
    which Sayso never stores (only its hash): so neither the database nor the master key
    alone opens a sealed pair. The seal is the vault's (``0x01``, random nonce, AES-256-GCM)
    of compact JSON ``[access_token, refresh_token]``; the associated data names the client.
    Sealed under the current master key, opened under any configured one (a pair lives
    ``SAYSO_REFRESH_GRACE_SECONDS``, a minute at most).
    """

    def __init__(self, master_keys: MasterKeys | bytes):
        self._roots = [
            derive_key(key.secret, "refresh-retries/v1") for key in MasterKeys.coerce(master_keys)
        ]

    def seal(self, replaced: str, client_id: str, access_token: str, refresh_token: str) -> bytes:
        """The pair, sealed for a retry that presents ``replaced`` again."""
        plaintext = json.dumps([access_token, refresh_token], separators=(",", ":")).encode()
        return seal(self._aead(self._roots[0], replaced), plaintext, self._label(client_id))

    def open(self, blob: bytes, replaced: str, client_id: str) -> tuple[str, str] | None:
        """The pair, if ``blob`` was sealed for ``replaced`` and this client; else ``None``."""
        keys = [self._aead(root, replaced) for root in self._roots]
        plaintext = _unseal_any(keys, blob, self._label(client_id))
        if plaintext is None:
            return None
        access_token, refresh_token = json.loads(plaintext)
        return access_token, refresh_token

    @staticmethod
    def _aead(root: bytes, replaced: str) -> AESGCM:
        return AESGCM(hmac.new(root, replaced.encode(), hashlib.sha256).digest())

    @staticmethod
    def _label(client_id: str) -> bytes:
        return f"sayso/refresh-retry/v1/{client_id}".encode()


@dataclass(frozen=True, slots=True)
class RetriedPair:
    """The pair a refresh issued, handed again to a retry of that refresh whose answer was
    lost. It answers Authlib's token questions (``check_client``, ``get_scope``) as the
    refresh token's row would."""

    client_id: str
    access_token: str
    refresh_token: str
    scope: str
    expires_in: int
    #: The thumbprint of the DPoP key the pair is bound to (RFC 9449), if any.
    jkt: str | None = None

    def check_client(self, client) -> bool:
        return self.client_id == client.get_client_id()

    def get_scope(self) -> str:
        return self.scope

    def response(self) -> dict:
        """The token response, as the refresh that issued the pair answered it (the
        lifetime left, and the scope as it is now)."""
        answer = {
            "token_type": "DPoP" if self.jkt else "Bearer",
            "access_token": self.access_token,
            "expires_in": self.expires_in,
            "refresh_token": self.refresh_token,
        }
        if self.scope:
            answer["scope"] = self.scope
        return answer
