"""``/api/v1/me/disclosures``: read and change what the consumer volunteers."""

from flask import abort, jsonify
from flask_login import current_user, login_required

from sayso import services
from sayso.api import bp
from sayso.api.body import load_json
from sayso.fields import FIELDS
from sayso.schemas.disclosures import DisclosuresSchema, value_schema


def _field_or_404(field: str) -> str:
    if field not in FIELDS:
        abort(404, f"No disclosure field named {field!r}.")
    return field


@bp.get("/me/disclosures")
@login_required
def get_disclosures():
    """Every field the consumer has disclosed."""
    return jsonify(services.disclosures().read(current_user))


@bp.put("/me/disclosures")
@login_required
def put_disclosures():
    """Replace the whole document: fields left out (or null) are deleted."""
    document = load_json(DisclosuresSchema())
    service = services.disclosures()
    service.replace(current_user, document)
    return jsonify(service.read(current_user))


@bp.get("/me/disclosures/<field>")
@login_required
def get_disclosure(field: str):
    """One field's value, or 404 when it is not disclosed."""
    values = services.disclosures().read(current_user)
    if _field_or_404(field) not in values:
        abort(404, f"You have not disclosed {field}.")
    return jsonify({"value": values[field]})


@bp.put("/me/disclosures/<field>")
@login_required
def put_disclosure(field: str):
    """Set one field: the body is ``{"value": [...]}``."""
    value = load_json(value_schema(_field_or_404(field)))["value"]
    services.disclosures().update(current_user, {field: value})
    return jsonify({"value": value})


@bp.delete("/me/disclosures/<field>")
@login_required
def delete_disclosure(field: str):
    """Delete one field."""
    services.disclosures().update(current_user, {_field_or_404(field): None})
    return "", 204
