"""Configuration: defaults in code, every override a ``SAYSO_*`` environment variable.

Nothing here runs at import time; :func:`load_config` is called by ``create_app``.
Every variable is documented in ``docs/configuration.md``.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import logging
import os
import secrets
import tempfile
from pathlib import Path
from urllib.parse import urlsplit

from limits import parse_many

from sayso.ledger.witnesses import WitnessConfigError, parse_witnesses
from sayso.shared.crypto import MasterKeys, legacy_subject_key
from sayso.shared.mail_settings import read_mail_settings

log = logging.getLogger(__name__)

#: Secrets that must be given explicitly in production and are generated into the
#: instance folder for the embedded default. name -> (env var, bytes of entropy)
SECRETS = {
    "SECRET_KEY": ("SAYSO_SECRET_KEY", 32),
    "MASTER_KEY": ("SAYSO_MASTER_KEY", 32),
    "SIGNING_KEY": ("SAYSO_SIGNING_KEY", 32),
}

#: Keys read like the secrets, but not demanded up front nor generated at random:
#: name -> env var. See :func:`_master_keys` and :func:`_subject_key`.
ROTATION_KEYS = {
    # Master keys replaced by SAYSO_MASTER_KEY that still unwrap what they wrapped,
    # comma-separated, until `sayso keys rotate` has re-wrapped it all.
    "MASTER_KEYS_RETIRED": "SAYSO_MASTER_KEYS_RETIRED",
    # The key pairwise subjects (`sub`) are derived with: it never rotates.
    "SUBJECT_KEY": "SAYSO_SUBJECT_KEY",
}


#: ``SUBJECT_KEY_SOURCE`` when SAYSO_SUBJECT_KEY is unset in production (see _subject_key).
SUBJECT_KEY_DERIVED = "derived from SAYSO_MASTER_KEY"


class ConfigError(RuntimeError):
    """Raised when the configuration cannot run Sayso safely."""


def _env_bool(value: str) -> bool:
    word = value.strip().lower()
    if word in {"1", "true", "yes", "on"}:
        return True
    if word in {"0", "false", "no", "off"}:
        return False
    raise ValueError(f"{value!r} is not a boolean (use true or false)")


# name -> (env var, parser). Defaults live in ``defaults()``.
ENV_OVERRIDES = {
    "ENV": ("SAYSO_ENV", str),
    "SQLALCHEMY_DATABASE_URI": ("SAYSO_DATABASE_URL", str),
    "REDIS_URL": ("SAYSO_REDIS_URL", str),
    "SESSION_COOKIE_SECURE": ("SAYSO_COOKIE_SECURE", _env_bool),
    "LOGIN_MAX_FAILURES": ("SAYSO_LOGIN_MAX_FAILURES", int),
    "LOGIN_LOCKOUT_SECONDS": ("SAYSO_LOGIN_LOCKOUT_SECONDS", int),
    "LOGIN_RATE_LIMIT": ("SAYSO_LOGIN_RATE_LIMIT", str),
    "ARGON2_TIME_COST": ("SAYSO_ARGON2_TIME_COST", int),
    "ARGON2_MEMORY_COST": ("SAYSO_ARGON2_MEMORY_COST", int),
    "LOG_LEVEL": ("SAYSO_LOG_LEVEL", str),
    "TRUSTED_PROXIES": ("SAYSO_TRUSTED_PROXIES", int),
    "ISSUER": ("SAYSO_ISSUER", str),
    "LEDGER_CHECKPOINT_SECONDS": ("SAYSO_LEDGER_CHECKPOINT_SECONDS", float),
    "LEDGER_SEQUENCER": ("SAYSO_LEDGER_SEQUENCER", str),
    "LEDGER_BATCH": ("SAYSO_LEDGER_BATCH", int),
    "LEDGER_ORIGIN": ("SAYSO_LEDGER_ORIGIN", str),
    "LEDGER_KEY_FILE": ("SAYSO_LEDGER_KEY_FILE", str),
    "WITNESSES": ("SAYSO_WITNESSES", str),
    "ANSWERS_K": ("SAYSO_ANSWERS_K", int),
    "ALLOW_HTTP_LOOPBACK": ("SAYSO_ALLOW_HTTP_LOOPBACK", _env_bool),
    "DATA_KEY_CACHE_SECONDS": ("SAYSO_DATA_KEY_CACHE_SECONDS", int),
    "INITIAL_ACCESS_TOKEN_SECONDS": ("SAYSO_INITIAL_ACCESS_TOKEN_SECONDS", int),
    "INITIAL_ACCESS_TOKEN_USES": ("SAYSO_INITIAL_ACCESS_TOKEN_USES", int),
    "REFRESH_GRACE_SECONDS": ("SAYSO_REFRESH_GRACE_SECONDS", int),
    "DPOP_NONCE": ("SAYSO_DPOP_NONCE", str),
    "DPOP_PROOF_SECONDS": ("SAYSO_DPOP_PROOF_SECONDS", int),
    "MAIL_URL": ("SAYSO_MAIL_URL", str),
    "MAIL_FROM": ("SAYSO_MAIL_FROM", str),
    "MAIL_WORKER": ("SAYSO_MAIL_WORKER", str),
}


def defaults(instance_path: str) -> dict:
    """The built-in configuration: an embedded SQLite database in the instance folder."""
    return {
        "ENV": "development",
        "SQLALCHEMY_DATABASE_URI": "sqlite:///" + str(Path(instance_path) / "sayso.sqlite3"),
        "SQLALCHEMY_ENGINE_OPTIONS": {},
        "REDIS_URL": "",
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": False,
        "SESSION_COOKIE_NAME": "sayso_session",
        "REMEMBER_COOKIE_HTTPONLY": True,
        "REMEMBER_COOKIE_SAMESITE": "Lax",
        "PERMANENT_SESSION_LIFETIME": 8 * 3600,
        "MAX_CONTENT_LENGTH": 256 * 1024,
        "WTF_CSRF_TIME_LIMIT": 3600 * 8,
        "LOGIN_MAX_FAILURES": 5,
        "LOGIN_LOCKOUT_SECONDS": 15 * 60,
        "LOGIN_RATE_LIMIT": "20 per minute",
        "ARGON2_TIME_COST": 3,
        "ARGON2_MEMORY_COST": 64 * 1024,
        "LOG_LEVEL": "INFO",
        "TRUSTED_PROXIES": 0,
        "ISSUER": "",
        # The ledger's sequencer integrates queued events and signs a checkpoint (if the
        # tree grew) this often; "background" runs it in the app's processes (one elected),
        # "off" leaves it to a `sayso ledger sequence` process.
        "LEDGER_CHECKPOINT_SECONDS": 1.0,
        "LEDGER_SEQUENCER": "background",
        # Events integrated per transaction (on SQLite, the write lock is held that long).
        "LEDGER_BATCH": 5000,
        # The log's name, the first line of every checkpoint ("" : from SAYSO_ISSUER's host).
        "LEDGER_ORIGIN": "",
        # A file holding the log's signing key (url-safe base64), instead of SAYSO_SIGNING_KEY.
        "LEDGER_KEY_FILE": "",
        # Witnesses asked to cosign each checkpoint: "URL VERIFIER-KEY", comma-separated.
        "WITNESSES": "",
        # The portal shows a question's aggregate answers only once this many answered.
        "ANSWERS_K": 10,
        # How long a worker may keep an account's unwrapped data key in memory (0: never).
        # Only the unwrap is skipped: every read still fetches the wrapped key, so an
        # erased (shredded) account is unreadable at once. See docs/security.md.
        "DATA_KEY_CACHE_SECONDS": 60,
        # A brand's initial access token (dynamic client registration, RFC 7591) works for
        # this long after it is issued, for at most this many registrations.
        "INITIAL_ACCESS_TOKEN_SECONDS": 24 * 3600,
        "INITIAL_ACCESS_TOKEN_USES": 10,
        # How long a refresh whose answer was lost may be retried with the same refresh
        # token for the same new pair, while that pair is unused (0: never; every second
        # presentation is reuse). See docs/brands.md "Refreshing".
        "REFRESH_GRACE_SECONDS": 10,
        "DPOP_NONCE": "api",  # where DPoP proofs need a server nonce: api, all, off
        "DPOP_PROOF_SECONDS": 60,  # how far a proof's iat may be from our clock
        # Brands' redirect and webhook URLs must be https; http on a loopback host is
        # allowed only when this is true (default: everywhere but production), so the
        # sample bookshop can run on http://127.0.0.1 while you try Sayso.
        "ALLOW_HTTP_LOOPBACK": None,
        "MASTER_KEYS_RETIRED": "",
        "SUBJECT_KEY": "",
        "RATELIMIT_HEADERS_ENABLED": True,
        "RATELIMIT_KEY_PREFIX": "sayso",
    }


def load_config(app, test_config: dict | None) -> None:
    """Fill ``app.config`` from defaults, then ``SAYSO_*`` variables, then ``test_config``."""
    app.config.from_mapping(defaults(app.instance_path))
    for name, (var, parse) in ENV_OVERRIDES.items():
        if var in os.environ:
            try:
                app.config[name] = parse(os.environ[var])
            except ValueError as exc:
                raise ConfigError(f"{var} is not valid: {exc}") from None
    for name, (var, _) in SECRETS.items():
        if var in os.environ:
            app.config[name] = os.environ[var]
    for name, var in ROTATION_KEYS.items():
        if var in os.environ:
            app.config[name] = os.environ[var]
    if test_config:
        app.config.update(test_config)

    if app.config["ENV"] not in {"development", "production", "testing"}:
        raise ConfigError("SAYSO_ENV must be development, production or testing")
    if app.config["ENV"] == "production":
        given = set(os.environ) | {
            var
            for name, (var, _) in {**ENV_OVERRIDES, **SECRETS}.items()
            if name in (test_config or {})
        }
        missing = [
            var
            for var in (
                "SAYSO_DATABASE_URL",
                *(var for var, _ in SECRETS.values()),
                # Without it the issuer, and every URL in the metadata, comes from each
                # request's Host header.
                "SAYSO_ISSUER",
                "SAYSO_MAIL_URL",  # else no address is confirmed, no password reset
            )
            if var not in given
            # The log's key may come from a file instead (outside the instance folder).
            and not (var == "SAYSO_SIGNING_KEY" and app.config["LEDGER_KEY_FILE"])
        ]
        if missing:
            raise ConfigError(f"production mode needs these set: {', '.join(missing)}")
        if "SAYSO_COOKIE_SECURE" not in given:
            app.config["SESSION_COOKIE_SECURE"] = True
    if app.config["ALLOW_HTTP_LOOPBACK"] is None:
        app.config["ALLOW_HTTP_LOOPBACK"] = app.config["ENV"] != "production"
    _check_values(app.config)
    app.config["RATELIMIT_STORAGE_URI"] = app.config["REDIS_URL"] or "memory://"
    _read_ledger_key_file(app)
    _provide_secrets(app)
    _ledger_settings(app.config)
    app.config["MASTER_KEY_BYTES"] = decode_key(app.config["MASTER_KEY"], "SAYSO_MASTER_KEY")
    _master_keys(app.config)
    _subject_key(app)
    app.config["SIGNING_KEY_BYTES"] = decode_key(app.config["SIGNING_KEY"], "SAYSO_SIGNING_KEY")


def _master_keys(cfg) -> None:
    """``MASTER_KEYS``: the current master key and the retired ones still accepted to
    unwrap (``SAYSO_MASTER_KEYS_RETIRED``, comma-separated; a list in ``test_config``)."""

    retired = cfg["MASTER_KEYS_RETIRED"] or ()
    if isinstance(retired, str):
        retired = [item.strip() for item in retired.split(",")]
    cfg["MASTER_KEYS"] = MasterKeys(
        cfg["MASTER_KEY_BYTES"],
        [
            decode_key(item, f"SAYSO_MASTER_KEYS_RETIRED (key {number})")
            for number, item in enumerate(retired, start=1)
            if item
        ],
    )


def _subject_key(app) -> None:
    """``SUBJECT_KEY_BYTES``: the key of pairwise subjects, and ``SUBJECT_KEY_SOURCE``,
    where it came from.

    Set (``SAYSO_SUBJECT_KEY``), it is used as is. Unset, it is the subkey of the master
    key that every ``sub`` was derived with before the subject key had a variable of its
    own, so no brand's ``sub`` changes on upgrade: in development it is derived once into
    the instance folder (``secrets/subject_key``), where it stays whatever becomes of the
    master key; in production it is derived at each start, which is right only as long as
    the master key is the one it was first derived from, so it is refused while retired
    master keys are configured (a rotation is under way), rather than change every ``sub``.
    """

    cfg = app.config
    if cfg["SUBJECT_KEY"]:
        cfg["SUBJECT_KEY_BYTES"] = decode_key(cfg["SUBJECT_KEY"], "SAYSO_SUBJECT_KEY")
        cfg["SUBJECT_KEY_SOURCE"] = "SAYSO_SUBJECT_KEY"
        return
    rotating = bool(cfg["MASTER_KEYS"].retired)
    derived = legacy_subject_key(cfg["MASTER_KEY_BYTES"])
    unset = (
        "SAYSO_SUBJECT_KEY must be set while SAYSO_MASTER_KEYS_RETIRED is: without it, "
        "pairwise subjects (`sub`) are derived from SAYSO_MASTER_KEY and would change with "
        "it. Set it to what `sayso keys subject-key` prints under the previous "
        "SAYSO_MASTER_KEY (see docs/configuration.md, Rotating the master key)"
    )
    if cfg["ENV"] == "production":
        if rotating:
            raise ConfigError(unset)
        log.warning(
            "SAYSO_SUBJECT_KEY is not set: pairwise subjects are derived from "
            "SAYSO_MASTER_KEY; set it (`sayso keys subject-key` prints it) before rotating "
            "the master key"
        )
        cfg["SUBJECT_KEY_BYTES"] = derived
        cfg["SUBJECT_KEY_SOURCE"] = SUBJECT_KEY_DERIVED
        return
    secrets_dir = Path(app.instance_path) / "secrets"
    secrets_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = secrets_dir / "subject_key"
    if not path.exists():
        if rotating:
            raise ConfigError(unset)
        if _create_whole(path, base64.urlsafe_b64encode(derived).decode().rstrip("=")):
            log.warning(
                "derived SUBJECT_KEY from the master key into %s (set %s to manage it yourself)",
                path,
                "SAYSO_SUBJECT_KEY",
            )
    cfg["SUBJECT_KEY_BYTES"] = decode_key(path.read_text().strip(), "SAYSO_SUBJECT_KEY")
    cfg["SUBJECT_KEY_SOURCE"] = str(path)


def _read_ledger_key_file(app) -> None:
    """``SAYSO_LEDGER_KEY_FILE``: the log's signing key from a file of its own. In production
    it must lie outside the instance folder: a key kept beside the database lets whoever
    copies one copy both (docs/security.md)."""
    path = app.config["LEDGER_KEY_FILE"]
    if not path:
        return
    resolved = Path(path).resolve()
    if app.config["ENV"] == "production" and resolved.is_relative_to(
        Path(app.instance_path).resolve()
    ):
        raise ConfigError("SAYSO_LEDGER_KEY_FILE must be outside the instance folder")
    try:
        app.config["SIGNING_KEY"] = resolved.read_text().strip()
    except OSError as error:
        raise ConfigError(f"SAYSO_LEDGER_KEY_FILE cannot be read: {error.strerror}") from None


def _ledger_settings(cfg) -> None:
    """The log's origin (its name in checkpoints) and its witnesses, read once."""
    if not cfg["LEDGER_ORIGIN"]:
        host = urlsplit(cfg["ISSUER"]).netloc if cfg["ISSUER"] else "sayso.localhost"
        cfg["LEDGER_ORIGIN"] = f"{host}/ledger"
    if "\n" in cfg["LEDGER_ORIGIN"] or not cfg["LEDGER_ORIGIN"].strip():
        raise ConfigError("SAYSO_LEDGER_ORIGIN must be one line")
    try:
        cfg["LEDGER_WITNESSES"] = parse_witnesses(cfg["WITNESSES"])
    except WitnessConfigError as error:
        raise ConfigError(f"SAYSO_WITNESSES is not valid: {error}") from None


