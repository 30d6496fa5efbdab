"""``/api/v1/me/disclosures``: read and change what the consumer volunteers."""

from flask import abort, jsonify
from marshmallow import ValidationError

from sayso import services
from sayso.api.blueprint import bp
from sayso.api.body import load_json
from sayso.auth import consent_manager_required, current_consumer
from sayso.fields import FIELDS
from sayso.schemas.disclosures import DisclosuresSchema, value_schema


def _field_or_404(field: str) -> str:
    if field not in FIELDS:
        abort(404, f"No disclosure field named {field!r}.")
    return field


@bp.get("/me/disclosures")
@consent_manager_required
def get_disclosures():
    """Every field the consumer has disclosed.
    ---
    get:
      tags: [disclosures]
      security: [{session: []}, {oauth2: [consent:manage]}]
      responses:
        200:
          description: The disclosed fields; a field not disclosed is absent.
          content: {application/json: {schema: Disclosures}}
        401: Unauthorized
        403: Forbidden
    """
    return jsonify(services.disclosures().read(current_consumer()))


@bp.put("/me/disclosures")
@consent_manager_required
def put_disclosures():
    """Replace the whole document: fields left out (or null) are deleted.
    ---
    put:
      tags: [disclosures]
      security: [{session: [], csrf: []}, {oauth2: [consent:manage]}]
      requestBody:
        required: true
        content: {application/json: {schema: Disclosures}}
      responses:
        200:
          description: The document as stored now.
          content: {application/json: {schema: Disclosures}}
        400: BadRequest
        401: Unauthorized
        403: Forbidden
        413: PayloadTooLarge
        415: UnsupportedMediaType
        422: ValidationFailed
    """
    document = load_json(DisclosuresSchema())
    service = services.disclosures()
    service.replace(current_consumer(), document)
    return jsonify(service.read(current_consumer()))


@bp.get("/me/disclosures/<field>")
@consent_manager_required
def get_disclosure(field: str):
    """One field's value, or 404 when it is not disclosed.
    ---
    get:
      tags: [disclosures]
      security: [{session: []}, {oauth2: [consent:manage]}]
      parameters: [Field]
      responses:
        200:
          description: The field's value.
          content: {application/json: {schema: FieldValue}}
        401: Unauthorized
        403: Forbidden
        404: NotFound
    """
    values = services.disclosures().read(current_consumer())
    if _field_or_404(field) not in values:
        abort(404, f"You have not disclosed {field}.")
    return jsonify({"value": values[field]})


@bp.put("/me/disclosures/<field>")
@consent_manager_required
def put_disclosure(field: str):
    """Set one field: the body is ``{"value": ...}``, in the field's own shape.
    ---
    put:
      tags: [disclosures]
      security: [{session: [], csrf: []}, {oauth2: [consent:manage]}]
      parameters: [Field]
      requestBody:
        required: true
        content: {application/json: {schema: FieldValue}}
      responses:
        200:
          description: The value as stored now.
          content: {application/json: {schema: FieldValue}}
        400: BadRequest
        401: Unauthorized
        403: Forbidden
        404: NotFound
        413: PayloadTooLarge
        415: UnsupportedMediaType
        422: ValidationFailed
    """
    value = load_json(value_schema(_field_or_404(field)))["value"]
    try:
        services.disclosures().update(current_consumer(), {field: value})
    except ValidationError as exc:  # a check against the consumer's grants, said of the body
        raise ValidationError({"value": exc.messages.get(field, exc.messages)}) from None
    return jsonify({"value": value})


@bp.delete("/me/disclosures/<field>")
@consent_manager_required
def delete_disclosure(field: str):
    """Delete one field.
    ---
    delete:
      tags: [disclosures]
      security: [{session: [], csrf: []}, {oauth2: [consent:manage]}]
      parameters: [Field]
      responses:
        204: {description: Deleted (or it was not disclosed).}
        400: BadRequest
        401: Unauthorized
        403: Forbidden
        404: NotFound
    """
    services.disclosures().update(current_consumer(), {_field_or_404(field): None})
    return "", 204
