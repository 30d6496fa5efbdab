"""``/api/v1/profile``: what a brand may read, with its bearer token."""

import logging

from flask import jsonify
from sqlalchemy.exc import SQLAlchemyError

from sayso import services
from sayso.api.blueprint import bp
from sayso.errors import error_response
from sayso.extensions import csrf
from sayso.oauth.resource import presented_bearer, unauthorized_token
from sayso.security import writes_on_get
from sayso.services.profile import NothingGranted

log = logging.getLogger(__name__)


@bp.get("/profile")
@csrf.exempt
@writes_on_get  # every read is recorded in the ledger
def profile():
    """The consumer's fields that the token's scope covers and that are granted right now.
    ---
    get:
      tags: [profile]
      description: >-
        Every read is recorded in the ledger before anything is returned; if it cannot be
        recorded, nothing is disclosed (503). A field the consumer granted but has not
        disclosed is `null`; a field not granted (or revoked) is absent.
      security: [{oauth2: []}]
      responses:
        200:
          description: The pairwise subject and the granted fields.
          content: {application/json: {schema: Profile}}
        400: TokenInUrl
        401: InvalidToken
        503: Unavailable
    """
    presented = presented_bearer()
    try:
        read = services.profile().read(presented)
    except NothingGranted:
        return unauthorized_token("The consumer has revoked this access.")
    except SQLAlchemyError:
        # The read could not be recorded, so nothing is disclosed.
        log.exception("profile read not recorded; refused")
        return error_response(503, "The read could not be recorded; try again.", "unavailable")
    return jsonify(read.document)