def _check_values(cfg) -> None:
    """Fail at startup, naming the variable, rather than misbehave on the first request."""
    if logging.getLevelName(str(cfg["LOG_LEVEL"]).upper()) not in range(0, 51):
        raise ConfigError("SAYSO_LOG_LEVEL must be DEBUG, INFO, WARNING, ERROR or CRITICAL")
    cfg["LOG_LEVEL"] = str(cfg["LOG_LEVEL"]).upper()
    try:
        if not parse_many(cfg["LOGIN_RATE_LIMIT"]):
            raise ValueError
    except ValueError:
        raise ConfigError("SAYSO_LOGIN_RATE_LIMIT must look like '20 per minute'") from None
    if cfg["TRUSTED_PROXIES"] < 0:
        raise ConfigError("SAYSO_TRUSTED_PROXIES must be 0 or more")
    if not 0.05 <= cfg["LEDGER_CHECKPOINT_SECONDS"] <= 3600:
        raise ConfigError("SAYSO_LEDGER_CHECKPOINT_SECONDS must be between 0.05 and 3600")
    if not 1 <= cfg["LEDGER_BATCH"] <= 100_000:
        raise ConfigError("SAYSO_LEDGER_BATCH must be between 1 and 100000")
    if cfg["LEDGER_SEQUENCER"] not in {"background", "off"}:
        raise ConfigError("SAYSO_LEDGER_SEQUENCER must be background or off")
    if cfg["ANSWERS_K"] < 2:
        raise ConfigError("SAYSO_ANSWERS_K must be 2 or more")
    if not 0 <= cfg["DATA_KEY_CACHE_SECONDS"] <= 3600:
        raise ConfigError("SAYSO_DATA_KEY_CACHE_SECONDS must be between 0 and 3600")
    if not 0 <= cfg["REFRESH_GRACE_SECONDS"] <= 60:
        raise ConfigError("SAYSO_REFRESH_GRACE_SECONDS must be between 0 and 60")
    if not 60 <= cfg["INITIAL_ACCESS_TOKEN_SECONDS"] <= 366 * 24 * 3600:
        raise ConfigError("SAYSO_INITIAL_ACCESS_TOKEN_SECONDS must be between 60 and 31622400")
    if not 1 <= cfg["INITIAL_ACCESS_TOKEN_USES"] <= 1000:
        raise ConfigError("SAYSO_INITIAL_ACCESS_TOKEN_USES must be between 1 and 1000")
    cfg["ISSUER"] = _issuer(cfg["ISSUER"], production=cfg["ENV"] == "production")
    read_mail_settings(cfg, ConfigError)  # MAIL_SERVER, MAIL_SENDER, MAIL_WORKER


