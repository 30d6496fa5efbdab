"""Schemas for disclosure documents, built from the field registry."""

from marshmallow import Schema, fields

from sayso.fields import FIELDS


def _document_schema() -> type[Schema]:
    # Each registry field may be given, and set to null to delete it.
    declared = {}
    for name, field in FIELDS.items():
        value = field.value_field()
        value.required = False
        value.allow_none = True
        declared[name] = value
    return Schema.from_dict(declared, name="DisclosuresSchema")


DisclosuresSchema = _document_schema()


def value_schema(field_name: str) -> Schema:
    """A schema for ``{"value": ...}``, the body that sets one field (its shape is the
    field's own: ``DisclosureField.value_schema``)."""
    return FIELDS[field_name].value_schema()()


class FieldInfoSchema(Schema):
    """How the registry describes a field to clients."""

    name = fields.String()
    label = fields.String()
    description = fields.String()
    scope = fields.String()
    max_items = fields.Integer(
        allow_none=True,
        metadata={"description": "For a list, how many entries at most; else `null`."},
    )
