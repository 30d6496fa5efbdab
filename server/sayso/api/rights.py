"""The consumer's rights over their data: consent receipts, access history, export, erasure."""

from flask import abort, current_app, jsonify, request, session
from flask_login import current_user, logout_user

from sayso import services
from sayso.api.blueprint import bp
from sayso.api.body import load_json
from sayso.auth import consumer_required
from sayso.errors import error_response
from sayso.extensions import limiter
from sayso.schemas.rights import (
    SEQ_RANGE,
    AccessHistoryQuerySchema,
    AccessHistorySchema,
    DataExportSchema,
    EraseSchema,
    ReceiptQuerySchema,
    ReceiptSchema,
)
from sayso.security import writes_on_get
from sayso.services.accounts import WrongPassword
from sayso.shared.clock import utcnow


def _query(schema) -> dict:
    return schema.load(request.args.to_dict())


def _erase_limit() -> str:
    # The password is checked here too, so guessing it is limited as on the sign-in page.
    return current_app.config["LOGIN_RATE_LIMIT"]


@bp.get("/me/receipts")
@consumer_required
def list_receipts():
    """Every consent receipt of the consumer (one per grant and per revoke), oldest first.
    ---
    get:
      tags: [rights]
      security: [{session: []}]
      parameters:
      - in: query
        schema: ReceiptQuerySchema
      responses:
        200:
          description: The receipts, each signed with the ledger key.
          content:
            application/json:
              schema: {type: array, items: Receipt}
        401: Unauthorized
        422: ValidationFailed
    """
    query = _query(ReceiptQuerySchema())
    receipts = services.receipts().for_account(current_user, query.get("brand_id"))
    return jsonify(ReceiptSchema(many=True).dump(receipts))


@bp.get("/me/receipts/<int:seq>")
@consumer_required
def get_receipt(seq: int):
    """One consent receipt, by the ledger sequence number of its event.
    ---
    get:
      tags: [rights]
      security: [{session: []}]
      parameters:
      - in: path
        name: seq
        required: true
        description: The `ledger.seq` of the receipt.
        schema: {type: integer, minimum: 1}
      responses:
        200:
          description: The receipt, signed with the ledger key.
          content: {application/json: {schema: Receipt}}
        401: Unauthorized
        404: NotFound
    """
    if not SEQ_RANGE.min <= seq <= SEQ_RANGE.max:
        abort(404, "No such receipt.")
    receipt = services.receipts().one(current_user, seq)
    if receipt is None:
        abort(404, "No such receipt.")
    return jsonify(ReceiptSchema().dump(receipt))


@bp.get("/me/access-history")
@consumer_required
def access_history():
    """Who read what, and when: the brands' reads of the consumer's profile, newest first.
    ---
    get:
      tags: [rights]
      security: [{session: []}]
      parameters:
      - in: query
        schema: AccessHistoryQuerySchema
      responses:
        200:
          description: A page of reads; follow `next_before` for the next one.
          content: {application/json: {schema: AccessHistory}}
        401: Unauthorized
        422: ValidationFailed
    """
    query = _query(AccessHistoryQuerySchema())
    page = services.access_history().page(
        current_user, query.get("brand_id"), query.get("before"), query["limit"]
    )
    return jsonify(AccessHistorySchema().dump(page))


@bp.get("/me/export")
@writes_on_get  # the export is recorded in the ledger before it is sent
@consumer_required
def export_data():
    """Everything Sayso holds about the consumer, in one JSON document.
    ---
    get:
      tags: [rights]
      security: [{session: []}]
      description: >-
        Disclosures (decrypted), grants, consent receipts, access history and the account.
        The export is recorded in the ledger (`account:data:exported`) before it is sent.
      responses:
        200:
          description: The export, as an attachment.
          content: {application/json: {schema: DataExport}}
        401: Unauthorized
        403: Forbidden
    """
    return data_export_response(current_user)


def data_export_response(account):
    """The consumer's data export as a JSON attachment (the API and the My data page)."""
    export = services.data_export().export(account)
    response = jsonify(DataExportSchema(context_now=utcnow()).dump(export))
    response.headers["Content-Disposition"] = f'attachment; filename="{export.filename}"'
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.delete("/me")
@limiter.limit(_erase_limit)
@consumer_required
def erase_account():
    """Erase the account: revoke every grant, delete every disclosure, shred the data key.
    ---
    delete:
      tags: [rights]
      security: [{session: [], csrf: []}]
      description: >-
        Confirmed by the account's password. Brands are told by `consent.revoked` webhooks.
        The ledger keeps its events (they name fields, never values) and records the erasure;
        the account can no longer sign in, and this session ends.
      requestBody:
        required: true
        content: {application/json: {schema: Erase}}
      responses:
        204: {description: Erased; the session is signed out.}
        400: BadRequest
        401: Unauthorized
        403: WrongPassword
        413: PayloadTooLarge
        415: UnsupportedMediaType
        422: ValidationFailed
    """
    data = load_json(EraseSchema())
    try:
        services.erasure().erase(current_user, data["password"])
    except WrongPassword:
        return error_response(403, "The password is not right.", "wrong_password")
    logout_user()
    session.clear()
    return "", 204
