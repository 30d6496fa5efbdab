"""DPoP (RFC 9449): the proofs that bind a brand's tokens to a key only it holds.

A proof is a JWT the client signs, for one request, with a private key whose public half
travels in the proof's header. Sayso checks it as RFC 9449 section 4.3 lists (:func:`check`,
pure: no Flask, no database), then remembers it so it is never accepted twice
(``services/dpop_proofs.py``, shared by every worker). The token endpoint binds the tokens
it issues to the key's thumbprint (RFC 7638); the API accepts a bound token only with a
fresh proof by that key, naming this very request and the token (``ath``).

Server nonces (section 8 and 9) are stateless: a nonce is the number of a five-minute period
and an HMAC of it under a key derived from the master key, so every worker makes and
accepts the same ones without sharing anything. A nonce is accepted in its period and the
next. Where one is required is a setting (``SAYSO_DPOP_NONCE``: ``api``, the default, at
the API only; ``all``, at the token endpoint too; ``off``).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import posixpath
import re
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import unquote, urlsplit

from authlib.oauth2 import OAuth2Error
from flask import current_app, g, request
from joserfc import jws
from joserfc.errors import JoseError
from joserfc.jwk import JWKRegistry, OctKey, RSAKey
from joserfc.jws import JWSRegistry

from sayso import services
from sayso.config import ConfigError
from sayso.shared.crypto import derive_key
from sayso.shared.issuer import public_url

#: Asymmetric algorithms only (section 4.2): advertised in the metadata and in challenges.
#: Ed25519 by its fully specified name (RFC 9864, which deprecates "EdDSA").
ALGORITHMS = (
    "ES256",
    "ES384",
    "ES512",
    "Ed25519",
    "PS256",
    "PS384",
    "PS512",
    "RS256",
    "RS384",
    "RS512",
)
PROOF_TYPE = "dpop+jwt"
NONCE_HEADER = "DPoP-Nonce"
#: Where a server nonce is required (``SAYSO_DPOP_NONCE``).
NONCE_SETTINGS = ("api", "all", "off")
#: Seconds a nonce's period lasts; a nonce is accepted in its period and the next.
NONCE_PERIOD = 300
#: Longer proofs are refused before any parsing (an RSA-4096 proof is under 2 KiB).
MAX_PROOF_LENGTH = 8192
#: joserfc's registry for proofs: these algorithms only, a header big enough for an RSA
#: key, and header members a proof may carry beyond the registered ones ignored.
_REGISTRY = JWSRegistry(algorithms=ALGORITHMS, strict_check_header=False)
_REGISTRY.max_header_length = 4096
_REGISTRY.max_payload_length = 4096
MAX_JTI_LENGTH = 256
MIN_RSA_BITS = 2048


class ProofRefused(Exception):
    """A DPoP proof Sayso does not accept; ``error`` is RFC 9449's code for why."""

    error = "invalid_dpop_proof"

    def __init__(self, description: str):
        super().__init__(description)
        self.description = description


class NonceNeeded(ProofRefused):
    """The proof lacks the server nonce, or carries a stale one: send ``nonce`` in a new one."""

    error = "use_dpop_nonce"

    def __init__(self, description: str, nonce: str):
        super().__init__(description)
        self.nonce = nonce


@dataclass(frozen=True)
class Proof:
    """An accepted proof: the thumbprint of its key, its ``jti`` and ``iat``."""

    jkt: str
    jti: str
    iat: int


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def access_token_hash(access_token: str) -> str:
    """``ath``: the SHA-256 of the access token's ASCII, base64url without padding."""
    return _b64(hashlib.sha256(access_token.encode("ascii", "replace")).digest())


