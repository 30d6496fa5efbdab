"""Schemas for a consumer's rights: consent receipts, access history, export, erasure."""

from marshmallow import Schema, fields, validate

from sayso.fields import DATA_EXPORT_FORMAT
from sayso.schemas.accounts import PRESENTED_PASSWORD
from sayso.schemas.consent import BrandGrantsSchema, GrantViewSchema
from sayso.schemas.console import MAX_SEQ
from sayso.schemas.disclosures import DisclosuresSchema

# Ledger sequence numbers: audit_events.seq is a 64-bit integer, and on PostgreSQL a
# larger number fails the query (a 500) instead of matching nothing.
SEQ_RANGE = validate.Range(min=1, max=MAX_SEQ)
BRAND_ID = validate.Length(min=1, max=64)


def _timestamp(description: str) -> fields.String:
    # Receipts carry the ledger's own instant strings, signed as they are: no re-formatting.
    return fields.String(
        required=True,
        allow_none=True,
        metadata={"format": "date-time", "description": description},
    )


class ReceiptIssuerSchema(Schema):
    """Who issued and signed the receipt, and where its public key is published."""

    name = fields.String(required=True)
    url = fields.String(required=True, metadata={"format": "uri"})
    public_key_url = fields.String(
        required=True,
        metadata={"format": "uri", "description": "`/.well-known/sayso-ledger-key.json`."},
    )


class ReceiptLedgerSchema(Schema):
    """The ledger event the receipt is made from, and where it is in the log."""

    seq = fields.Integer(required=True)
    leaf_hash = fields.String(
        required=True, metadata={"description": "The entry's RFC 9162 leaf hash, hex."}
    )
    leaf_index = fields.Integer(
        required=True,
        allow_none=True,
        metadata={"description": "Its place in the log; null until the sequencer gave it one."},
    )
    checkpoint = fields.String(
        required=True,
        allow_none=True,
        metadata={
            "description": "A signed checkpoint covering it (C2SP signed note, with the "
            "witnesses' cosignatures)."
        },
    )
    inclusion_proof = fields.List(
        fields.String(),
        required=True,
        allow_none=True,
        metadata={"description": "RFC 9162 inclusion proof against the checkpoint, base64."},
    )


class ReceiptPrincipalSchema(Schema):
    """The consumer, as the brand knows them."""

    pseudonym = fields.String(
        required=True,
        metadata={"description": "The brand's pairwise subject id (`sub`) for the consumer."},
    )
    kind = fields.String(required=True, metadata={"description": "Always `pairwise`."})


class ReceiptControllerSchema(Schema):
    """The brand the consent is given to or withdrawn from."""

    id = fields.String(required=True, metadata={"description": "The brand's public id."})
    name = fields.String(required=True, allow_none=True)
    client_id = fields.String(
        required=True,
        allow_none=True,
        metadata={"description": "The brand's client that asked (for a grant); else null."},
    )


class ReceiptPurposeSchema(Schema):
    """A purpose the brand declared, and the fields it covers."""

    purpose = fields.String(required=True, allow_none=True)
    data_categories = fields.List(fields.String(), required=True)


class ReceiptEventSchema(Schema):
    """What happened, when, and the state it left the consent in."""

    type = fields.String(required=True, validate=validate.OneOf(["given", "withdrawn"]))
    time = _timestamp("When the ledger recorded it (UTC).")
    state = fields.String(required=True, validate=validate.OneOf(["active", "withdrawn"]))


class ReceiptValiditySchema(Schema):
    """How long the consent applies."""

    expires_at = _timestamp(
        "For a grant, the expiry chosen (null: until withdrawn); for a revoke, its time."
    )


class ReceiptWithdrawalSchema(Schema):
    """How to withdraw consent."""

    how = fields.String(required=True)
    url = fields.String(required=True, metadata={"format": "uri"})
    api = fields.String(required=True, metadata={"format": "uri"})


class ReceiptSignatureSchema(Schema):
    """Ed25519 by the ledger key over the receipt's other members (see `docs/ledger.md`)."""

    alg = fields.String(required=True, validate=validate.OneOf(["Ed25519"]))
    key_id = fields.String(required=True)
    value = fields.String(required=True, metadata={"description": "url-safe base64, no padding"})


class ReceiptSchema(Schema):
    """A consent receipt after ISO/IEC TS 27560, signed with the ledger key."""

    schema_ = fields.String(data_key="schema", attribute="schema", required=True)
    record_id = fields.String(
        required=True, metadata={"description": "The entry's leaf hash: unique per receipt."}
    )
    issuer = fields.Nested(ReceiptIssuerSchema, required=True)
    ledger = fields.Nested(ReceiptLedgerSchema, required=True)
    principal = fields.Nested(ReceiptPrincipalSchema, required=True)
    controller = fields.Nested(ReceiptControllerSchema, required=True)
    purposes = fields.List(fields.Nested(ReceiptPurposeSchema), required=True)
    data_categories = fields.List(
        fields.String(), required=True, metadata={"description": "The disclosure fields."}
    )
    collection_method = fields.String(required=True)
    global_privacy_control = fields.Boolean(
        required=True,
        allow_none=True,
        metadata={
            "description": "For a grant, whether the consumer's browser sent Global Privacy "
            "Control (`Sec-GPC: 1`) when consenting; null for a withdrawal."
        },
    )
    views = fields.Dict(
        keys=fields.String(),
        values=fields.Nested(GrantViewSchema),
        required=True,
        allow_none=True,
        metadata={
            "description": "For a grant, what the brand may see of each field that may be "
            "shared as less than everything (interests, browsing categories); null for a "
            "withdrawal."
        },
    )
    event = fields.Nested(ReceiptEventSchema, required=True)
    validity = fields.Nested(ReceiptValiditySchema, required=True)
    withdrawal = fields.Nested(ReceiptWithdrawalSchema, required=True)
    signature = fields.Nested(ReceiptSignatureSchema, required=True)


