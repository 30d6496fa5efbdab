"""Small forms of the brand portal (the client form itself is ``brands.ClientSchema``)."""

from marshmallow import Schema, fields, validate

from sayso.shared.text import plain_text


def _purposes() -> fields.Dict:
    """One language's purposes, scope by scope: checked like the brand's own words."""
    return fields.Dict(
        keys=fields.String(),
        values=fields.String(validate=[validate.Length(min=3, max=280), plain_text]),
        load_default=dict,
    )


class PurposeTranslationsSchema(Schema):
    """The client form's purposes in French and German (optional, any scopes): stored where
    dynamic registration's ``sayso_purposes#fr`` goes, shown on the consent page."""

    fr = _purposes()
    de = _purposes()


class DeleteClientSchema(Schema):
    """Deleting a client needs its box ticked: its tokens stop working at once."""

    confirm = fields.String(
        required=True,
        validate=validate.Equal("yes", error="Tick the box to confirm the deletion."),
        error_messages={"required": "Tick the box to confirm the deletion."},
    )
