"""What the passkey pages' scripts send (web/passkeys.py)."""

from marshmallow import Schema, fields, validate

from sayso.shared.text import not_blank, plain_text

#: The ceremonies a challenge can be asked for by the pages' script.
CEREMONIES = ("sign_in", "second_factor", "confirm")


class CeremonySchema(Schema):
    """Which ceremony a challenge is asked for."""

    purpose = fields.String(load_default="sign_in", validate=validate.OneOf(CEREMONIES))


class CredentialSchema(Schema):
    """A browser's answer (``PublicKeyCredential`` as JSON), checked by py_webauthn."""

    credential = fields.Dict(required=True)
    purpose = fields.String(load_default="sign_in", validate=validate.OneOf(CEREMONIES))
    next = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=2048))


class NewPasskeySchema(Schema):
    """A new passkey's answer, and the name the consumer gives it."""

    credential = fields.Dict(required=True)
    name = fields.String(
        required=True,
        validate=[validate.Length(min=1, max=64), plain_text, not_blank],
        error_messages={"required": "Give the passkey a name."},
    )


class SecondFactorSchema(Schema):
    """The "ask for my passkey after my password" setting."""

    second_factor = fields.Boolean(load_default=False)
