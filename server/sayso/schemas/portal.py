"""Small forms of the brand portal (the client form itself is ``brands.ClientSchema``)."""

from marshmallow import Schema, fields, validate


class DeleteClientSchema(Schema):
    """Deleting a client needs its box ticked: its tokens stop working at once."""

    confirm = fields.String(
        required=True,
        validate=validate.Equal("yes", error="Tick the box to confirm the deletion."),
        error_messages={"required": "Tick the box to confirm the deletion."},
    )
