"""Input of the interests page (the topic browser) and the channels page."""

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from sayso.fields import plain_text
from sayso.taxonomy import is_topic
from sayso.time_zones import TimeZone


def _topic(value: int) -> None:
    if not is_topic(value):
        raise ValidationError("That is not one of the topics. Choose one from the list.")


class BrowseSchema(Schema):
    """Where the browser is: a category opened (``category``) and/or a search (``q``).
    Anything unreadable is dropped, not refused: a stale link still shows the page."""

    category = fields.Integer(load_default=None, validate=_topic)
    q = fields.String(load_default="", validate=validate.Length(max=100))


class InterestChoiceSchema(Schema):
    """One interest to add or remove: a topic, or a few words of the consumer's own."""

    topic = fields.Integer(validate=_topic)
    text = fields.String(
        validate=[
            validate.Length(max=64, error="Use at most 64 characters."),
            plain_text,
        ]
    )

    @validates_schema
    def _one(self, data, **kwargs):
        if "topic" not in data and not (data.get("text") or "").strip():
            raise ValidationError("Please write a few words, or choose a topic.", "text")


class ChannelsPageSchema(Schema):
    """The channels page's own input besides the channels: the consumer's time zone."""

    time_zone = TimeZone(load_default=None)
