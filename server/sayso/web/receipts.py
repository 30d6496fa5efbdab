"""Consent receipts as pages people read and print, with the signed JSON a click away."""

from flask import abort, jsonify, render_template, request
from flask_login import current_user
from marshmallow import EXCLUDE

from sayso import services
from sayso.auth import consumer_required
from sayso.schemas.rights import SEQ_RANGE, ReceiptQuerySchema, ReceiptSchema
from sayso.services.access_history import zone_of
from sayso.services.receipts import readable
from sayso.web.blueprint import bp


@bp.get("/receipts")
@consumer_required
def receipts_page():
    """Every consent receipt of the consumer (or of one brand, ``?brand_id=``), newest first."""
    query = ReceiptQuerySchema(unknown=EXCLUDE).load(request.args)
    brand = None
    if "brand_id" in query:
        brand = services.brands().by_public_id(query["brand_id"])
        if brand is None:
            abort(404)
    receipts = services.receipts().for_account(current_user, query.get("brand_id"))
    zone = zone_of(current_user)
    return render_template(
        "receipts.html",
        brand=brand,
        receipts=[readable(r, zone) for r in reversed(receipts)],
        zone=zone.key if zone else None,
    )


def _receipt_or_404(seq: int) -> dict:
    if not SEQ_RANGE.min <= seq <= SEQ_RANGE.max:
        abort(404)
    receipt = services.receipts().one(current_user, seq)
    if receipt is None:
        abort(404)
    return receipt


@bp.get("/receipts/<int:seq>")
@consumer_required
def receipt(seq: int):
    """One consent receipt: what was agreed or withdrawn, with whom and when, and how to
    check it."""
    signed = _receipt_or_404(seq)
    zone = zone_of(current_user)
    return render_template(
        "receipt.html", receipt=readable(signed, zone), zone=zone.key if zone else None
    )


@bp.get("/receipts/<int:seq>.json")
@consumer_required
def receipt_json(seq: int):
    """One consent receipt as signed JSON, to keep or to check with the published key."""
    response = jsonify(ReceiptSchema().dump(_receipt_or_404(seq)))
    response.headers["Content-Disposition"] = f'attachment; filename="sayso-receipt-{seq}.json"'
    return response
