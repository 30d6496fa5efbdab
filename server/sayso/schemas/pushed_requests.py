"""The parameters of a pushed authorization request (RFC 9126 section 2.1)."""

from marshmallow import EXCLUDE, Schema, fields, validate

_SHORT = validate.Length(max=512)


class PushedRequestSchema(Schema):
    """What a client may push: the authorization request's own parameters, each a string,
    and nothing it authenticates with (that is the token endpoint's business). Parameters
    Sayso does not know are left out, as the authorization endpoint ignores them."""

    class Meta:
        unknown = EXCLUDE

    client_id = fields.String(validate=validate.Length(max=48))
    response_type = fields.String(validate=_SHORT)
    redirect_uri = fields.String(validate=validate.Length(max=2048))
    scope = fields.String(validate=validate.Length(max=2048))
    state = fields.String(validate=validate.Length(max=1024))
    code_challenge = fields.String(validate=validate.Length(max=128))
    code_challenge_method = fields.String(validate=_SHORT)
    prompt = fields.String(validate=_SHORT)
    # RFC 9396 (JSON text, read as at the authorization endpoint) and RFC 9449 section 10.
    authorization_details = fields.String(validate=validate.Length(max=16384))
    dpop_jkt = fields.String(validate=validate.Length(max=128))
