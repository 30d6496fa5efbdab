"""The signed-in consumer."""

from flask import jsonify
from flask_login import current_user, login_required
from flask_wtf.csrf import generate_csrf

from sayso import services
from sayso.api.blueprint import bp
from sayso.fields import FIELDS
from sayso.schemas.disclosures import FieldInfoSchema


@bp.get("/me")
@login_required
def me():
    """Who is signed in, and the CSRF token that session-authenticated writes must send.
    ---
    get:
      tags: [account]
      security: [{session: []}]
      responses:
        200:
          description: The consumer's email and a CSRF token.
          content: {application/json: {schema: Me}}
        401: Unauthorized
    """
    return jsonify(
        {
            "email": services.accounts().email_of(current_user),
            "csrf_token": generate_csrf(),
        }
    )


@bp.get("/fields")
def field_registry():
    """The disclosure fields Sayso knows, with the scope that reads each.
    ---
    get:
      tags: [account]
      security: []
      responses:
        200:
          description: The field registry, in a stable order.
          content:
            application/json:
              schema: {type: array, items: FieldInfo}
    """
    return jsonify(FieldInfoSchema(many=True).dump(FIELDS.values()))
