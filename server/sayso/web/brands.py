"""The consumer's Brands page: who can see what, and the revoke buttons."""

from flask import abort, flash, redirect, render_template, url_for
from flask_login import current_user, login_required

from sayso import services
from sayso.fields import FIELDS
from sayso.models._types import utcnow
from sayso.web import bp


@bp.get("/brands")
@login_required
def brands():
    """Every brand with a grant, its fields, purposes, dates and last read."""
    return render_template(
        "brands.html",
        entries=services.consent().overview(current_user),
        fields=FIELDS,
        now=utcnow(),
    )


def _brand_or_404(public_id: str):
    brand = services.brands().by_public_id(public_id)
    if brand is None:
        abort(404)
    return brand


@bp.post("/brands/<brand_id>/revoke")
@login_required
def revoke_brand(brand_id: str):
    """Revoke every field of one brand."""
    brand = _brand_or_404(brand_id)
    services.consent().revoke(current_user, brand)
    flash(f"{brand.name} can no longer see anything of yours.")
    return redirect(url_for("web.brands"))


@bp.post("/brands/<brand_id>/fields/<field>/revoke")
@login_required
def revoke_field(brand_id: str, field: str):
    """Revoke one field of one brand."""
    brand = _brand_or_404(brand_id)
    if field not in FIELDS:
        abort(404)
    services.consent().revoke(current_user, brand, [field])
    flash(f"{brand.name} can no longer see your {FIELDS[field].label.lower()}.")
    return redirect(url_for("web.brands"))


@bp.post("/brands/revoke-everything")
@login_required
def revoke_everything():
    """Revoke every grant of every brand."""
    services.consent().revoke_everything(current_user)
    flash("No brand can see anything of yours any more.")
    return redirect(url_for("web.brands"))
