"""``/api/v1/me/grants``: the consumer's grants, and revoking them."""

from flask import abort, jsonify
from flask_login import current_user, login_required

from sayso import services
from sayso.api import bp
from sayso.fields import FIELDS
from sayso.models._types import utcnow
from sayso.schemas.consent import BrandGrantsSchema


@bp.get("/me/grants")
@login_required
def list_grants():
    """Each brand with its grants (current and past) and when it last read."""
    now = utcnow()
    entries = services.consent().overview(current_user)
    return jsonify(BrandGrantsSchema(many=True, context_now=now).dump(entries))


def _brand_or_404(brand_id: str):
    brand = services.brands().by_public_id(brand_id)
    if brand is None:
        abort(404, "No such brand.")
    return brand


@bp.delete("/me/grants")
@login_required
def revoke_everything():
    """Revoke every grant of every brand."""
    return jsonify({"revoked": services.consent().revoke_everything(current_user)})


@bp.delete("/me/grants/<brand_id>")
@login_required
def revoke_brand(brand_id: str):
    """Revoke every field one brand holds."""
    revoked = services.consent().revoke(current_user, _brand_or_404(brand_id))
    return jsonify({"revoked": {brand_id: revoked}})


@bp.delete("/me/grants/<brand_id>/<field>")
@login_required
def revoke_field(brand_id: str, field: str):
    """Revoke one field of one brand."""
    brand = _brand_or_404(brand_id)
    if field not in FIELDS:
        abort(404, f"No disclosure field named {field!r}.")
    revoked = services.consent().revoke(current_user, brand, [field])
    return jsonify({"revoked": {brand_id: revoked}})
