"""The consumer's Brands page: who can see what, the revoke buttons, receipts and reads."""

from datetime import UTC
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flask import abort, current_app, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user
from marshmallow import EXCLUDE, ValidationError

from sayso import services
from sayso.auth import consumer_required
from sayso.coarsening import COARSENABLE, choice_label, choices_for, describe
from sayso.fields import FIELDS, PERMISSIONS, channel_label, grantable
from sayso.i18n import in_sentence
from sayso.schemas.consent import (
    ConfirmSchema,
    ConsentDecisionSchema,
    UndoSchema,
    ViewChangeSchema,
)
from sayso.schemas.rights import AccessHistoryQuerySchema, ReceiptSchema
from sayso.services.consent_undo import UNDO_WINDOW, NothingToUndo
from sayso.shared.clock import utcnow
from sayso.web.blueprint import bp

ACCESS_PAGE_SIZE = 50


def _zone():
    """The consumer's own time zone for the times on these pages (UTC if none is set)."""
    try:
        return ZoneInfo(current_user.time_zone) if current_user.time_zone else UTC
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return UTC


@bp.get("/brands")
@consumer_required
def brands():
    """Every brand with a grant, its fields, purposes, dates and last read; after a revoke
    (``?undo=<when>``), the offer to undo it while it may be."""
    try:
        revoked_at = UndoSchema(unknown=EXCLUDE).load(request.args).get("revoked_at")
    except ValidationError:
        revoked_at = None
    consent = services.consent()
    entries = consent.overview(current_user)
    now = utcnow()
    return render_template(
        "brands.html",
        entries=entries,
        any_live=any(e.live(now) for e in entries),
        undo=consent.undoable(current_user, revoked_at) if revoked_at else None,
        undo_minutes=int(UNDO_WINDOW.total_seconds() // 60),
        fields={**FIELDS, **PERMISSIONS},
        contacts=services.contacts().this_week_by_brand(current_user),
        channel_label=channel_label,
        # What each brand may see of a field shared as less than everything, and the choices.
        coarsenable=COARSENABLE,
        view_choices=choices_for,
        describe=describe,
        choice_label=choice_label,
        # The readable receipts page, where the app has one (the JSON is always there).
        receipts_page="web.receipts_page"
        if "web.receipts_page" in current_app.view_functions
        else None,
        now=now,
        zone=_zone(),
    )


def _brand_or_404(public_id: str):
    brand = services.brands().by_public_id(public_id)
    if brand is None:
        abort(404)
    return brand


def _with_undo(revoked_at):
    """Back to the Brands page, which offers to undo the revoke stamped ``revoked_at``."""
    return redirect(url_for("web.brands", undo=revoked_at.isoformat()))


def _confirmed() -> bool:
    try:
        return ConfirmSchema(unknown=EXCLUDE).load(request.form).get("confirm") == "yes"
    except ValidationError:
        return False


def _confirm_page(entries, brand=None):
    return render_template(
        "brands_confirm.html",
        entries=[e for e in entries if e.live(utcnow())],  # only what a revoke would end
        brand=brand,
        fields={**FIELDS, **PERMISSIONS},
        undo_minutes=int(UNDO_WINDOW.total_seconds() // 60),
        now=utcnow(),
    )


@bp.get("/brands/<brand_id>/revoke")
@consumer_required
def confirm_revoke_brand(brand_id: str):
    """Ask before revoking every field of one brand, naming what will end."""
    brand = _brand_or_404(brand_id)
    entries = [e for e in services.consent().overview(current_user) if e.brand.id == brand.id]
    return _confirm_page(entries, brand)


@bp.post("/brands/<brand_id>/revoke")
@consumer_required
def revoke_brand(brand_id: str):
    """Revoke every field of one brand, once confirmed on its confirmation page."""
    brand = _brand_or_404(brand_id)
    if not _confirmed():
        return redirect(url_for("web.confirm_revoke_brand", brand_id=brand.public_id))
    now = utcnow()
    if services.consent().revoke(current_user, brand, now=now):
        flash(_("%(brand)s can no longer see anything of yours.", brand=brand.name))
    return _with_undo(now)


@bp.post("/brands/<brand_id>/fields/<field>/revoke")
@consumer_required
def revoke_field(brand_id: str, field: str):
    """Revoke one field of one brand (undoable for a while)."""
    brand = _brand_or_404(brand_id)
    if grantable(field) is None:
        abort(404)
    now = utcnow()
    if services.consent().revoke(current_user, brand, [field], now=now):
        flash(
            _(
                "%(brand)s can no longer see your %(field)s.",
                brand=brand.name,
                field=in_sentence(grantable(field).label),
            )
        )
    return _with_undo(now)


@bp.get("/brands/revoke-everything")
@consumer_required
def confirm_revoke_everything():
    """Ask before revoking everything, naming each brand and what it will lose."""
    return _confirm_page(services.consent().overview(current_user))


@bp.post("/brands/revoke-everything")
@consumer_required
def revoke_everything():
    """Revoke every grant of every brand, once confirmed on the confirmation page."""
    if not _confirmed():
        return redirect(url_for("web.confirm_revoke_everything"))
    now = utcnow()
    if services.consent().revoke_everything(current_user, now=now):
        flash(_("No brand can see anything of yours any more."))
    return _with_undo(now)


@bp.post("/brands/undo")
@consumer_required
def undo_revoke():
    """Grant again what one revoke ended, within the undo window (a new grant, on the
    ledger as such: see ``ConsentService.undo_revoke``)."""
    try:
        revoked_at = UndoSchema().load({"undo": request.form.get("undo", "")})["revoked_at"]
        undone = services.consent().undo_revoke(current_user, revoked_at)
    except (ValidationError, NothingToUndo):
        minutes = int(UNDO_WINDOW.total_seconds() // 60)
        flash(
            ngettext(
                "That revoke can no longer be undone (undo lasts %(num)s minute, and only "
                "while nothing was granted or revoked again since). You can grant a field "
                "again below.",
                "That revoke can no longer be undone (undo lasts %(num)s minutes, and only "
                "while nothing was granted or revoked again since). You can grant a field "
                "again below.",
                minutes,
            )
        )
        return redirect(url_for("web.brands"))
    count = sum(len(names) for names in undone.values())
    flash(
        ngettext(
            "Undone: %(num)s revoked field is granted again.",
            "Undone: %(num)s revoked fields are granted again.",
            count,
        )
    )
    return redirect(url_for("web.brands"))


def _declaring_client(brand, field: str):
    """The brand's client that declared a purpose for ``field`` (what it registered, never
    what a form says); 404 when the brand never asked for it."""
    client = services.brands().client_declaring(brand, field) if grantable(field) else None
    if client is None:
        abort(404)
    return client


@bp.route("/brands/<brand_id>/fields/<field>/grant", methods=["GET", "POST"])
@consumer_required
def grant_again(brand_id: str, field: str):
    """Grant one field again through a consent step: the brand's declared purpose and
    what it would get, then a grant recorded like any other."""
    brand = _brand_or_404(brand_id)
    client = _declaring_client(brand, field)
    if request.method == "GET":
        purposes = {field: client.scope_purposes[grantable(field).scope]}
        # Granted again, a field keeps the view it had: the preview shows that view.
        before = services.consent().grant_of(current_user.id, brand.id, field)
        views = {field: before.coarse_view} if before is not None else None
        return render_template(
            "regrant.html",
            brand=brand,
            client=client,
            preview=services.share_preview().preview(current_user, brand, purposes, views)[0],
            view_words=describe(views[field], field) if views else None,
            expiry="1y",
        )
    try:
        decision = ConsentDecisionSchema(only=("decision", "expiry")).load(
            {
                "decision": request.form.get("decision", ""),
                "expiry": request.form.get("expiry", "1y"),
            }
        )
    except ValidationError:
        abort(422)
    if decision["decision"] != "allow":
        flash(
            _(
                "Nothing changed: %(brand)s still cannot see your %(field)s.",
                brand=brand.name,
                field=in_sentence(grantable(field).label),
            )
        )
        return redirect(url_for("web.brands"))
    services.consent().grant_field(current_user, brand, field, decision["expiry"], via="web")
    flash(
        _(
            "%(brand)s can see your %(field)s again.",
            brand=brand.name,
            field=in_sentence(grantable(field).label),
        )
    )
    return redirect(url_for("web.brands"))


@bp.post("/brands/<brand_id>/fields/<field>/view")
@consumer_required
def change_view(brand_id: str, field: str):
    """Change how much of a field a brand with a live grant of it sees (a ledger grant
    event with the new view; purpose, client and expiry stay)."""
    brand = _brand_or_404(brand_id)
    if field not in COARSENABLE:
        abort(404)
    try:
        view = ViewChangeSchema().load({"view": request.form.get("view", "")})["view"]
    except ValidationError:
        abort(422)
    label = in_sentence(grantable(field).label)
    grant = services.consent().change_view(current_user, brand, field, view, via="web")
    if grant is None:
        flash(
            _(
                "%(brand)s cannot see your %(field)s any more: nothing to change.",
                brand=brand.name,
                field=label,
            )
        )
    else:
        flash(
            _(
                "%(brand)s now sees your %(field)s this way: %(view)s.",
                brand=brand.name,
                field=label,
                view=in_sentence(describe(view, field)),
            )
        )
    return redirect(url_for("web.brands") + f"#brand-{brand.public_id}")


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
    summary = services.access_history().summary(current_user, brand.public_id, query.get("before"))
    return render_template("access_history.html", brand=brand, summary=summary)
