"""Logging: the level, and no secret in any log line.

A token a client puts in a URL is refused, and revoked when it still worked, but the
request line that carried it is logged before Sayso answers, by gunicorn's access log
(``--access-logfile``), by werkzeug's development server, and by anything that logs a
URL. So every log record made in the process has its token-shaped query parameters
(``access_token=…``, ``code=…``, ``client_secret=…``) and Sayso's prefixed secrets
(``sayso_iat_…``, ``sayso_cs_…``, ``sayso_whs_…``, and the emailed links' ``sayso_cfm_…``
``sayso_rst_…``) blanked before any handler sees it.
This is done where records are made (``logging.setLogRecordFactory``), not in a handler,
so it holds however the server, or an operator's logging configuration, sets handlers up.
"""

from __future__ import annotations

import logging
import re
from urllib.parse import unquote

REDACTED = "[redacted]"

#: Query or form parameters that carry a credential (RFC 6749, 6750, 7009, 7591, 7636 and
#: 7662 names, and Sayso's own), compared case-insensitively and percent-decoded.
SECRET_PARAMETERS = frozenset(
    {
        "access_token",
        "refresh_token",
        "id_token",
        "token",
        "code",
        "code_verifier",
        "client_secret",
        "client_assertion",
        "assertion",
        "initial_access_token",
        "registration_access_token",
        "password",
        # RFC 9126: whoever brings a pushed request's reference first may use it up.
        "request_uri",
    }
)

# name=value after the start of a query or a parameter separator (or a space, for a
# message that logs "key=value" pairs). The value ends where the parameter does.
_PARAMETER = re.compile(r"(?P<lead>^|[?&;\s])(?P<name>[^=&;?#\s\"']+)=(?P<value>[^&;#\s\"']*)")
# Secrets Sayso hands out carry a prefix so that a leaked one is recognisable anywhere.
_PREFIXED = re.compile(r"\b(?P<prefix>sayso_(?:iat|cs|whs|cfm|rst))_[A-Za-z0-9_-]+")


def redact(text: str) -> str:
    """``text`` with the value of every credential-carrying parameter, and every prefixed
    Sayso secret, replaced by ``[redacted]``."""
    if "=" in text:
        text = _PARAMETER.sub(_redact_parameter, text)
    if "sayso_" in text:
        text = _PREFIXED.sub(lambda m: f"{m['prefix']}_{REDACTED}", text)
    return text


def _redact_parameter(match: re.Match) -> str:
    if not match["value"] or unquote(match["name"]).lower() not in SECRET_PARAMETERS:
        return match[0]
    return f"{match['lead']}{match['name']}={REDACTED}"


def _redacting(make_record):
    """A log record factory that makes records with ``make_record``, then redacts the
    message they will print: formatted once here, and kept as is when nothing changes."""

    def factory(*args, **kwargs):
        record = make_record(*args, **kwargs)
        try:
            message = record.getMessage()
        except Exception:  # a broken format string: logging reports it when it emits
            return record
        clean = redact(message)
        if clean != message:
            record.msg, record.args = clean, None
        return record

    factory.sayso_redacting = True
    return factory


def init_app(app) -> None:
    """Set the log level from ``SAYSO_LOG_LEVEL`` and redact secrets from every record the
    process makes (installed once per process, whatever the number of apps)."""
    logging.basicConfig(level=app.config["LOG_LEVEL"], format="%(levelname)s %(name)s: %(message)s")
    # Authlib logs every token it issues at DEBUG ("Issue token {...}"): never below INFO,
    # whatever the level, so no token reaches a log.
    level = max(logging.getLevelName(app.config["LOG_LEVEL"]), logging.INFO)
    logging.getLogger("authlib").setLevel(level)
    current = logging.getLogRecordFactory()
    if not getattr(current, "sayso_redacting", False):
        logging.setLogRecordFactory(_redacting(current))
