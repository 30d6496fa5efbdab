"""Validation for what brands register: clients, redirect URIs, purposes, webhooks."""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from sayso.fields import scopes

LOOPBACK_HOSTS = {"localhost", "127.0.0.1", "[::1]"}


def _is_loopback(host: str) -> bool:
    if host in LOOPBACK_HOSTS:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_brand_url(url: str, allow_http_loopback: bool, what: str) -> None:
    """An absolute https URL with no fragment or credentials (http only on loopback, if allowed)."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        parts.port  # noqa: B018  (raises on a malformed port)
    except ValueError:
        raise ValidationError(f"The {what} is not a valid URL.") from None
    if any(c.isspace() for c in url) or not host:
        raise ValidationError(f"The {what} must be an absolute URL.")
    if parts.username is not None or parts.password is not None:
        raise ValidationError(f"The {what} must not carry credentials.")
    if parts.fragment or url.endswith("#"):
        raise ValidationError(f"The {what} must not have a fragment.")
    if parts.scheme == "https":
        return
    if parts.scheme == "http" and allow_http_loopback and _is_loopback(host):
        return
    raise ValidationError(f"The {what} must use https.")


class ClientSchema(Schema):
    """A client a brand registers (portal, CLI)."""

    name = fields.String(required=True, validate=validate.Length(min=1, max=120))
    redirect_uris = fields.List(
        fields.String(validate=validate.Length(max=2048)),
        required=True,
        validate=validate.Length(min=1, max=10),
    )
    scope_purposes = fields.Dict(
        keys=fields.String(validate=validate.OneOf(scopes())),
        values=fields.String(validate=validate.Length(min=3, max=280)),
        required=True,
        validate=validate.Length(min=1),
    )
    webhook_url = fields.String(
        load_default=None, allow_none=True, validate=validate.Length(max=2048)
    )

    def __init__(self, *args, allow_http_loopback: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.allow_http_loopback = allow_http_loopback

    @validates_schema
    def _urls(self, data, **kwargs):
        errors = {}
        for i, uri in enumerate(data.get("redirect_uris", [])):
            try:
                check_brand_url(uri, self.allow_http_loopback, "redirect URI")
            except ValidationError as exc:
                errors.setdefault("redirect_uris", {})[i] = exc.messages
        if data.get("webhook_url"):
            try:
                check_brand_url(data["webhook_url"], self.allow_http_loopback, "webhook URL")
            except ValidationError as exc:
                errors["webhook_url"] = exc.messages
        if errors:
            raise ValidationError(errors)


class BrandSchema(Schema):
    """A new brand."""

    name = fields.String(required=True, validate=validate.Length(min=1, max=120))
    domains = fields.List(
        fields.String(
            validate=validate.Regexp(
                r"^(?=.{1,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$|^localhost$",
                error="Not a domain name.",
            )
        ),
        load_default=list,
    )
