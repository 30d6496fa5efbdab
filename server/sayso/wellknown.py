"""Public documents anyone may fetch: the ledger's verification key."""

from flask import Blueprint, current_app, jsonify

bp = Blueprint("wellknown", __name__)


@bp.get("/.well-known/sayso-ledger-key.json")
def ledger_key():
    """The Ed25519 public key that signs ledger checkpoints and consent receipts."""
    response = jsonify(current_app.extensions["sayso_ledger_key"].public_document())
    response.headers["Cache-Control"] = "public, max-age=3600"
    return response
