"""``/api/v1/contact-policy`` and ``/api/v1/contacts``: brands ask before they send, and report."""

from __future__ import annotations

from flask import abort, jsonify, request

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
HEAR_ABOUT_SCOPE = FIELDS["hear_about"].scope
#: What a report's answer holds when the token may not learn about ``channels`` (or, for a
#: report naming a kind, ``hear_about``): whether the contact was a breach, and why, would
#: tell of the consumer's preferences.
RECORDED_ONLY = ("id", "channel", "sent_at", "kind")


def _consumer_and_brand(scope: str, grant_name: str):
    """The token's consumer and brand, if the consumer still grants ``grant_name`` now, and
    which of ``channels`` and ``hear_about`` the token may also learn about: its scope
    names them and the consumer grants them now."""
    token = bearer_token(scope)
    account = db.session.get(Account, token.account_id)
    if token.brand_id is None or account is None or not account.is_active:
        return None, None, token, set()
    live = services.consent().live_fields(account.id, token.brand_id)
    if grant_name not in live:
        return None, None, token, set()
    scopes = token.scope.split()
    readable = {f for f in ("channels", "hear_about") if f in live and FIELDS[f].scope in scopes}
    return account, db.session.get(Brand, token.brand_id), token, readable


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
        is recorded in the ledger as a read of `channels`. With `kind`, the kind of message
        must also be one the consumer asked to hear about from this brand (`hear_about`, if
        they said), the token needs `hear_about:read` granted too, and the check is a read
        of both.
      security: [{oauth2: [channels:read]}]
      parameters:
        - name: channel
          in: query
          required: true
          schema: {type: string, enum: [email, sms, push, post, phone, in_app]}
        - name: kind
          in: query
          required: false
          schema:
            type: string
            enum: [new_releases, offers, events, recommendations, news, service]
      responses:
        200:
          description: The decision.
          content: {application/json: {schema: ContactPolicy}}
        400: TokenInUrl
        401: InvalidToken
        403: Forbidden
        422: ValidationFailed
    """
    account, brand, token, readable = _consumer_and_brand(CHANNELS_SCOPE, "channels")
    if account is None:
        return unauthorized_token("The consumer has revoked this access.")
    query = ContactPolicyQuerySchema().load(request.args.to_dict())
    if "kind" in query and "hear_about" not in readable:
        abort(
            403,
            "Checking a kind of message needs hear_about:read in the token, granted by the "
            "consumer: without it, ask without kind.",
        )
    decision = services.contacts().check(
        account, brand, query["channel"], actor=f"client:{token.client_id}", kind=query.get("kind")
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
        sent, counting the brand's earlier reports, and recorded in the ledger. A report
        with a `kind` of message the consumer did not ask to hear about from this brand
        (`hear_about`, when they have said) is a breach (`kind_not_wanted`). Breaches
        are shown to the consumer and listed for privacy officers. The answer says
        whether the contact was a breach, and why (`breach`, `reason`), only if the token
        also has `channels:read` and the consumer grants `channels` now: that answer is
        recorded as a read of `channels` (`api:contact_policy:checked`). Otherwise it
        holds only `id`, `channel`, `sent_at` and `kind`, the same for every contact, so
        nothing in it tells of the consumer's preferences. For a report with a `kind`, the
        verdict also needs `hear_about:read` granted, and is a read of `hear_about` too.
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
    account, brand, token, readable = _consumer_and_brand("contacts:write", "contacts")
    if account is None:
        return unauthorized_token("The consumer has revoked this access.")
    report = load_json(ContactReportSchema())
    kind = report.get("kind")
    reads_verdict = "channels" in readable and (kind is None or "hear_about" in readable)
    contact = services.contacts().record(
        account,
        brand,
        report["channel"],
        report["sent_at"],
        actor=f"client:{token.client_id}",
        verdict_read=reads_verdict,
        kind=kind,
    )
    schema = ContactRecordedSchema() if reads_verdict else ContactRecordedSchema(only=RECORDED_ONLY)
    return jsonify(schema.dump(contact)), 201
