"""Query parameters of the officer console: filters, cursors, export formats, chart ranges.

Unknown parameters are refused rather than ignored: an officer who mistypes a filter must
not be shown an unfiltered list that looks filtered.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from marshmallow import RAISE, Schema, ValidationError, fields, pre_load, validate, validates_schema

from sayso.models.types import MAX_INT64

# Event types are ``source:subject:action``; brand ids and pseudonyms are short tokens.
EVENT_TYPE = validate.Regexp(
    r"^[a-z_]{1,20}:[a-z_]{1,20}:[a-z_]{1,20}$",
    error="An event type looks like consent:grant:created.",
)
LEDGER_ID_PATTERN = r"^[A-Za-z0-9_.-]{1,64}$"
LEDGER_ID = validate.Regexp(
    LEDGER_ID_PATTERN, error="Use the id as the ledger shows it (letters, digits, _ . -)."
)
BAD_MOMENT = "Use an ISO date (2026-03-01) or date and time (2026-03-01T14:30:00Z)."
# Keyset cursors are sequence numbers, and ``seq`` is a 64-bit integer column: PostgreSQL
# refuses to compare it with a larger parameter, so larger cursors are refused here.
MAX_SEQ = MAX_INT64


class Moment(fields.Field):
    """An ISO date or date-time, returned as a UTC-aware datetime (naive input is UTC).

    With ``end_of_day``, a bare date means the end of that day (the next midnight), so
    ``until=2026-03-01`` includes the 1st of March.
    """

    def __init__(self, *, end_of_day: bool = False, **kwargs):
        super().__init__(**kwargs)
        self.end_of_day = end_of_day

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, str) or len(value) > 40:
            raise ValidationError(BAD_MOMENT)
        text = value.strip()
        try:
            try:
                day = date.fromisoformat(text)
            except ValueError:
                day = None
            if day is not None:
                moment = datetime(day.year, day.month, day.day, tzinfo=UTC)
                return moment + timedelta(days=1) if self.end_of_day else moment
            moment = datetime.fromisoformat(text)
            if moment.tzinfo is None:
                return moment.replace(tzinfo=UTC)
            return moment.astimezone(UTC)
        except (ValueError, OverflowError):
            raise ValidationError(BAD_MOMENT) from None


class _ConsoleQuery(Schema):
    """Blank parameters (an empty box in the filter form) count as absent."""

    class Meta:
        unknown = RAISE

    @pre_load
    def _drop_blanks(self, data, **kwargs):
        return {
            key: value.strip() if isinstance(value, str) else value
            for key, value in data.items()
            if not (isinstance(value, str) and not value.strip())
        }


class EventFilterSchema(_ConsoleQuery):
    """The filters shared by the event search and the export."""

    type = fields.String(validate=EVENT_TYPE)
    brand = fields.String(validate=LEDGER_ID)
    subject = fields.String(validate=LEDGER_ID)
    since = Moment()
    until = Moment(end_of_day=True)

    @validates_schema
    def _ordered(self, data, **kwargs):
        if data.get("since") and data.get("until") and data["since"] >= data["until"]:
            raise ValidationError("The start must be before the end.", "until")


class EventSearchSchema(EventFilterSchema):
    """The event search: filters, whether to show the officer's own page views (hidden by
    default: each search would otherwise list itself first), and the keyset cursor (show
    events below this seq)."""

    own_views = fields.Boolean(
        load_default=False,
        truthy={"yes"},
        falsy={"no"},
        error_messages={"invalid": "Tick the box, or leave it empty."},
    )

    cursor = fields.Integer(
        strict=False,
        validate=validate.Range(min=1, max=MAX_SEQ),
        error_messages={"invalid": "A cursor is a sequence number."},
    )


class ExportSchema(EventFilterSchema):
    """An export download: the search filters and a format."""

    format = fields.String(
        load_default="jsonl",
        validate=validate.OneOf(["jsonl", "csv"], error="Choose jsonl or csv."),
    )


class ErasureListSchema(_ConsoleQuery):
    """The erasure list pages like the search."""

    cursor = fields.Integer(
        strict=False,
        validate=validate.Range(min=1, max=MAX_SEQ),
        error_messages={"invalid": "A cursor is a sequence number."},
    )


class ActivityRangeSchema(_ConsoleQuery):
    """The days a chart covers (UTC dates, both included); the last 30 days by default."""

    since = fields.Date(validate=validate.Range(min=date(1970, 1, 1), max=date(9999, 12, 30)))
    until = fields.Date(validate=validate.Range(min=date(1970, 1, 1), max=date(9999, 12, 30)))

    def __init__(self, *, today: date, max_days: int, **kwargs):
        super().__init__(**kwargs)
        self.today = today
        self.max_days = max_days

    @validates_schema
    def _bounded(self, data, **kwargs):
        since, until = self._range(data)
        if since > until:
            raise ValidationError("The first day must not be after the last.", "until")
        if (until - since).days + 1 > self.max_days:
            raise ValidationError(f"Charts cover {self.max_days} days at most.", "since")

    def _range(self, data) -> tuple[date, date]:
        until = data.get("until") or self.today
        try:
            since = data.get("since") or until - timedelta(days=29)
        except OverflowError:
            raise ValidationError("Pick a first day.", "since") from None
        return since, until

    def load_range(self, params) -> tuple[date, date]:
        """The validated (first day, last day)."""
        return self._range(self.load(params))
