"""What the REST API answers: the shared error shape and the bodies that have no input schema.

These describe responses (for the OpenAPI document and its readers); the views build the
same shapes. Input is validated by the schemas in ``disclosures.py`` and ``fields.py``.
"""

from marshmallow import EXCLUDE, Schema, fields, validate

from sayso.fields import FIELDS
from sayso.shared.text import not_blank


class ErrorSchema(Schema):
    """Every API error: a stable code, a sentence for people, and what is wrong with which input."""

    error = fields.String(
        required=True,
        metadata={"description": "A stable code, e.g. `validation_failed` or `csrf_failed`."},
    )
    message = fields.String(required=True, metadata={"description": "A sentence for people."})
    fields_ = fields.Dict(
        data_key="fields",
        required=True,
        metadata={
            "description": "Each input at fault and what is wrong with it, following the "
            "input's shape (list positions become string keys); `{}` when none is."
        },
    )


class MeSchema(Schema):
    """The signed-in consumer."""

    email = fields.String(required=True)
    csrf_token = fields.String(
        required=True,
        metadata={"description": "Send it as the `X-CSRFToken` header on every PUT and DELETE."},
    )


class RevokedSchema(Schema):
    """What a revoke ended: the fields it revoked, by brand id (empty when nothing was live)."""

    revoked = fields.Dict(
        keys=fields.String(),
        values=fields.List(fields.String()),
        required=True,
        metadata={"description": "Brand id → the fields revoked just now."},
    )


class GrantedSchema(Schema):
    """What a grant started: the fields granted, by brand id."""

    granted = fields.Dict(
        keys=fields.String(),
        values=fields.List(fields.String()),
        required=True,
        metadata={"description": "Brand id → the fields granted just now."},
    )


class DeclaredFieldSchema(Schema):
    """A field a brand asks for, with the purpose it declared."""

    field = fields.String(required=True)
    purpose = fields.String(required=True)


class BrandLookupQuerySchema(Schema):
    """The query of ``GET /api/v1/brands/lookup``: a registrable domain (other keys ignored)."""

    class Meta:
        unknown = EXCLUDE

    domain = fields.String(
        required=True,
        validate=[validate.Length(min=1, max=253), not_blank],
        metadata={"description": "A registrable domain such as bookshop.example."},
    )


class BrandLookupSchema(Schema):
    """The brand behind a domain, as the browser extension shows it."""

    brand_id = fields.String(required=True)
    name = fields.String(required=True)
    domain = fields.String(required=True, metadata={"description": "The registrable domain."})
    verified = fields.Boolean(
        required=True, metadata={"description": "Whether an operator verified the domain."}
    )
    fields_ = fields.List(
        fields.Nested(DeclaredFieldSchema), required=True, data_key="fields", attribute="fields"
    )


class BrandDirectorySchema(Schema):
    """Every domain a brand claims, so the extension can tell brand sites apart on the
    device without asking Sayso about each site visited."""

    domains = fields.Dict(
        keys=fields.String(),
        values=fields.String(),
        required=True,
        metadata={
            "description": "Registrable domain → the id of the brand claiming it (verified "
            "or not; `GET /api/v1/brands/lookup` tells which)."
        },
    )


def _profile_schema() -> type[Schema]:
    declared = {
        "sub": fields.String(
            required=True,
            metadata={"description": "The consumer's pseudonym for this brand (pairwise)."},
        )
    }
    for name, field in FIELDS.items():
        value = field.brand_value_field()
        value.required = False
        value.allow_none = True
        value.metadata = {
            "description": f"{field.label}. {field.description} Present only while "
            f"`{field.scope}` is granted, and `null` when granted but not disclosed."
        }
        declared[name] = value
    declared["answers"] = fields.Dict(
        keys=fields.String(),
        values=fields.Raw(),
        metadata={
            "description": "The consumer's answers to this brand's own questions, by question "
            "id: present only while `answers:read` is granted."
        },
    )
    return Schema.from_dict(declared, name="ProfileSchema")


#: What a brand's token reads at ``/api/v1/profile``, built from the field registry.
ProfileSchema = _profile_schema()
