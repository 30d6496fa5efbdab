"""The client side of DPoP (RFC 9449) for tests: a key and the proofs it signs, made with
joserfc directly, as a brand would, never with Sayso's own checking code."""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import time

from joserfc import jws
from joserfc.jwk import ECKey, OKPKey, RSAKey

TOKEN_URL = "http://localhost/oauth/token"
PROFILE_URL = "http://localhost/api/v1/profile"


class ProofKey:
    """A client's DPoP key pair, signing proofs with ``alg``."""

    def __init__(self, kind: str = "EC", alg: str = "ES256"):
        if kind == "EC":
            self.key = ECKey.generate_key("P-256")
        elif kind == "OKP":
            self.key = OKPKey.generate_key("Ed25519")
        else:
            self.key = RSAKey.generate_key(2048)
        self.alg = alg
        #: The last nonce a server handed out (``DPoP-Nonce``).
        self.nonce: str | None = None

    @property
    def public_jwk(self) -> dict:
        return self.key.as_dict(private=False)

    @property
    def jkt(self) -> str:
        """The key's JWK SHA-256 thumbprint (RFC 7638), computed here by hand."""
        members = {k: v for k, v in self.public_jwk.items() if k in REQUIRED[self.key.key_type]}
        canonical = json.dumps(members, sort_keys=True, separators=(",", ":"))
        return _b64(hashlib.sha256(canonical.encode()).digest())

    def proof(
        self,
        method: str,
        url: str,
        access_token: str | None = None,
        *,
        header: dict | None = None,
        **claims,
    ) -> str:
        """A fresh proof for ``method`` ``url`` (with ``ath`` for ``access_token``, and the
        last nonce the server gave); ``claims`` and ``header`` override what is made."""
        payload = {"jti": secrets.token_urlsafe(16), "htm": method, "htu": url}
        payload["iat"] = int(time.time())
        if access_token is not None:
            payload["ath"] = _b64(hashlib.sha256(access_token.encode()).digest())
        if self.nonce is not None:
            payload["nonce"] = self.nonce
        payload.update(claims)
        payload = {k: v for k, v in payload.items() if v is not None}
        protected = {"typ": "dpop+jwt", "alg": self.alg, "jwk": self.public_jwk, **(header or {})}
        return jws.serialize_compact(
            protected, json.dumps(payload), self.key, algorithms=[protected["alg"]]
        )

    def headers(self, method: str, url: str, access_token: str | None = None, **claims) -> dict:
        """The request's headers: the proof, and ``Authorization: DPoP`` for a token."""
        headers = {"DPoP": self.proof(method, url, access_token, **claims)}
        if access_token is not None:
            headers["Authorization"] = f"DPoP {access_token}"
        return headers

    def remember_nonce(self, response) -> None:
        """Keep the nonce a response handed out, as a client does."""
        if "DPoP-Nonce" in response.headers:
            self.nonce = response.headers["DPoP-Nonce"]


REQUIRED = {"EC": {"crv", "kty", "x", "y"}, "OKP": {"crv", "kty", "x"}, "RSA": {"e", "kty", "n"}}


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def dpop_get(client, key: ProofKey, url: str, access_token: str):
    """GET ``url`` with a DPoP-bound token, as a client does: again with the server's
    nonce if it asks for one (``use_dpop_nonce``)."""
    path = url.removeprefix("http://localhost")
    response = client.get(path, headers=key.headers("GET", url.split("?")[0], access_token))
    key.remember_nonce(response)
    if response.status_code == 401 and 'error="use_dpop_nonce"' in response.headers.get(
        "WWW-Authenticate", ""
    ):
        response = client.get(path, headers=key.headers("GET", url.split("?")[0], access_token))
        key.remember_nonce(response)
    return response
