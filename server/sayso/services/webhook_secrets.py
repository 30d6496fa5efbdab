"""Brands' webhook signing secrets: Sayso must sign with them, so they are sealed (not
hashed) in their client's row, under a subkey of the master key, naming that key; counted
and re-sealed when the master key rotates (``sayso keys rotate``)."""

from __future__ import annotations

from collections import Counter

from cryptography.exceptions import InvalidTag
from sqlalchemy import LargeBinary, func, literal, select, update

from sayso.models import OAuthClient
from sayso.shared.crypto import (
    MasterKeyMissing,
    MasterKeys,
    VaultError,
    key_id_of,
    keyed_body,
    keyed_prefix,
    seal_keyed,
    unseal,
)
from sayso.shared.tokens import new_secret

#: The subkey of each master key that seals webhook signing secrets.
_WEBHOOK_SECRETS = "webhook-secrets/v1"


class WebhookSecrets:
    """Seals, opens, counts and re-seals the ``webhook_secret_sealed`` column of
    ``oauth_clients`` (a table the brand service owns; this is its one keeper of that
    column)."""

    def __init__(self, session, master_keys: MasterKeys):
        self.session = session
        self.keys = master_keys

    def of(self, client: OAuthClient) -> str | None:
        """The client's webhook signing secret, for signing deliveries. Raises
        :class:`MasterKeyMissing` if the master key that sealed it is not configured."""
        blob = client.webhook_secret_sealed
        if not blob:
            return None
        secret, _ = self._open(client.client_id, blob)
        return secret.decode()

    def set_new(self, client: OAuthClient) -> str:
        """A new secret for the client, sealed into its row (the caller commits)."""
        secret = new_secret("sayso_whs")
        client.webhook_secret_sealed = self._seal(client.client_id, secret.encode())
        return secret

    def _seal(self, client_id: str, secret: bytes) -> bytes:
        """Sealed under the current master key's subkey, naming that key (vault format)."""
        return seal_keyed(self.keys.current, _WEBHOOK_SECRETS, secret, client_id.encode())

    def _open(self, client_id: str, blob: bytes) -> tuple[bytes, bytes]:
        """The secret, and the id of the master key that sealed it."""
        label = client_id.encode()
        key_id = key_id_of(blob)
        master = self.keys.find(key_id) if key_id is not None else None
        if master is not None:
            try:
                return unseal(master.aead(_WEBHOOK_SECRETS), keyed_body(blob), label), key_id
            except VaultError:
                pass  # one sealed before ids whose random nonce begins like an id: below
        # Sealed before master keys had ids: a 12-byte nonce and the ciphertext, under the
        # subkey of the master key of the day (the current one, or a retired one).
        for master in self.keys:
            try:
                secret = master.aead(_WEBHOOK_SECRETS).decrypt(blob[:12], blob[12:], label)
            except (InvalidTag, ValueError):
                continue
            return secret, master.key_id
        raise MasterKeyMissing(f"the webhook secret of client {client_id}", key_id)

    def by_master_key(self) -> tuple[Counter, Counter]:
        """How many webhook secrets each configured master key seals (those sealed before
        ids counted under the key that opens them), and how many need one that is not
        configured, by its id (``None``: sealed before ids, and no configured key opens it)."""
        sealed, missing = Counter(), Counter()
        rows = self.session.execute(
            select(OAuthClient.client_id, OAuthClient.webhook_secret_sealed).where(
                OAuthClient.webhook_secret_sealed.is_not(None)
            )
        ).all()
        for client_id, blob in rows:
            try:
                _, key_id = self._open(client_id, blob)
            except MasterKeyMissing as error:
                missing[error.key_id] += 1
            else:
                sealed[key_id] += 1
        return sealed, missing

    def reseal(self, after: int, limit: int):
        """Re-seal under the current master key up to ``limit`` webhook secrets (of clients
        after row id ``after``) that another key sealed; commits. Returns how many, the last
        row id looked at (``None``: none left) and the clients whose key is missing."""
        prefix = keyed_prefix(self.keys.current)
        rows = self.session.execute(
            select(OAuthClient.id, OAuthClient.client_id, OAuthClient.webhook_secret_sealed)
            .where(
                OAuthClient.id > after,
                OAuthClient.webhook_secret_sealed.is_not(None),
                func.substr(OAuthClient.webhook_secret_sealed, 1, len(prefix), type_=LargeBinary)
                != literal(prefix, LargeBinary),
            )
            .order_by(OAuthClient.id)
            .limit(limit)
        ).all()
        resealed, last, missing = 0, None, []
        for row_id, client_id, blob in rows:
            last = row_id
            try:
                secret, _ = self._open(client_id, blob)
            except MasterKeyMissing as error:
                missing.append(error)
                continue
            resealed += self.session.execute(
                update(OAuthClient)
                .where(OAuthClient.id == row_id, OAuthClient.webhook_secret_sealed == blob)
                .values(webhook_secret_sealed=self._seal(client_id, secret))
                .execution_options(synchronize_session=False)
            ).rowcount
        self.session.commit()
        return resealed, last, missing
