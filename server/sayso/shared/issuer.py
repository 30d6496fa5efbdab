"""The issuer identifier Sayso's authorization server answers with (RFC 8414, RFC 9207)."""

from flask import current_app, request, url_for


def issuer() -> str:
    """``SAYSO_ISSUER`` if set (production should set it), else this request's origin."""
    return current_app.config["ISSUER"] or request.host_url.rstrip("/")


def public_url(endpoint: str, **values) -> str:
    """The absolute URL of ``endpoint`` on the issuer's origin: with ``SAYSO_ISSUER`` set,
    never built from the request's ``Host`` (or a forwarded host), so no request can make
    Sayso advertise its token endpoint somewhere else."""
    return issuer() + url_for(endpoint, **values)


def fixed_origin() -> bool:
    """Whether the issuer (and so every :func:`public_url`) is configured, not per request."""
    return bool(current_app.config["ISSUER"])
