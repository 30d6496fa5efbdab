"""The consent page's answer, grants as the consumer sees them, and the view of a grant."""

from marshmallow import Schema, ValidationError, fields, post_load, validate, validates_schema

from sayso.coarsening import ALLOWED, COARSENABLE, View
from sayso.fields import EXPIRY_CHOICES

NOT_A_VIEW = "Not one of the ways to share this that Sayso offers."


class ViewToken(fields.String):
    """A view as a form spells it (``all``, ``top_level``, ``top:5``, ``noised:10``),
    loaded as a :class:`~sayso.coarsening.View`."""

    def _deserialize(self, value, attr, data, **kwargs):
        token = super()._deserialize(value, attr, data, **kwargs)
        try:
            return View.parse(token)
        except ValueError:
            raise ValidationError(NOT_A_VIEW) from None


class GrantViewSchema(Schema):
    """What a brand gets of a field: everything, or less (interests and browsing only)."""

    name = fields.String(
        required=True,
        validate=validate.OneOf(list(ALLOWED)),
        metadata={
            "description": "`all` (everything), `top_level` (top-level categories only, "
            "free text left out), `top` (the first N: browsing by weight, interests in the "
            "consumer's order) or `noised` (that percentage of entries replaced by random "
            "topics, the same on every read)."
        },
    )
    parameter = fields.Integer(
        allow_none=True,
        load_default=None,
        strict=True,
        metadata={
            "description": "N for `top` (3, 5 or 10), the rate in percent for "
            "`noised` (5 or 10), null otherwise."
        },
    )

    @staticmethod
    def json_schema_shapes() -> list[dict]:
        """The view's exact shapes, for the OpenAPI document: one per name."""
        shapes = []
        for name, parameters in ALLOWED.items():
            shape = {
                "title": "View" + "".join(part.title() for part in name.split("_")),
                "type": "object",
                "properties": {
                    "name": {"type": "string", "enum": [name]},
                    "parameter": {"enum": list(parameters)},
                },
                "required": ["name"] if None in parameters else ["name", "parameter"],
                "additionalProperties": False,
            }
            if None not in parameters:
                shape["properties"]["parameter"]["type"] = "integer"
            shapes.append(shape)
        return shapes

    @validates_schema
    def _offered(self, data, **kwargs):
        if data.get("parameter") not in ALLOWED.get(data.get("name"), ()):
            raise ValidationError(NOT_A_VIEW, "parameter")

    @post_load
    def _view(self, data, **kwargs) -> View:
        return View(data["name"], data["parameter"])


class GrantBodySchema(Schema):
    """An optional body for granting one field: the view the brand gets of it."""

    view = fields.Nested(GrantViewSchema, load_default=None)


class ViewChangeSchema(Schema):
    """The Brands page's "change what it sees" form."""

    view = ViewToken(required=True)


class ConsentDecisionSchema(Schema):
    """Allow (a subset of the requested fields, with an expiry) or deny."""

    decision = fields.String(required=True, validate=validate.OneOf(["allow", "deny"]))
    fields_ = fields.List(
        fields.String(validate=validate.Length(max=64)), data_key="field", load_default=list
    )
    expiry = fields.String(load_default="1y", validate=validate.OneOf(list(EXPIRY_CHOICES)))
    #: What the brand gets of each field that may be coarsened (everything if not said).
    views = fields.Dict(
        keys=fields.String(validate=validate.OneOf(COARSENABLE)),
        values=ViewToken(),
        load_default=dict,
    )


class GrantSchema(Schema):
    """One grant as the consumer sees it."""

    field = fields.String()
    purpose = fields.String()
    granted_at = fields.DateTime()
    expires_at = fields.DateTime(allow_none=True)
    revoked_at = fields.DateTime(allow_none=True)
    view = fields.Nested(GrantViewSchema, attribute="coarse_view", dump_only=True)
    active = fields.Method(
        "_active", metadata={"type": "boolean", "description": "Whether the brand may read it now."}
    )

    def __init__(self, *args, context_now=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.now = context_now

    def _active(self, grant) -> bool:
        return grant.is_live(self.now)


class BrandGrantsSchema(Schema):
    """A brand and what it may see of the consumer."""

    brand_id = fields.Function(lambda e: e.brand.public_id, metadata={"type": "string"})
    brand_name = fields.Function(lambda e: e.brand.name, metadata={"type": "string"})
    last_read_at = fields.DateTime(allow_none=True)
    # The schema is named in the metadata so the OpenAPI document can describe the items.
    grants = fields.Method(
        "_grants", metadata={"type": "array", "items": {"$ref": "#/components/schemas/Grant"}}
    )

    def __init__(self, *args, context_now=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.now = context_now

    def _grants(self, entry) -> list:
        return GrantSchema(many=True, context_now=self.now).dump(entry.grants)


class UndoSchema(Schema):
    """Which revoke to undo (or offer to undo): the instant it stamped on what it ended."""

    revoked_at = fields.AwareDateTime(required=True, data_key="undo")


class ConfirmSchema(Schema):
    """A "revoke everything" form, sent from its confirmation page (``confirm=yes``)."""

    confirm = fields.String(load_default=None, validate=validate.OneOf(["yes"]))
