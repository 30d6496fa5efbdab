"""Contact policy checks and contact reports, as brands send and get them."""

from __future__ import annotations

from datetime import timedelta

from marshmallow import Schema, ValidationError, fields, validate, validates

from sayso.about_fields import MESSAGE_KINDS
from sayso.fields import CHANNELS
from sayso.shared.clock import utcnow

#: How far ahead of our clock a brand's ``sent_at`` may be (clocks drift a little).
CLOCK_SKEW = timedelta(minutes=5)
#: How long after sending a contact may still be reported: a week's cap is long settled.
REPORT_WITHIN = timedelta(days=365)


def _kind(description: str) -> fields.String:
    return fields.String(
        validate=validate.OneOf(
            list(MESSAGE_KINDS), error=f"Not a kind of message: {', '.join(MESSAGE_KINDS)}."
        ),
        metadata={"enum": list(MESSAGE_KINDS), "description": description},
    )


class ContactPolicyQuerySchema(Schema):
    """The query of ``GET /api/v1/contact-policy``."""

    channel = fields.String(required=True, validate=validate.OneOf(CHANNELS))
    kind = _kind(
        "The kind of message about to be sent; the token then needs `hear_about:read` too, "
        "granted by the consumer. A kind they did not ask to hear about is refused."
    )


class ContactPolicySchema(Schema):
    """Whether the brand may contact the consumer on the channel now, and if not, when."""

    allowed = fields.Boolean(required=True)
    reason = fields.String(
        required=True,
        metadata={
            "enum": [
                "ok",
                "kind_not_wanted",
                "channel_not_permitted",
                "weekly_cap_reached",
                "quiet_hours",
            ],
            "description": "`ok`, or why not.",
        },
    )
    next_allowed_at = fields.String(
        allow_none=True,
        metadata={
            "format": "date-time",
            "description": "When a contact would next be allowed (UTC); `null` when the "
            "consumer does not allow the channel, or want the kind of message, at all.",
        },
    )


class ContactReportSchema(Schema):
    """A contact the brand made: on which channel, when, and (optionally) what kind."""

    channel = fields.String(required=True, validate=validate.OneOf(CHANNELS))
    sent_at = fields.AwareDateTime(
        required=True,
        metadata={
            "description": "When it was sent, with a UTC offset: in the last 365 days, and "
            "at most 5 minutes ahead of Sayso's clock."
        },
    )
    kind = _kind(
        "What kind of message it was. One of a kind the consumer did not ask to hear about "
        "from this brand (`hear_about`) is a breach; without it, only the channel is checked."
    )

    @validates("sent_at")
    def _not_in_the_future_nor_long_ago(self, value, **kwargs):
        now = utcnow()
        if value > now + CLOCK_SKEW:
            raise ValidationError("A contact cannot be reported before it is sent.")
        if value < now - REPORT_WITHIN:
            raise ValidationError("A contact sent more than a year ago cannot be reported.")


class ContactRecordedSchema(Schema):
    """The contact as recorded: a breach if it went beyond the consumer's preferences."""

    id = fields.Integer(required=True)
    channel = fields.String(required=True)
    sent_at = fields.AwareDateTime(required=True)
    kind = fields.String(allow_none=True, metadata={"description": "The kind reported, or `null`."})
    breach = fields.Boolean(required=True)
    reason = fields.String(required=True)
