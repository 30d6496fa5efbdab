"""Configuration: defaults in code, every override a ``SAYSO_*`` environment variable.

Nothing here runs at import time; :func:`load_config` is called by ``create_app``.
Every variable is documented in ``docs/configuration.md``.
"""

from __future__ import annotations

import base64
import binascii
import logging
import os
import secrets
import tempfile
from pathlib import Path

from limits import parse_many

log = logging.getLogger(__name__)

#: Secrets that must be given explicitly in production and are generated into the
#: instance folder for the embedded default. name -> (env var, bytes of entropy)
SECRETS = {
    "SECRET_KEY": ("SAYSO_SECRET_KEY", 32),
    "MASTER_KEY": ("SAYSO_MASTER_KEY", 32),
    "SIGNING_KEY": ("SAYSO_SIGNING_KEY", 32),
}


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
    "LEDGER_CHECKPOINT_INTERVAL": ("SAYSO_LEDGER_CHECKPOINT_INTERVAL", int),
    "ANSWERS_K": ("SAYSO_ANSWERS_K", int),
    "ALLOW_HTTP_LOOPBACK": ("SAYSO_ALLOW_HTTP_LOOPBACK", _env_bool),
    "DATA_KEY_CACHE_SECONDS": ("SAYSO_DATA_KEY_CACHE_SECONDS", int),
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
        # A signed checkpoint every this many ledger events (and on demand).
        "LEDGER_CHECKPOINT_INTERVAL": 1000,
        # The portal shows a question's aggregate answers only once this many answered.
        "ANSWERS_K": 10,
        # How long a worker may keep an account's unwrapped data key in memory (0: never).
        # Only the unwrap is skipped: every read still fetches the wrapped key, so an
        # erased (shredded) account is unreadable at once. See docs/security.md.
        "DATA_KEY_CACHE_SECONDS": 60,
        # Brands' redirect and webhook URLs must be https; http on a loopback host is
        # allowed only when this is true (default: everywhere but production), so the
        # sample bookshop can run on http://127.0.0.1 while you try Sayso.
        "ALLOW_HTTP_LOOPBACK": None,
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
            for var in ("SAYSO_DATABASE_URL", *(var for var, _ in SECRETS.values()))
            if var not in given
        ]
        if missing:
            raise ConfigError(f"production mode needs these set: {', '.join(missing)}")
        if "SAYSO_COOKIE_SECURE" not in given:
            app.config["SESSION_COOKIE_SECURE"] = True
    if app.config["ALLOW_HTTP_LOOPBACK"] is None:
        app.config["ALLOW_HTTP_LOOPBACK"] = app.config["ENV"] != "production"
    _check_values(app.config)
    app.config["RATELIMIT_STORAGE_URI"] = app.config["REDIS_URL"] or "memory://"
    _provide_secrets(app)
    app.config["MASTER_KEY_BYTES"] = decode_key(app.config["MASTER_KEY"], "SAYSO_MASTER_KEY")
    app.config["SIGNING_KEY_BYTES"] = decode_key(app.config["SIGNING_KEY"], "SAYSO_SIGNING_KEY")


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
    if cfg["LEDGER_CHECKPOINT_INTERVAL"] < 1:
        raise ConfigError("SAYSO_LEDGER_CHECKPOINT_INTERVAL must be 1 or more")
    if cfg["ANSWERS_K"] < 2:
        raise ConfigError("SAYSO_ANSWERS_K must be 2 or more")
    if not 0 <= cfg["DATA_KEY_CACHE_SECONDS"] <= 3600:
        raise ConfigError("SAYSO_DATA_KEY_CACHE_SECONDS must be between 0 and 3600")


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