class ReceiptQuerySchema(Schema):
    """Which receipts to list."""

    brand_id = fields.String(
        validate=BRAND_ID, metadata={"description": "Only this brand's receipts."}
    )


class ProfileReadSchema(Schema):
    """One read of the consumer's profile by a brand."""

    seq = fields.Integer(required=True, metadata={"description": "The read's ledger seq."})
    occurred_at = fields.DateTime(required=True)
    brand_id = fields.String(required=True)
    brand_name = fields.String(required=True, allow_none=True)
    client_id = fields.String(required=True, allow_none=True)
    fields_ = fields.List(
        fields.String(),
        data_key="fields",
        attribute="fields",
        required=True,
        metadata={"description": "The fields the brand read (names only)."},
    )
    purposes = fields.Dict(
        keys=fields.String(),
        values=fields.String(),
        required=True,
        metadata={"description": "Field → the purpose it was read for."},
    )


class AccessHistorySchema(Schema):
    """A page of reads, newest first."""

    reads = fields.List(fields.Nested(ProfileReadSchema), required=True)
    next_before = fields.Integer(
        required=True,
        allow_none=True,
        metadata={"description": "Pass as `before` for the next page; null when done."},
    )


class AccessHistoryQuerySchema(Schema):
    """Which reads to list."""

    brand_id = fields.String(validate=BRAND_ID, metadata={"description": "Only this brand."})
    before = fields.Integer(
        validate=SEQ_RANGE,
        metadata={"description": "Only reads before this ledger seq (a page's `next_before`)."},
    )
    limit = fields.Integer(
        load_default=50,
        validate=validate.Range(min=1, max=200),
        metadata={"description": "Reads per page."},
    )


class ExportAccountSchema(Schema):
    """The account itself."""

    email = fields.String(required=True)
    created_at = fields.DateTime(required=True)


class ExportedAnswerSchema(Schema):
    """One answer to one brand's question."""

    brand_id = fields.String(required=True)
    brand_name = fields.String(required=True)
    question_id = fields.Integer(required=True)
    question = fields.String(required=True)
    answer = fields.Raw(required=True, metadata={"description": "As the question's kind takes it."})


class ExportedContactSchema(Schema):
    """One message a brand reported sending, and whether it broke your preferences."""

    brand_id = fields.String(required=True)
    brand_name = fields.String(required=True)
    channel = fields.String(required=True)
    sent_at = fields.String(required=True)
    breach = fields.Boolean(required=True)
    reason = fields.String(required=True)
    kind = fields.String(
        allow_none=True,
        metadata={"description": "The kind of message the brand said it was, or `null`."},
    )


class DataExportSchema(Schema):
    """Everything Sayso holds about the consumer, in one document."""

    format = fields.Constant(DATA_EXPORT_FORMAT, required=True)
    exported_at = fields.DateTime(required=True)
    ledger_seq = fields.Integer(
        required=True, metadata={"description": "The ledger event that records this export."}
    )
    account = fields.Nested(ExportAccountSchema, required=True)
    disclosures = fields.Nested(DisclosuresSchema, required=True)
    grants = fields.Method(
        "_grants",
        required=True,
        metadata={"type": "array", "items": {"$ref": "#/components/schemas/BrandGrants"}},
    )
    receipts = fields.List(fields.Nested(ReceiptSchema), required=True)
    access_history = fields.List(
        fields.Nested(ProfileReadSchema),
        required=True,
        metadata={"description": "Every read, oldest first."},
    )
    answers = fields.List(
        fields.Nested(ExportedAnswerSchema),
        required=True,
        metadata={"description": "Your answers to brands' questions, decrypted."},
    )
    contacts = fields.List(
        fields.Nested(ExportedContactSchema),
        required=True,
        metadata={"description": "Every message brands reported sending you, oldest first."},
    )

    def __init__(self, *args, context_now=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.now = context_now

    def _grants(self, export) -> list:
        return BrandGrantsSchema(many=True, context_now=self.now).dump(export.grants)


class EraseSchema(Schema):
    """The password that confirms erasing the account."""

    password = fields.String(required=True, validate=PRESENTED_PASSWORD)


class EraseFormSchema(EraseSchema):
    """The erase form: the password, and the box that says "I understand"."""

    confirm = fields.Boolean(
        required=True,
        validate=validate.Equal(True, error="Tick the box to confirm."),
    )
