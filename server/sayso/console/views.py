"""Console pages: events (search, detail, export), log status, activity, brands, erasures.

Every page needs a signed-in officer. Every view and every export is itself a ledger
event, committed before anything is shown or streamed: if it cannot be recorded, the
officer sees nothing. Input comes from the query string through ``schemas.console``; a
bad parameter is a readable 422 page.
"""

from __future__ import annotations

import re

from flask import (
    Response,
    abort,
    redirect,
    render_template,
    request,
    stream_with_context,
    url_for,
)
from flask_login import current_user
from marshmallow import ValidationError

from sayso import services
from sayso.charts import SERIES, daily_chart
from sayso.console.blueprint import bp
from sayso.console.event_names import grouped_types, plain_name
from sayso.extensions import login_manager
from sayso.ledger import EventType
from sayso.schemas.console import (
    LEDGER_ID_PATTERN,
    MAX_SEQ,
    ActivityRangeSchema,
    ErasureListSchema,
    EventSearchSchema,
    ExportSchema,
)
from sayso.security import writes_on_get
from sayso.services.accounts import actor_for
from sayso.services.audit_console import MAX_CHART_DAYS, BrandActivity
from sayso.services.ledger_export import ExportFilter
from sayso.shared.clock import utcnow
from sayso.shared.forms import flatten_errors

NOT_AN_OFFICER = (
    "The officer console is for Sayso's privacy officers, and this account is not one. "
    "An operator creates officer accounts with `sayso officers create`."
)
FILTER_NAMES = ("type", "brand", "subject", "since", "until")
EXPORT_TYPES = {"jsonl": "application/x-ndjson", "csv": "text/csv"}
_BRAND_ID = re.compile(LEDGER_ID_PATTERN)


@bp.before_request
def _officers_only():
    """Anonymous visitors sign in first; consumers and brand members get a 403."""
    if not current_user.is_authenticated:
        return login_manager.unauthorized()
    if current_user.role != "officer":
        abort(403, NOT_AN_OFFICER)
    return None


@bp.context_processor
def _event_names():
    """Console templates name event types as officers read them."""
    return {"plain_name": plain_name}


# The pages whose filters come back filled in when one of them is refused, and which form.
_FILTER_FORMS = {
    "console.events": "events",
    "console.export": "events",
    "console.activity": "range",
    "console.brand": "range",
}


@bp.errorhandler(ValidationError)
def _invalid(exc: ValidationError):
    """A bad query parameter: say which and why, with the form as the officer filled it
    in (so only the bad value needs correcting) and a way back."""
    messages = exc.messages if isinstance(exc.messages, dict) else {"_schema": exc.messages}
    return render_template(
        "console/invalid.html",
        errors=flatten_errors(messages),
        filters=_FILTER_FORMS.get(request.endpoint),
        form=_form(),
        event_types=grouped_types(),
        brands=services.audit_console().brands(),
    ), 422


def _actor() -> str:
    return actor_for(current_user)


def _query() -> dict:
    return request.args.to_dict()


def _export_filter(data: dict) -> ExportFilter:
    return ExportFilter(**{name: data.get(name) for name in FILTER_NAMES})


def _form() -> dict:
    """The filter boxes as the officer typed them, to fill the form in again."""
    form = {name: request.args.get(name, "") for name in FILTER_NAMES}
    form["own_views"] = request.args.get("own_views", "")
    return form


def _activity_range():
    schema = ActivityRangeSchema(today=utcnow().date(), max_days=MAX_CHART_DAYS)
    return schema.load_range(_query())


@bp.get("")
@writes_on_get  # the officer's view is itself recorded
def events():
    """Search the ledger by type, brand, subject and time; newest first, 50 a page. The
    officer's own page views are hidden unless asked for."""
    data = EventSearchSchema().load(_query())
    own_views = data.pop("own_views")
    filters = _export_filter(data)
    console = services.audit_console()
    actor = _actor()
    console.record_view(actor, "events", {**data, **({"own_views": True} if own_views else {})})
    page = console.search(filters, data.get("cursor"), hide_views_of=None if own_views else actor)
    form = _form()
    # What the export takes (the filters), and what the page links keep (and the box).
    active = {k: form[k] for k in FILTER_NAMES if form[k]}
    paging = {**active, **({"own_views": "yes"} if own_views else {})}
    return render_template(
        "console/events.html",
        page=page,
        form=form,
        active=active,
        paging=paging,
        own_views=own_views,
        cursor=data.get("cursor"),
        event_types=grouped_types(),
        brands=console.brands(),
        brand_names=console.brand_names({e["brand"] for e in page.events if e["brand"]}),
    )