def _issuer(value: str, production: bool) -> str:
    """``SAYSO_ISSUER`` as every advertised URL is built from it: an https URL with no
    query, fragment or credentials (RFC 8414), without a trailing slash. Plain http only
    on a loopback host, and never in production. Empty when unset (not in production)."""
    if not value:
        if production:
            raise ConfigError("production mode needs SAYSO_ISSUER set")
        return ""
    message = (
        "SAYSO_ISSUER must be an https URL with no query or fragment, e.g. https://sayso.example"
    )
    try:
        parts = urlsplit(value)
        host = parts.hostname
        parts.port  # noqa: B018  (raises on a malformed port)
    except ValueError:
        raise ConfigError(message) from None
    if not host or parts.query or parts.fragment or "#" in value or "?" in value:
        raise ConfigError(message)
    if parts.username is not None or parts.password is not None:
        raise ConfigError(message)
    loopback = host == "localhost" or _is_loopback_address(host)
    if parts.scheme != "https" and not (parts.scheme == "http" and loopback and not production):
        raise ConfigError(message)
    return value.rstrip("/")


def _is_loopback_address(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def decode_key(value: str | bytes, var: str) -> bytes:
    """Decode a url-safe base64 32-byte key, failing with a message that names ``var``."""
    if isinstance(value, bytes):
        raw = value
    else:
        try:
            raw = base64.urlsafe_b64decode(value.encode() + b"=" * (-len(value) % 4))
        except (binascii.Error, ValueError):
            raise ConfigError(f"{var} must be url-safe base64") from None
    if len(raw) != 32:
        raise ConfigError(f"{var} must decode to 32 bytes, got {len(raw)}")
    return raw


def new_key() -> str:
    """A fresh 32-byte key as url-safe base64, the format every ``SAYSO_*_KEY`` takes."""
    return base64.urlsafe_b64encode(secrets.token_bytes(32)).decode().rstrip("=")


def _provide_secrets(app) -> None:
    """Production demands every secret; development generates missing ones once, on disk."""
    missing = [name for name in SECRETS if not app.config.get(name)]
    if not missing:
        return
    secrets_dir = Path(app.instance_path) / "secrets"
    secrets_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    for name in missing:
        path = secrets_dir / name.lower()
        if not path.exists() and _create_whole(path, new_key()):
            log.warning(
                "generated %s into %s (set %s to manage it yourself)",
                name,
                path,
                SECRETS[name][0],
            )
        app.config[name] = path.read_text().strip()


def _create_whole(path: Path, text: str) -> bool:
    """Create ``path`` holding ``text``, unless it exists; whether this call created it.

    Two workers starting together must neither write two different keys nor read one
    half-written: the key is written to a private temporary file first, then linked into
    place, which fails if the name exists and otherwise shows the file complete at once.
    """
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w") as fh:  # mkstemp makes it 0600
            fh.write(text)
        try:
            os.link(temporary, path)
        except FileExistsError:
            return False
        return True
    finally:
        os.unlink(temporary)
