"""Validation for what brands register: clients, redirect URIs, purposes, webhooks."""

from __future__ import annotations

from urllib.parse import urlsplit

from marshmallow import Schema, ValidationError, fields, post_load, validate, validates_schema

from sayso.fields import plain_text, scopes
from sayso.outbound import allowed, literal_address

LOOPBACK_HOSTS = {"localhost", "127.0.0.1", "[::1]"}


def _is_loopback(host: str) -> bool:
    if host in LOOPBACK_HOSTS:
        return True
    address = literal_address(host)
    return address is not None and address.is_loopback


def check_brand_url(
    url: str, allow_http_loopback: bool, what: str, called_by_sayso: bool = False
) -> None:
    """An absolute https URL with no fragment or credentials (http only on loopback, if
    allowed). A URL Sayso itself calls (a webhook) must not name an internal address."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        parts.port  # noqa: B018  (raises on a malformed port)
    except ValueError:
        raise ValidationError(f"The {what} is not a valid URL.") from None
    if any(not (0x21 <= ord(c) <= 0x7E) or c in '"<>\\^`{|}' for c in url):
        raise ValidationError(f"The {what} must be plain ASCII with no spaces or quotes.")
    if not host:
        raise ValidationError(f"The {what} must be an absolute URL.")
    if parts.username is not None or parts.password is not None:
        raise ValidationError(f"The {what} must not carry credentials.")
    if parts.fragment or url.endswith("#"):
        raise ValidationError(f"The {what} must not have a fragment.")
    # Any spelling of an address (10.1, 167772161, 0xa9fea9fe...) is checked here; a name
    # is checked each time Sayso calls it, on the addresses it resolves to then.
    literal = literal_address(host) if called_by_sayso else None
    if literal is not None and not allowed(literal, allow_http_loopback):
        raise ValidationError(f"The {what} must not point at a private or internal address.")
    if parts.scheme == "https":
        return
    if parts.scheme == "http" and allow_http_loopback and _is_loopback(host):
        return
    raise ValidationError(f"The {what} must use https.")


class _Name(fields.String):
    """A name shown to consumers: checked once the spaces around it are dropped, so one
    of spaces only is refused rather than stored blank. Plain text: no control characters
    (they would reach consent pages and the extension) and no lone surrogates (which
    cannot be stored as UTF-8)."""

    def _deserialize(self, value, attr, data, **kwargs):
        return super()._deserialize(value, attr, data, **kwargs).strip()


class ClientSchema(Schema):
    """A client a brand registers (portal, CLI)."""

    name = _Name(required=True, validate=[validate.Length(min=1, max=120), plain_text])
    redirect_uris = fields.List(
        fields.String(validate=validate.Length(max=2048)),
        required=True,
        validate=validate.Length(min=1, max=10),
    )
    scope_purposes = fields.Dict(
        keys=fields.String(validate=validate.OneOf(scopes())),
        values=fields.String(validate=[validate.Length(min=3, max=280), plain_text]),
        required=True,
        validate=validate.Length(min=1),
    )
    third_party_scopes = fields.List(
        fields.String(validate=validate.OneOf(scopes())),
        load_default=list,
        metadata={
            "description": "Scopes whose purpose involves passing data to third parties. "
            "Sayso refuses to ask consumers for these."
        },
    )
    webhook_url = fields.String(
        load_default=None, allow_none=True, validate=validate.Length(max=2048)
    )
    require_pushed_authorization_requests = fields.Boolean(
        load_default=False,
        metadata={
            "description": "RFC 9126: the client's authorization requests must first be "
            "pushed to /oauth/par; one sent the ordinary way is refused."
        },
    )
    dpop_bound_access_tokens = fields.Boolean(
        load_default=False,
        metadata={
            "description": "RFC 9449 section 5.2: every token request of the client must carry "
            "a DPoP proof, so all its tokens are bound to a key."
        },
    )

    def __init__(self, *args, allow_http_loopback: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.allow_http_loopback = allow_http_loopback

    @validates_schema(skip_on_field_errors=False)
    def _urls(self, data, **kwargs):
        errors = {}
        undeclared = set(data.get("third_party_scopes") or []) - set(
            data.get("scope_purposes") or {}
        )
        if undeclared:
            errors["third_party_scopes"] = [
                "Flag only scopes you declare a purpose for: " + ", ".join(sorted(undeclared))
            ]
        for i, uri in enumerate(data.get("redirect_uris") or []):
            if not isinstance(uri, str):
                continue
            try:
                check_brand_url(uri, self.allow_http_loopback, "redirect URI")
            except ValidationError as exc:
                errors.setdefault("redirect_uris", {})[i] = exc.messages
        if isinstance(data.get("webhook_url"), str) and data["webhook_url"]:
            try:
                check_brand_url(
                    data["webhook_url"],
                    self.allow_http_loopback,
                    "webhook URL",
                    called_by_sayso=True,
                )
            except ValidationError as exc:
                errors["webhook_url"] = exc.messages
        if errors:
            raise ValidationError(errors)


class BrandSchema(Schema):
    """A new brand."""

    name = _Name(required=True, validate=[validate.Length(min=1, max=120), plain_text])
    domains = fields.List(
        fields.String(
            validate=validate.Regexp(
                r"^(?=.{1,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$|^localhost$",
                error="Not a domain name.",
            )
        ),
        load_default=list,
    )

    @post_load
    def _each_domain_once(self, data, **kwargs):
        data["domains"] = list(dict.fromkeys(data["domains"]))  # --domain a --domain a
        return data
