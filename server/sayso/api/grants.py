"""``/api/v1/me/grants``: the consumer's grants, and revoking them."""

from flask import abort, jsonify
from flask_login import current_user

from sayso import services
from sayso.api import bp
from sayso.auth import consumer_required
from sayso.fields import FIELDS
from sayso.models._types import utcnow
from sayso.schemas.consent import BrandGrantsSchema


@bp.get("/me/grants")
@consumer_required
def list_grants():
    """Each brand with its grants (current and past) and when it last read.
    ---
    get:
      tags: [grants]
      security: [{session: []}]
      responses:
        200:
          description: One entry per brand that holds or held a grant, by brand name.
          content:
            application/json:
              schema: {type: array, items: BrandGrants}
        401: Unauthorized
    """
    now = utcnow()
    entries = services.consent().overview(current_user)
    return jsonify(BrandGrantsSchema(many=True, context_now=now).dump(entries))


def _brand_or_404(brand_id: str):
    brand = services.brands().by_public_id(brand_id)
    if brand is None:
        abort(404, "No such brand.")
    return brand


@bp.delete("/me/grants")
@consumer_required
def revoke_everything():
    """Revoke every grant of every brand.
    ---
    delete:
      tags: [grants]
      security: [{session: [], csrf: []}]
      responses:
        200:
          description: What was revoked, by brand.
          content: {application/json: {schema: Revoked}}
        400: BadRequest
        401: Unauthorized
    """
    return jsonify({"revoked": services.consent().revoke_everything(current_user)})


@bp.delete("/me/grants/<brand_id>")
@consumer_required
def revoke_brand(brand_id: str):
    """Revoke every field one brand holds.
    ---
    delete:
      tags: [grants]
      security: [{session: [], csrf: []}]
      parameters: [BrandId]
      responses:
        200:
          description: What was revoked (an empty list when nothing was live).
          content: {application/json: {schema: Revoked}}
        400: BadRequest
        401: Unauthorized
        404: NotFound
    """
    revoked = services.consent().revoke(current_user, _brand_or_404(brand_id))
    return jsonify({"revoked": {brand_id: revoked}})


@bp.delete("/me/grants/<brand_id>/<field>")
@consumer_required
def revoke_field(brand_id: str, field: str):
    """Revoke one field of one brand.
    ---
    delete:
      tags: [grants]
      security: [{session: [], csrf: []}]
      parameters: [BrandId, Field]
      responses:
        200:
          description: What was revoked (an empty list when it was not live).
          content: {application/json: {schema: Revoked}}
        400: BadRequest
        401: Unauthorized
        404: NotFound
    """
    brand = _brand_or_404(brand_id)
    if field not in FIELDS:
        abort(404, f"No disclosure field named {field!r}.")
    revoked = services.consent().revoke(current_user, brand, [field])
    return jsonify({"revoked": {brand_id: revoked}})
