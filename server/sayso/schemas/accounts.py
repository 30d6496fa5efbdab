"""Input schemas for account pages and endpoints."""

from marshmallow import Schema, fields, pre_load, validate

from sayso.fields import unicode_text

PASSWORD_RULE = [validate.Length(min=10, max=256, error="Use 10 to 256 characters."), unicode_text]
#: A password presented to be checked: any text, within reason.
PRESENTED_PASSWORD = [
    # Two rules, so an empty one and a (very) long one each get the message that fits.
    validate.Length(min=1, error="Please fill this in."),
    validate.Length(max=1024, error="Use at most 1024 characters."),
    unicode_text,
]


class _TrimsEmail(Schema):
    @pre_load
    def _trim(self, data, **kwargs):
        if isinstance(data.get("email"), str):
            data = {**data, "email": data["email"].strip()}
        return data


class SignUpSchema(_TrimsEmail):
    """A new consumer: email and password."""

    email = fields.Email(required=True, validate=validate.Length(max=254))
    password = fields.String(required=True, validate=PASSWORD_RULE)


class LoginSchema(_TrimsEmail):
    """Sign-in credentials; no rules beyond presence, so failures all look alike."""

    email = fields.String(required=True, validate=validate.Length(min=1, max=254))
    password = fields.String(required=True, validate=PRESENTED_PASSWORD)
    next = fields.String(load_default=None, validate=validate.Length(max=2048))


class PasswordChangeSchema(Schema):
    """The current password and the new one."""

    current_password = fields.String(required=True, validate=PRESENTED_PASSWORD)
    new_password = fields.String(required=True, validate=PASSWORD_RULE)


class PasswordPresentedSchema(Schema):
    """The account's password, presented to confirm a step (confirming the address)."""

    password = fields.String(required=True, validate=PRESENTED_PASSWORD)


class ForgotPasswordSchema(_TrimsEmail):
    """The address a password reset link is asked for (any address: none is refused for
    having no account, so the answer tells nothing)."""

    email = fields.Email(required=True, validate=validate.Length(max=254))


class PasswordResetSchema(Schema):
    """The new password, set through a reset link."""

    new_password = fields.String(required=True, validate=PASSWORD_RULE)
