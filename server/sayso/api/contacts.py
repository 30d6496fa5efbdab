"""``/api/v1/contact-policy`` and ``/api/v1/contacts``: brands ask before they send, and report."""

from __future__ import annotations

from flask import jsonify, request

from sayso import services
from sayso.api.blueprint import bp
from sayso.api.body import load_json
from sayso.extensions import csrf, db
from sayso.fields import FIELDS
from sayso.models import Account, Brand
from sayso.oauth.resource import bearer_token, unauthorized_token
from sayso.schemas.contacts import (
    ContactPolicyQuerySchema,
    ContactRecordedSchema,
    ContactReportSchema,
)
from sayso.security import writes_on_get

CHANNELS_SCOPE = FIELDS["channels"].scope
#: What a report's answer holds when the token may not learn about ``channels``: whether
#: the contact was a breach, and why, would tell of the consumer's channel preferences.
RECORDED_ONLY = ("id", "channel", "sent_at")


def _consumer_and_brand(scope: str, grant_name: str):
    """The token's consumer and brand, if the consumer still grants ``grant_name`` now, and
    whether the token may also learn about the consumer's ``channels``: its scope names
    them and the consumer grants them now."""
    token = bearer_token(scope)
    account = db.session.get(Account, token.account_id)
    if token.brand_id is None or account is None or not account.is_active:
        return None, None, token, False
    live = services.consent().live_fields(account.id, token.brand_id)
    if grant_name not in live:
        return None, None, token, False
    reads_channels = "channels" in live and CHANNELS_SCOPE in token.scope.split()
    return account, db.session.get(Brand, token.brand_id), token, reads_channels


@bp.get("/contact-policy")
@csrf.exempt
@writes_on_get  # recorded in the ledger as a read of channels
def contact_policy():
    """May the brand contact the consumer on a channel now? If not, why, and when next.
    ---
    get:
      tags: [contacts]
      description: >-
        Decided from the consumer's `channels` disclosure: the channel must be one they
        allow, the brand's contacts on it in the last seven days must be under their weekly
        cap, and now must be outside their quiet hours in their own time zone. Each check
        is recorded in the ledger as a read of `channels`.
      security: [{oauth2: [channels:read]}]
      parameters:
        - name: channel
          in: query
          required: true
          schema: {type: string, enum: [email, sms, push, post, phone, in_app]}
      responses:
        200:
          description: The decision.
          content: {application/json: {schema: ContactPolicy}}
        400: TokenInUrl
        401: InvalidToken
        403: Forbidden
        422: ValidationFailed
    """
    account, brand, token, _ = _consumer_and_brand(CHANNELS_SCOPE, "channels")
    if account is None:
        return unauthorized_token("The consumer has revoked this access.")
    query = ContactPolicyQuerySchema().load(request.args.to_dict())
    decision = services.contacts().check(
        account, brand, query["channel"], actor=f"client:{token.client_id}"
    )
    return jsonify(decision.as_dict())


@bp.post("/contacts")
@csrf.exempt
def report_contact():
    """Report a contact the brand made; one beyond the consumer's preferences is a breach.
    ---
    post:
      tags: [contacts]
      description: >-
        The contact is checked against the consumer's preferences as they were when it was
        sent, counting the brand's earlier reports, and recorded in the ledger. Breaches
        are shown to the consumer and listed for privacy officers. The answer says
        whether the contact was a breach, and why (`breach`, `reason`), only if the token
        also has `channels:read` and the consumer grants `channels` now: that answer is
        recorded as a read of `channels` (`api:contact_policy:checked`). Otherwise it
        holds only `id`, `channel` and `sent_at`, the same for every contact, so nothing
        in it tells of the consumer's channel preferences.
      security: [{oauth2: [contacts:write]}]
      requestBody:
        required: true
        content: {application/json: {schema: ContactReport}}
      responses:
        201:
          description: The contact as recorded.
          content: {application/json: {schema: ContactRecorded}}
        400: TokenInUrl
        401: InvalidToken
        403: Forbidden
        413: PayloadTooLarge
        415: UnsupportedMediaType
        422: ValidationFailed
    """
    account, brand, token, reads_channels = _consumer_and_brand("contacts:write", "contacts")
    if account is None:
        return unauthorized_token("The consumer has revoked this access.")
    report = load_json(ContactReportSchema())
    contact = services.contacts().record(
        account,
        brand,
        report["channel"],
        report["sent_at"],
        actor=f"client:{token.client_id}",
        verdict_read=reads_channels,
    )
    schema = (
        ContactRecordedSchema() if reads_channels else ContactRecordedSchema(only=RECORDED_ONLY)
    )
    return jsonify(schema.dump(contact)), 201
