"""The consumer's Brands page: who can see what, the revoke buttons, receipts and reads."""

from flask import abort, flash, jsonify, redirect, render_template, request, url_for
from flask_login import current_user
from marshmallow import EXCLUDE

from sayso import services
from sayso.auth import consumer_required
from sayso.fields import FIELDS, PERMISSIONS, grantable
from sayso.models._types import utcnow
from sayso.schemas.rights import AccessHistoryQuerySchema, ReceiptSchema
from sayso.web import bp

ACCESS_PAGE_SIZE = 50


@bp.get("/brands")
@consumer_required
def brands():
    """Every brand with a grant, its fields, purposes, dates and last read."""
    return render_template(
        "brands.html",
        entries=services.consent().overview(current_user),
        fields={**FIELDS, **PERMISSIONS},
        contacts=services.contacts().this_week_by_brand(current_user),
        now=utcnow(),
    )


def _brand_or_404(public_id: str):
    brand = services.brands().by_public_id(public_id)
    if brand is None:
        abort(404)
    return brand


@bp.post("/brands/<brand_id>/revoke")
@consumer_required
def revoke_brand(brand_id: str):
    """Revoke every field of one brand."""
    brand = _brand_or_404(brand_id)
    services.consent().revoke(current_user, brand)
    flash(f"{brand.name} can no longer see anything of yours.")
    return redirect(url_for("web.brands"))


@bp.post("/brands/<brand_id>/fields/<field>/revoke")
@consumer_required
def revoke_field(brand_id: str, field: str):
    """Revoke one field of one brand."""
    brand = _brand_or_404(brand_id)
    if grantable(field) is None:
        abort(404)
    services.consent().revoke(current_user, brand, [field])
    flash(f"{brand.name} can no longer see your {grantable(field).label.lower()}.")
    return redirect(url_for("web.brands"))


@bp.post("/brands/revoke-everything")
@consumer_required
def revoke_everything():
    """Revoke every grant of every brand."""
    services.consent().revoke_everything(current_user)
    flash("No brand can see anything of yours any more.")
    return redirect(url_for("web.brands"))


@bp.get("/brands/<brand_id>/receipts.json")
@consumer_required
def brand_receipts(brand_id: str):
    """Download the consent receipts of one brand (every grant and revoke), as JSON."""
    brand = _brand_or_404(brand_id)
    receipts = services.receipts().for_account(current_user, brand.public_id)
    response = jsonify(ReceiptSchema(many=True).dump(receipts))
    response.headers["Content-Disposition"] = (
        f'attachment; filename="sayso-receipts-{brand.public_id}.json"'
    )
    return response


@bp.get("/brands/<brand_id>/access")
@consumer_required
def brand_access(brand_id: str):
    """Who read what, and when: one brand's reads of the consumer's profile, newest first."""
    brand = _brand_or_404(brand_id)
    query = AccessHistoryQuerySchema(only=("before",), unknown=EXCLUDE).load(request.args)
    page = services.rights().access_history(
        current_user, brand.public_id, query.get("before"), ACCESS_PAGE_SIZE
    )
    return render_template("access_history.html", brand=brand, page=page, fields=FIELDS)