class Nonces:
    """Stateless server nonces: a period number and its HMAC under the nonce key."""

    def __init__(self, key: bytes, period: int = NONCE_PERIOD):
        self.key = key
        self.period = period

    def _make(self, number: int) -> str:
        counter = number.to_bytes(8, "big")
        mac = hmac.new(self.key, b"sayso/dpop-nonce/v1:" + counter, hashlib.sha256)
        return _b64(counter + mac.digest()[:16])

    def current(self, now: float) -> str:
        """The nonce to hand out now."""
        return self._make(int(now // self.period))

    def accepts(self, nonce: object, now: float) -> bool:
        """Whether ``nonce`` is one of this period's or the last one's."""
        if not isinstance(nonce, str) or len(nonce) != 32:
            return False
        number = int(now // self.period)
        return any(hmac.compare_digest(nonce, self._make(n)) for n in (number, number - 1))


_PERCENT = re.compile(r"%[0-9A-Fa-f]{2}")
_UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
_DEFAULT_PORTS = {"http": 80, "https": 443}


def _percent(match: re.Match) -> str:
    # Syntax-based normalization (RFC 3986 section 6.2.2.2): decode what never needed
    # encoding, and write the rest's hex digits in upper case.
    character = unquote(match.group(0))
    return character if character in _UNRESERVED else match.group(0).upper()


def normalized_url(url: str) -> str | None:
    """``url`` without query and fragment, normalized as RFC 9449 section 4.3 asks (RFC 3986
    sections 6.2.2 and 6.2.3: case of scheme and host, percent-encoding, dot segments,
    default port, empty path); ``None`` if it is no absolute http(s) URL."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or not parts.hostname or parts.username or parts.password:
        return None
    host = parts.hostname.lower()
    if ":" in host:  # an IPv6 literal
        host = f"[{host}]"
    if port is not None and port != _DEFAULT_PORTS[scheme]:
        host = f"{host}:{port}"
    path = _PERCENT.sub(_percent, parts.path) or "/"
    kept_slash = path.endswith("/") or path.endswith("/.") or path.endswith("/..")
    path = posixpath.normpath(path)
    if path.startswith("//"):  # normpath keeps a leading double slash
        path = "/" + path.lstrip("/")
    if kept_slash and not path.endswith("/"):
        path += "/"
    return f"{scheme}://{host}{path}"


def _public_key(value: str):
    """The proof's public key, its protected header checked (section 4.3, 2 to 7)."""
    if len(value) > MAX_PROOF_LENGTH:
        raise ProofRefused("The DPoP proof is too long.")
    try:
        header = jws.extract_compact(value.encode("ascii"), registry=_REGISTRY).headers()
    except (JoseError, ValueError, TypeError):
        raise ProofRefused("The DPoP proof is not a signed JWT.") from None
    if header.get("typ") != PROOF_TYPE:
        raise ProofRefused(f"The DPoP proof's typ must be {PROOF_TYPE}.")
    if header.get("alg") not in ALGORITHMS:
        raise ProofRefused("The DPoP proof's alg must be one of: " + " ".join(ALGORITHMS) + ".")
    jwk = header.get("jwk")
    if not isinstance(jwk, dict):
        raise ProofRefused("The DPoP proof's header must carry the public key as jwk.")
    try:
        key = JWKRegistry.import_key(jwk)
    except (JoseError, ValueError, TypeError, KeyError):
        raise ProofRefused("The DPoP proof's jwk is not a key Sayso can read.") from None
    if isinstance(key, OctKey) or key.is_private:
        raise ProofRefused("The DPoP proof's jwk must be a public key, and only that.")
    if isinstance(key, RSAKey) and key.raw_value.key_size < MIN_RSA_BITS:
        raise ProofRefused(f"An RSA key for DPoP must have at least {MIN_RSA_BITS} bits.")
    return key


def check(
    value: str,
    *,
    method: str,
    url: str,
    now: float,
    window: int,
    access_token: str | None = None,
    nonces: Nonces | None = None,
) -> Proof:
    """The proof ``value`` for a ``method`` request to ``url``, checked as RFC 9449 section
    4.3 lists, but for its ``jti`` (remembering it is the caller's: it needs the database);
    :class:`ProofRefused` (or :class:`NonceNeeded`) if it fails a check.

    ``window``: how many seconds ``iat`` may be from ``now``. ``access_token``: the token it
    is sent with, at the API (its hash must be ``ath``). ``nonces``: when a server nonce is
    required."""
    key = _public_key(value)
    try:
        verified = jws.deserialize_compact(value, key, registry=_REGISTRY)
    except (JoseError, ValueError, TypeError):
        raise ProofRefused("The DPoP proof's signature does not verify with its jwk.") from None
    try:
        claims = json.loads(verified.payload)
    except ValueError:
        claims = None
    if not isinstance(claims, dict):
        raise ProofRefused("The DPoP proof's payload is not a JSON object.")
    jti, iat = claims.get("jti"), claims.get("iat")
    if not isinstance(jti, str) or not 0 < len(jti) <= MAX_JTI_LENGTH:
        raise ProofRefused(f"The DPoP proof needs a jti of 1 to {MAX_JTI_LENGTH} characters.")
    if not isinstance(iat, int | float) or isinstance(iat, bool):
        raise ProofRefused("The DPoP proof needs iat, in seconds since the epoch.")
    if claims.get("htm") != method:
        raise ProofRefused(f"The DPoP proof's htm must be this request's method, {method}.")
    expected = normalized_url(url)
    htu = claims.get("htu")
    if not isinstance(htu, str) or normalized_url(htu) != expected:
        raise ProofRefused(f"The DPoP proof's htu must be this request's URL, {expected}.")
    if iat > now + window:
        raise ProofRefused("The DPoP proof's iat is in the future: check your clock.")
    if iat < now - window:
        raise ProofRefused("The DPoP proof is too old: make a new one for each request.")
    if access_token is not None:
        ath = claims.get("ath")
        if not isinstance(ath, str) or not hmac.compare_digest(
            ath, access_token_hash(access_token)
        ):
            raise ProofRefused("The DPoP proof's ath is not the hash of this access token.")
    if nonces is not None and not nonces.accepts(claims.get("nonce"), now):
        described = "is stale" if "nonce" in claims else "is missing"
        raise NonceNeeded(f"The DPoP proof's nonce {described}: use this one.", nonces.current(now))
    return Proof(key.thumbprint(), jti, int(iat))


@dataclass(frozen=True)
class Settings:
    """The app's DPoP settings, read once by :func:`init_app`."""

    window: int
    nonce: str
    nonces: Nonces

    def nonces_at(self, api: bool) -> Nonces | None:
        """The nonces to require at the API (``api``) or the token endpoint, or ``None``."""
        wanted = self.nonce == "all" or (api and self.nonce == "api")
        return self.nonces if wanted else None


def init_app(app) -> None:
    """Read and check the DPoP settings; hand a fresh nonce back with every answer to a
    request whose proof needed one (section 8.2), so a client need not wait to be told."""
    window, nonce = app.config["DPOP_PROOF_SECONDS"], app.config["DPOP_NONCE"]
    if not 5 <= window <= 600:
        raise ConfigError("SAYSO_DPOP_PROOF_SECONDS must be between 5 and 600")
    if nonce not in NONCE_SETTINGS:
        raise ConfigError("SAYSO_DPOP_NONCE must be api, all or off")
    key = derive_key(app.config["MASTER_KEY_BYTES"], "dpop-nonce/v1")
    app.extensions["sayso_dpop"] = Settings(window, nonce, Nonces(key))

    @app.after_request
    def _fresh_nonce(response):
        fresh = g.pop("sayso_dpop_nonce", None)
        if fresh and NONCE_HEADER not in response.headers:
            response.headers[NONCE_HEADER] = fresh
        return response


def request_proof(*, api: bool, access_token: str | None = None) -> Proof | None:
    """This request's DPoP proof, checked and used up; ``None`` if it sent none.

    ``api``: whether the request is to the API (``access_token``: the token it presents)
    rather than the token endpoint. The URL the proof must name is the public one (on
    ``SAYSO_ISSUER``'s origin when set), whatever a proxy in front made of the request.
    Called before the request's own transaction begins (see :func:`check_token_request`)."""
    values = request.headers.getlist("DPoP")
    if not values:
        return None
    if len(values) > 1:
        raise ProofRefused("Send one DPoP header, not several.")
    settings: Settings = current_app.extensions["sayso_dpop"]
    now = time.time()
    nonces = settings.nonces_at(api)
    proof = check(
        values[0],
        method=request.method,
        url=public_url(request.endpoint, **(request.view_args or {})),
        now=now,
        window=settings.window,
        access_token=access_token,
        nonces=nonces,
    )
    # Remembered until its iat is out of the window: a replay after that fails on iat.
    until = datetime.fromtimestamp(proof.iat + settings.window + 1, UTC)
    if not services.dpop_proofs().first_use(proof.jkt, proof.jti, until):
        raise ProofRefused("This DPoP proof was used before: make a new one for each request.")
    if nonces is not None:
        g.sayso_dpop_nonce = nonces.current(now)
    return proof


def current_nonce(api: bool) -> str | None:
    """A nonce to hand out now, if nonces are required there."""
    nonces = current_app.extensions["sayso_dpop"].nonces_at(api)
    return nonces.current(time.time()) if nonces is not None else None


# The token endpoint's errors (section 5 and 8), as Authlib answers OAuth errors.


class InvalidDPoPProofError(OAuth2Error):
    """400 ``invalid_dpop_proof`` at the token endpoint."""

    error = "invalid_dpop_proof"
    status_code = 400


class UseDPoPNonceError(OAuth2Error):
    """400 ``use_dpop_nonce`` at the token endpoint, with the nonce to use."""

    error = "use_dpop_nonce"
    status_code = 400

    def __init__(self, description: str, nonce: str):
        super().__init__(description)
        self.nonce = nonce

    def get_headers(self):
        return [*super().get_headers(), (NONCE_HEADER, self.nonce)]


def check_token_request() -> None:
    """Check and use up a token request's proof, before Authlib handles the request: before
    its transaction begins, which on SQLite holds the write lock that remembering the
    proof (on a connection of its own) would wait for. The grant then asks
    :func:`token_request_proof` for the outcome."""
    try:
        g.sayso_dpop_token_proof = request_proof(api=False)
    except ProofRefused as refused:
        g.sayso_dpop_token_proof = refused


def token_request_proof(client) -> Proof | None:
    """The proof of a token request by ``client`` (authenticated), or ``None`` if it sent
    none and need not: a client registered with ``dpop_bound_access_tokens`` must."""
    proof = g.get("sayso_dpop_token_proof")
    if isinstance(proof, NonceNeeded):
        raise UseDPoPNonceError(proof.description, proof.nonce)
    if isinstance(proof, ProofRefused):
        raise InvalidDPoPProofError(proof.description)
    if proof is None and getattr(client, "dpop_bound_access_tokens", False):
        raise InvalidDPoPProofError(
            "This client's tokens must be bound to a key: send a DPoP proof (RFC 9449)."
        )
    return proof
