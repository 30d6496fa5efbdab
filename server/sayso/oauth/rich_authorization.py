"""RFC 9396 Rich Authorization Requests of Sayso's one type, ``sayso_field``.

A brand may ask with ``authorization_details`` (a JSON array) instead of, or as well as,
``scope``. Each entry names one field or permission of the registry (``fields.py``)::

    {"type": "sayso_field", "field": "interests", "access": "read",
     "purpose": "<the purpose the client registered for interests:read>",
     "duration": "30d"}

``access`` is what the name's scope does ("read" for a field, "write" for ``contacts``), so
an entry is exactly one scope and a request asks for the union of its scopes and entries.
``purpose`` must repeat the purpose the client registered for that scope: the consent page,
the receipt and the ledger say what was registered (and checked for third parties), never
text a request made up. ``duration`` is one of the consent page's expiries (``30d``,
``1y``, ``never``; ``1y`` when left out): the page offers it first, the consumer chooses.

Authlib (1.x) has no RAR support: it neither parses the parameter nor knows its error. So
this module is the minimum, called from Authlib's own hooks (``validate_requested_scope``,
the token grants) so that its validation flow, redirect-URI trust included, is kept.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime

from authlib.oauth2 import OAuth2Error
from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from sayso.fields import EXPIRY_CHOICES, grantable, plain_text
from sayso.shared.forms import flatten_errors

#: The one ``type`` of authorization details Sayso knows (metadata's
#: ``authorization_details_types_supported``).
DETAILS_TYPE = "sayso_field"
TYPES_SUPPORTED = [DETAILS_TYPE]
#: At most this many entries in one request (more than every field and permission).
MAX_DETAILS = 32
# RFC 6749 allows only these characters in error_description.
_NOT_ALLOWED = re.compile(r"[^\x20\x21\x23-\x5b\x5d-\x7e]")


class InvalidAuthorizationDetailsError(OAuth2Error):
    """RFC 9396 section 5: the ``authorization_details`` are malformed, of an unknown type,
    or ask for what the client may not have."""

    error = "invalid_authorization_details"

    def __init__(self, description: str, **kwargs):
        super().__init__(_NOT_ALLOWED.sub("?", description)[:500], **kwargs)


def access_of(name: str) -> str:
    """ "read" or "write": what a grant of ``name`` lets the brand do."""
    return grantable(name).scope.rpartition(":")[2]


def _known(name: str) -> None:
    if grantable(name) is None:
        raise ValidationError("Not a field or permission Sayso knows.")


class AuthorizationDetailSchema(Schema):
    """One entry of ``authorization_details`` of type ``sayso_field``."""

    type = fields.String(required=True, validate=validate.OneOf(TYPES_SUPPORTED))
    field = fields.String(required=True, validate=[validate.Length(max=64), _known])
    access = fields.String(required=True, validate=validate.OneOf(["read", "write"]))
    purpose = fields.String(required=True, validate=[validate.Length(min=3, max=280), plain_text])
    duration = fields.String(load_default="1y", validate=validate.OneOf(list(EXPIRY_CHOICES)))

    @validates_schema(skip_on_field_errors=True)
    def _access(self, data, **kwargs):
        if access_of(data["field"]) != data["access"]:
            raise ValidationError(f"Must be {access_of(data['field'])} for this field.", "access")


def _decoded(raw) -> list:
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except (ValueError, RecursionError):
            raise InvalidAuthorizationDetailsError("Not valid JSON.") from None
    if not isinstance(raw, list) or not raw:
        raise InvalidAuthorizationDetailsError("Must be a non-empty JSON array of objects.")
    if len(raw) > MAX_DETAILS:
        raise InvalidAuthorizationDetailsError(f"At most {MAX_DETAILS} entries.")
    return raw


def parse(raw, client) -> dict[str, dict] | None:
    """The entries of ``raw`` (the request's ``authorization_details``: JSON text, or
    ``None`` when the request has none), by name, in the order asked, checked against what
    ``client`` registered. Raises :class:`InvalidAuthorizationDetailsError`."""
    if raw is None:
        return None
    entries = _decoded(raw)
    try:
        loaded = AuthorizationDetailSchema(many=True).load(entries)
    except ValidationError as exc:
        lines = flatten_errors(exc.messages, rows=lambda i: f"Entry {i + 1}", plain=False)
        raise InvalidAuthorizationDetailsError(" ".join(lines)) from None
    registered = client.scope_purposes
    shared = set(client.third_party_scopes)
    asked: dict[str, dict] = {}
    for position, entry in enumerate(loaded, start=1):
        name = entry["field"]
        scope = grantable(name).scope
        where = f"Entry {position} ({name})"
        if name in asked:
            raise InvalidAuthorizationDetailsError(f"{where}: asked for twice.")
        if scope not in registered:
            raise InvalidAuthorizationDetailsError(f"{where}: no purpose registered for {scope}.")
        if scope in shared:
            raise InvalidAuthorizationDetailsError(
                f"{where}: Sayso does not allow passing consumers' data to third parties."
            )
        if entry["purpose"].strip() != registered[scope]:
            raise InvalidAuthorizationDetailsError(
                f"{where}: purpose must repeat the purpose registered for {scope}."
            )
        asked[name] = {**entry, "purpose": registered[scope]}
    return asked


def view_of(grant) -> dict | None:
    """What the consumer lets the brand see of a field it reads (everything, top level, top
    N, noised: ``sayso/coarsening.py``), as granted details carry it; ``None`` for a
    permission, or a grant that has no view."""
    view = getattr(grant, "coarse_view", None)
    if view is None or access_of(grant.field) != "read":
        return None
    return view.as_json()


def sealed(names, grants: dict) -> list:
    """What an authorization code carries of the granted entries: ``[name, expires_at (Unix
    seconds or null), view]`` for each of ``names`` granted in ``grants`` (by name)."""
    return [
        [
            name,
            int(grants[name].expires_at.timestamp()) if grants[name].expires_at else None,
            view_of(grants[name]),
        ]
        for name in names
        if name in grants
    ]


def granted_from_seal(entries: list, purposes: dict[str, str]) -> list[dict]:
    """The granted details of a code's sealed entries, with the client's registered
    ``purposes`` (by scope)."""
    return [
        _granted(name, purposes.get(grantable(name).scope, ""), expires, view)
        for name, expires, view in entries
        if grantable(name) is not None
    ]


def granted_from_grants(names, grants: dict) -> list[dict]:
    """The granted details of ``names`` (those asked as details) that are live in
    ``grants`` (by name), as the grants say now."""
    return [
        _granted(
            name,
            grants[name].purpose,
            int(grants[name].expires_at.timestamp()) if grants[name].expires_at else None,
            view_of(grants[name]),
        )
        for name in names
        if name in grants
    ]


def _granted(name: str, purpose: str, expires: int | None, view: dict | None) -> dict:
    detail = {
        "type": DETAILS_TYPE,
        "field": name,
        "access": access_of(name),
        "purpose": purpose,
        # When the grant ends (RFC 3339, UTC); null: until the consumer revokes it.
        "expires_at": (
            datetime.fromtimestamp(expires, UTC).isoformat().replace("+00:00", "Z")
            if expires is not None
            else None
        ),
    }
    if view is not None:
        detail["view"] = view
    return detail


def stored_names(column: str | None) -> list[str] | None:
    """The names a token row keeps of its details (``services/tokens.py``), or None for a
    token of scopes only."""
    return json.loads(column) if column else None


#: The durations as the consent page says them.
DURATION_LABELS = {"30d": "30 days", "1y": "1 year", "never": "until you revoke it"}


def chosen_durations(form, details: dict[str, dict]) -> dict[str, str]:
    """The expiry the consumer chose on the consent page for each entry (input
    ``expiry-<name>``), the duration the brand asked for when none is posted. Raises
    ``ValidationError`` for one that is not a choice."""
    schema = Schema.from_dict(
        {
            f"expiry-{name}": fields.String(
                load_default=detail["duration"],
                validate=validate.OneOf(list(EXPIRY_CHOICES)),
            )
            for name, detail in details.items()
        }
    )()
    posted = {
        f"expiry-{name}": form[f"expiry-{name}"] for name in details if f"expiry-{name}" in form
    }
    return {key.removeprefix("expiry-"): value for key, value in schema.load(posted).items()}