@bp.get("/events/<int:seq>")
@writes_on_get  # the officer's view is itself recorded
def event(seq: int):
    """One event in full: every column, its bytes, its place in the log, and whether its
    inclusion proof verifies against the newest checkpoint."""
    if seq > MAX_SEQ:
        abort(404, "The ledger has no event with that sequence number.")
    console = services.audit_console()
    console.record_view(_actor(), "event", {"seq": seq})
    detail = console.event(seq)
    if detail is None:
        abort(404, "The ledger has no event with that sequence number.")
    brand = detail.record["brand"]
    return render_template(
        "console/event.html",
        detail=detail,
        brand_name=console.brand_names([brand]).get(brand) if brand else None,
    )


@bp.get("/export")
@writes_on_get  # the officer's download is itself recorded
def export():
    """Download the events a search would show, as JSON Lines (verifiable) or CSV."""
    data = ExportSchema().load(_query())
    fmt = data.pop("format")
    filters = _export_filter(data)
    console = services.audit_console()
    console.record_export(_actor(), filters, fmt)
    name = f"sayso-ledger-{utcnow():%Y-%m-%d}.{fmt}"
    return Response(
        stream_with_context(console.export(filters, fmt)),
        mimetype=EXPORT_TYPES[fmt],
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@bp.get("/log")
@writes_on_get  # the officer's view is itself recorded
def log():
    """Log status: the tree, what waits for it, the newest checkpoint, the witnesses."""
    console = services.audit_console()
    console.record_view(_actor(), "log", {})
    return render_template("console/log.html", status=console.log_status(), full=None)


@bp.post("/log/verify")
def verify_log():
    """Rebuild the tree from every entry and check it all now, and show the result."""
    console = services.audit_console()
    console.record_view(_actor(), "log_verify", {})
    full = console.verify_everything()
    return render_template("console/log.html", status=console.log_status(), full=full)


@bp.get("/chain")
def chain():
    """Where the chain status was, before the log replaced the hash chain."""
    return redirect(url_for("console.log"), 301)


@bp.get("/activity")
@writes_on_get  # the officer's view is itself recorded
def activity():
    """Grants, revokes and reads per brand per day, drawn as SVG bar charts."""
    since, until = _activity_range()
    console = services.audit_console()
    console.record_view(_actor(), "activity", {"since": since, "until": until})
    result = console.activity(since, until)
    days = result.days
    return render_template(
        "console/activity.html",
        activity=result,
        charts=[(entry, daily_chart(entry, days)) for entry in result.brands],
        series=SERIES,
    )


@bp.get("/brands")
@writes_on_get  # the officer's view is itself recorded
def brands():
    """Every registered brand, with a link to its view."""
    console = services.audit_console()
    console.record_view(_actor(), "brands", {})
    return render_template("console/brands.html", brands=console.brands())


@bp.get("/breaches")
@writes_on_get  # the officer's view is itself recorded
def breaches():
    """Brands that contacted consumers beyond their preferences, most breaches first."""
    services.audit_console().record_view(_actor(), "breaches", {})
    return render_template(
        "console/breaches.html", summaries=services.contacts().brands_with_breaches()
    )


@bp.get("/brands/<brand_id>")
@writes_on_get  # the officer's view is itself recorded
def brand(brand_id: str):
    """One brand: its totals, its activity chart, and the check that every read had a grant."""
    if not _BRAND_ID.fullmatch(brand_id):
        abort(404, "No brand has that id.")
    since, until = _activity_range()
    console = services.audit_console()
    console.record_view(_actor(), "brand", {"brand": brand_id, "since": since, "until": until})
    name = console.brand_names([brand_id]).get(brand_id)
    if name is None and not console.brand_has_events(brand_id):
        abort(404, "No brand has that id, and the ledger does not name it.")
    result = console.activity(since, until, brand=brand_id)
    entry = result.brands[0] if result.brands else BrandActivity(brand_id, name)
    return render_template(
        "console/brand.html",
        brand_id=brand_id,
        name=name,
        totals=console.brand_totals(brand_id),
        check=console.check_brand_reads(brand_id),
        activity=result,
        chart=daily_chart(entry, result.days),
        series=SERIES,
        search_url=url_for("console.events", brand=brand_id),
    )


@bp.get("/erasures")
@writes_on_get  # the officer's view is itself recorded
def erasures():
    """Every consumer erasure the ledger records, newest first."""
    data = ErasureListSchema().load(_query())
    console = services.audit_console()
    console.record_view(_actor(), "erasures", {**data})
    page = console.search(ExportFilter(type=str(EventType.ACCOUNT_ERASED)), data.get("cursor"))
    return render_template("console/erasures.html", page=page, cursor=data.get("cursor"))
