"""The issuer identifier Sayso's authorization server answers with (RFC 8414, RFC 9207)."""

from flask import current_app, request


def issuer() -> str:
    """``SAYSO_ISSUER`` if set (production should set it), else this request's origin."""
    return current_app.config["ISSUER"] or request.host_url.rstrip("/")
