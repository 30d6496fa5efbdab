"""``/api/v1/me/grants``: the consumer's grants, and revoking them."""

from flask import abort, jsonify, request

from sayso import services
from sayso.api.blueprint import bp
from sayso.api.body import load_json
from sayso.auth import consent_manager_required, current_consumer
from sayso.coarsening import COARSENABLE
from sayso.fields import grantable
from sayso.schemas.consent import BrandGrantsSchema, GrantBodySchema
from sayso.shared.clock import utcnow


@bp.get("/me/grants")
@consent_manager_required
def list_grants():
    """Each brand with its grants (current and past) and when it last read.
    ---
    get:
      tags: [grants]
      security: [{session: []}, {oauth2: [consent:manage]}]
      responses:
        200:
          description: One entry per brand that holds or held a grant, by brand name.
          content:
            application/json:
              schema: {type: array, items: BrandGrants}
        401: Unauthorized
        403: Forbidden
    """
    now = utcnow()
    entries = services.consent().overview(current_consumer())
    return jsonify(BrandGrantsSchema(many=True, context_now=now).dump(entries))


def _brand_or_404(brand_id: str):
    brand = services.brands().by_public_id(brand_id)
    if brand is None:
        abort(404, "No such brand.")
    return brand


def _brand_and_grantable_or_404(brand_id: str, field: str):
    """The brand, once ``field`` names a field or permission grants can be stored under."""
    brand = _brand_or_404(brand_id)
    if grantable(field) is None:
        abort(404, f"No field or permission named {field!r}.")
    return brand


@bp.delete("/me/grants")
@consent_manager_required
def revoke_everything():
    """Revoke every grant of every brand.
    ---
    delete:
      tags: [grants]
      security: [{session: [], csrf: []}, {oauth2: [consent:manage]}]
      responses:
        200:
          description: What was revoked, by brand.
          content: {application/json: {schema: Revoked}}
        400: BadRequest
        401: Unauthorized
        403: Forbidden
    """
    return jsonify({"revoked": services.consent().revoke_everything(current_consumer())})


@bp.delete("/me/grants/<brand_id>")
@consent_manager_required
def revoke_brand(brand_id: str):
    """Revoke every field one brand holds.
    ---
    delete:
      tags: [grants]
      security: [{session: [], csrf: []}, {oauth2: [consent:manage]}]
      parameters: [BrandId]
      responses:
        200:
          description: What was revoked (an empty list when nothing was live).
          content: {application/json: {schema: Revoked}}
        400: BadRequest
        401: Unauthorized
        403: Forbidden
        404: NotFound
    """
    revoked = services.consent().revoke(current_consumer(), _brand_or_404(brand_id))
    return jsonify({"revoked": {brand_id: revoked}})


@bp.delete("/me/grants/<brand_id>/<field>")
@consent_manager_required
def revoke_field(brand_id: str, field: str):
    """Revoke one field of one brand.
    ---
    delete:
      tags: [grants]
      security: [{session: [], csrf: []}, {oauth2: [consent:manage]}]
      parameters: [BrandId, Field]
      responses:
        200:
          description: What was revoked (an empty list when it was not live).
          content: {application/json: {schema: Revoked}}
        400: BadRequest
        401: Unauthorized
        403: Forbidden
        404: NotFound
    """
    brand = _brand_and_grantable_or_404(brand_id, field)
    revoked = services.consent().revoke(current_consumer(), brand, [field])
    return jsonify({"revoked": {brand_id: revoked}})


@bp.post("/me/grants/<brand_id>/<field>")
@consent_manager_required
def grant_field(brand_id: str, field: str):
    """Grant one field to one brand at once, with the purpose the brand declared for it.
    ---
    post:
      tags: [grants]
      description: >-
        The browser extension's toggle. The grant lasts a year, like the consent page's
        default; the purpose is the one the brand declared on its client for the field.
        An optional body says how much of the field the brand may see (`view`, for
        interests and browsing categories only); without one, a field granted before
        keeps the view it had, and a new grant shares everything.
      security: [{session: [], csrf: []}, {oauth2: [consent:manage]}]
      parameters: [BrandId, Field]
      requestBody:
        required: false
        content: {application/json: {schema: GrantBody}}
      responses:
        200:
          description: What was granted, by brand.
          content: {application/json: {schema: Granted}}
        400: BadRequest
        401: Unauthorized
        403: Forbidden
        404: NotFound
        415: UnsupportedMediaType
        422: ValidationFailed
    """
    brand = _brand_and_grantable_or_404(brand_id, field)
    view = load_json(GrantBodySchema())["view"] if request.content_length else None
    if view is not None and not view.is_all and field not in COARSENABLE:
        abort(422, f"{grantable(field).label} is always shared whole.")
    client = services.consent().grant_field(current_consumer(), brand, field, via="api", view=view)
    if client is None:
        abort(404, f"{brand.name} never asked for {field}.")
    return jsonify({"granted": {brand_id: [field]}})
