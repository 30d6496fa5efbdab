"""The consent page's answer."""

from marshmallow import Schema, fields, validate

from sayso.fields import EXPIRY_CHOICES


class ConsentDecisionSchema(Schema):
    """Allow (a subset of the requested fields, with an expiry) or deny."""

    decision = fields.String(required=True, validate=validate.OneOf(["allow", "deny"]))
    fields_ = fields.List(
        fields.String(validate=validate.Length(max=64)), data_key="field", load_default=list
    )
    expiry = fields.String(load_default="1y", validate=validate.OneOf(list(EXPIRY_CHOICES)))


class GrantSchema(Schema):
    """One grant as the consumer sees it."""

    field = fields.String()
    purpose = fields.String()
    granted_at = fields.DateTime()
    expires_at = fields.DateTime(allow_none=True)
    revoked_at = fields.DateTime(allow_none=True)
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
