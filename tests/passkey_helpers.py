"""A software passkey authenticator for the functional tests, built from the WebAuthn
Level 3 formats with `cryptography` and `cbor2` (never Sayso's own checking code): it
answers `navigator.credentials.create`/`get` options as a browser would send them."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import struct

import cbor2
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from tests.helpers import csrf_token

ORIGIN = "http://localhost"

# Authenticator data flags (WebAuthn §6.1).
USER_PRESENT, USER_VERIFIED, ATTESTED = 0x01, 0x04, 0x40


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class SoftwareAuthenticator:
    """One resident ES256 credential, with a signature counter."""

    def __init__(self, origin: str = ORIGIN, verify_user: bool = True):
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.credential_id = os.urandom(16)
        self.origin = origin
        self.verify_user = verify_user
        self.counter = 0
        self.user_handle = b""
        self.rp_id = ""

    def _cose_key(self) -> bytes:
        numbers = self.key.public_key().public_numbers()
        return cbor2.dumps(
            {
                1: 2,  # kty: EC2
                3: -7,  # alg: ES256
                -1: 1,  # crv: P-256
                -2: numbers.x.to_bytes(32, "big"),
                -3: numbers.y.to_bytes(32, "big"),
            }
        )

    def _client_data(self, kind: str, challenge: str) -> bytes:
        return json.dumps(
            {"type": kind, "challenge": challenge, "origin": self.origin, "crossOrigin": False}
        ).encode()

    def _flags(self) -> int:
        return USER_PRESENT | (USER_VERIFIED if self.verify_user else 0)

    def create(self, options: dict) -> dict:
        """The PublicKeyCredential (JSON) for creation ``options``."""
        self.rp_id = options["rp"]["id"]
        self.user_handle = unb64url(options["user"]["id"])
        client_data = self._client_data("webauthn.create", options["challenge"])
        attested = (
            bytes(16)  # AAGUID
            + struct.pack(">H", len(self.credential_id))
            + self.credential_id
            + self._cose_key()
        )
        auth_data = (
            hashlib.sha256(self.rp_id.encode()).digest()
            + bytes([self._flags() | ATTESTED])
            + struct.pack(">I", self.counter)
            + attested
        )
        attestation = cbor2.dumps({"fmt": "none", "attStmt": {}, "authData": auth_data})
        return {
            "id": b64url(self.credential_id),
            "rawId": b64url(self.credential_id),
            "type": "public-key",
            "response": {
                "clientDataJSON": b64url(client_data),
                "attestationObject": b64url(attestation),
                "transports": ["internal"],
            },
            "clientExtensionResults": {},
        }

    def get(self, options: dict, rp_id: str | None = None) -> dict:
        """The PublicKeyCredential (JSON) for request ``options``; the counter goes up."""
        self.counter += 1
        client_data = self._client_data("webauthn.get", options["challenge"])
        auth_data = (
            hashlib.sha256((rp_id or options["rpId"]).encode()).digest()
            + bytes([self._flags()])
            + struct.pack(">I", self.counter)
        )
        signed = auth_data + hashlib.sha256(client_data).digest()
        signature = self.key.sign(signed, ec.ECDSA(hashes.SHA256()))
        return {
            "id": b64url(self.credential_id),
            "rawId": b64url(self.credential_id),
            "type": "public-key",
            "response": {
                "clientDataJSON": b64url(client_data),
                "authenticatorData": b64url(auth_data),
                "signature": b64url(signature),
                "userHandle": b64url(self.user_handle),
            },
            "clientExtensionResults": {},
        }


def post_json(client, url: str, body: dict, page: str = "/login"):
    """POST JSON as static/passkeys.js does, with the CSRF token of ``page``."""
    token = csrf_token(client, page)
    return client.post(url, json=body, headers={"X-CSRFToken": token, "Accept": "application/json"})


def add_passkey(client, authenticator: SoftwareAuthenticator, name: str = "My phone"):
    """Register ``authenticator`` from the account page; the answer to the last POST."""
    options = post_json(client, "/account/passkeys/options", {}, "/account/security")
    assert options.status_code == 200, options.get_data(as_text=True)
    credential = authenticator.create(options.get_json())
    return post_json(
        client, "/account/passkeys", {"credential": credential, "name": name}, "/account/security"
    )


def passkey_options(client, purpose: str = "sign_in", page: str = "/login"):
    """Options for ``navigator.credentials.get`` (the answer)."""
    return post_json(client, "/login/passkey/options", {"purpose": purpose}, page)


def sign_in_with_passkey(client, authenticator, purpose="sign_in", next_url=None, page="/login"):
    """The whole ceremony: options, the authenticator's answer, the server's verdict."""
    options = passkey_options(client, purpose, page)
    assert options.status_code == 200, options.get_data(as_text=True)
    body = {"credential": authenticator.get(options.get_json()), "purpose": purpose}
    if next_url:
        body["next"] = next_url
    return post_json(client, "/login/passkey", body, page)
