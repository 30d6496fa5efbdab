"""``SAYSO_MAIL_URL`` and ``SAYSO_MAIL_FROM``, read into what the mail transport needs."""

from __future__ import annotations

from dataclasses import dataclass
from email.headerregistry import Address
from email.utils import parseaddr
from urllib.parse import parse_qs, unquote, urlsplit

#: ``?starttls=`` values: upgrade when the server offers it, always (refuse to send in the
#: clear), or never (a server on the same host that offers a certificate nobody can check).
STARTTLS_CHOICES = ("auto", "required", "off")


@dataclass(frozen=True)
class MailServer:
    """Where outgoing mail goes: ``smtp://`` (STARTTLS as ``starttls`` says) or ``smtps://``
    (TLS from the first byte)."""

    host: str
    port: int
    tls: bool
    starttls: str
    username: str | None
    password: str | None

    def __repr__(self) -> str:  # never the password, in a log or a traceback
        scheme = "smtps" if self.tls else "smtp"
        return f"MailServer({scheme}://{self.host}:{self.port}, starttls={self.starttls})"


def parse_mail_url(url: str) -> MailServer:
    """``smtp://user:pass@host:port?starttls=auto|required|off`` or ``smtps://...``; raises
    ``ValueError`` saying what is wrong (never repeating the URL: it holds a password)."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise ValueError("it is not a URL") from None
    if parts.scheme not in {"smtp", "smtps"}:
        raise ValueError("it must start with smtp:// or smtps://")
    if not parts.hostname:
        raise ValueError("it names no host")
    if parts.path not in {"", "/"} or parts.fragment:
        raise ValueError("it must have no path")
    query = parse_qs(parts.query, keep_blank_values=True)
    unknown = set(query) - {"starttls"}
    if unknown:
        raise ValueError(f"unknown option {sorted(unknown)[0]!r} (only starttls)")
    starttls = query.get("starttls", ["auto"])[-1]
    if starttls not in STARTTLS_CHOICES:
        raise ValueError("starttls must be auto, required or off")
    tls = parts.scheme == "smtps"
    if tls and "starttls" in query:
        raise ValueError("smtps:// is TLS from the start: starttls does not apply")
    return MailServer(
        host=parts.hostname,
        port=port or (465 if tls else 587),
        tls=tls,
        starttls="off" if tls else starttls,
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password is not None else None,
    )


def parse_sender(value: str) -> str:
    """``SAYSO_MAIL_FROM``: ``Name <address@host>`` or a bare address, as a header value;
    raises ``ValueError``."""
    name, address = parseaddr(value)
    if not address or "@" not in address or "\n" in value or "\r" in value:
        raise ValueError("it must be an address like Sayso <no-reply@sayso.example>")
    username, _, domain = address.rpartition("@")
    return str(Address(display_name=name, username=username, domain=domain))


def read_mail_settings(cfg, error_class: type[Exception] = ValueError) -> None:
    """``MAIL_SERVER`` (None: no SMTP server; then the messages go to the console and
    ``instance/mail/``), ``MAIL_SENDER`` (``SAYSO_MAIL_FROM``, or no-reply@ the issuer's
    host) and ``MAIL_WORKER`` (``background``: each app process sends what is queued;
    ``off``: a ``sayso mail deliver`` worker does; unset: background in development only),
    checked at start-up; raises ``error_class`` (config.py's ``ConfigError``) naming the
    variable. (Their defaults are here, not in config.defaults.)"""
    for name, default in (("MAIL_URL", ""), ("MAIL_FROM", ""), ("MAIL_WORKER", None)):
        cfg.setdefault(name, default)
    try:
        cfg["MAIL_SERVER"] = parse_mail_url(cfg["MAIL_URL"]) if cfg["MAIL_URL"] else None
    except ValueError as error:
        raise error_class(f"SAYSO_MAIL_URL is not valid: {error}") from None
    host = urlsplit(cfg["ISSUER"]).hostname if cfg["ISSUER"] else "sayso.localhost"
    try:
        cfg["MAIL_SENDER"] = parse_sender(cfg["MAIL_FROM"] or f"Sayso <no-reply@{host}>")
    except ValueError as error:
        raise error_class(f"SAYSO_MAIL_FROM is not valid: {error}") from None
    if cfg["MAIL_WORKER"] is None:
        cfg["MAIL_WORKER"] = "background" if cfg["ENV"] == "development" else "off"
    if cfg["MAIL_WORKER"] not in {"background", "off"}:
        raise error_class("SAYSO_MAIL_WORKER must be background or off")
