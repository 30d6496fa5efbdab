"""Questions brands write, and the answers consumers give, validated per kind."""

from __future__ import annotations

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from sayso.fields import StrictInteger, _topic, _unique, plain_text
from sayso.models.questions import QUESTION_KINDS
from sayso.shared.text import not_blank as _not_blank

CHOICE_KINDS = ("single", "multiple")
MAX_TEXT = 280


class QuestionSchema(Schema):
    """A question a brand writes in the portal."""

    kind = fields.String(required=True, validate=validate.OneOf(QUESTION_KINDS))
    prompt = fields.String(
        required=True, validate=[validate.Length(min=3, max=280), plain_text, _not_blank]
    )
    purpose = fields.String(
        required=True, validate=[validate.Length(min=3, max=280), plain_text, _not_blank]
    )
    why = fields.String(
        load_default=None, allow_none=True, validate=[validate.Length(max=280), plain_text]
    )
    options = fields.List(
        fields.String(validate=[validate.Length(min=1, max=64), plain_text, _not_blank]),
        load_default=list,
        validate=[validate.Length(max=12), _unique(lambda o: o.strip().casefold())],
    )

    @validates_schema
    def _options_fit_the_kind(self, data, **kwargs):
        options = data.get("options") or []
        if data.get("kind") in CHOICE_KINDS and len(options) < 2:
            raise ValidationError("Give at least two choices, one per line.", "options")
        if data.get("kind") not in CHOICE_KINDS and options:
            raise ValidationError("Only choice questions have choices.", "options")


def answer_field(kind: str, options: list[str]) -> fields.Field:
    """The marshmallow field that validates an answer to a question of ``kind``."""
    if kind == "single":
        return fields.String(required=True, validate=validate.OneOf(options))
    if kind == "multiple":
        return fields.List(
            fields.String(validate=validate.OneOf(options)),
            required=True,
            validate=[validate.Length(min=1, error="Choose at least one."), _unique(lambda o: o)],
        )
    if kind == "text":
        return fields.String(
            required=True,
            # No minimum length: _not_blank refuses "" too, so an empty answer gets one
            # message, not two.
            validate=[validate.Length(max=MAX_TEXT), plain_text, _not_blank],
        )
    return fields.List(
        StrictInteger(validate=_topic),
        required=True,
        validate=[
            validate.Length(min=1, max=10, error="Choose 1 to 10 topics."),
            _unique(lambda t: t),
        ],
    )


def load_answer(kind: str, options: list[str], value):
    """The answer, validated for its question; raises ``ValidationError`` otherwise."""
    schema = Schema.from_dict({"answer": answer_field(kind, options)}, name="AnswerSchema")()
    return schema.load({"answer": value})["answer"]


def _answer_shapes() -> list[fields.Field]:
    """Every shape an answer may have, whatever the question: a text (a single choice is a
    string too), a list of choices, a list of topic ids (for the OpenAPI document)."""
    option = QuestionSchema().fields["options"].inner
    return [
        answer_field("text", []),
        fields.List(option, validate=[validate.Length(min=1), _unique(lambda o: o)]),
        answer_field("topics", []),
    ]


class AnswerBodySchema(Schema):
    """An answer as the API takes it; its shape depends on the question's kind."""

    answer = fields.Raw(
        required=True,
        metadata={
            "description": "single: one choice (string); multiple: a list of choices; "
            "text: a string of 1 to 280 characters; topics: a list of 1 to 10 topic ids.",
            # Read by sayso/api/json_schema.py: the document says `anyOf` these.
            "any_of": _answer_shapes(),
        },
    )


class OpenQuestionSchema(Schema):
    """A published question of a brand the consumer grants anything, with their answer."""

    id = fields.Integer(required=True, attribute="question.id")
    brand_id = fields.String(required=True, attribute="brand.public_id")
    brand_name = fields.String(required=True, attribute="brand.name")
    kind = fields.String(required=True, attribute="question.kind")
    prompt = fields.String(required=True, attribute="question.prompt")
    purpose = fields.String(required=True, attribute="question.purpose")
    why = fields.String(required=True, allow_none=True, attribute="question.why")
    options = fields.List(fields.String(), required=True, attribute="question.options")
    answer = fields.Raw(
        required=True, allow_none=True, metadata={"description": "`null`: not answered."}
    )


class OpenQuestionsQuerySchema(Schema):
    """Which open questions to list."""

    brand_id = fields.String(
        validate=validate.Length(max=64), metadata={"description": "Only this brand's."}
    )
