"""Public documents anyone may fetch: the ledger's verification key, the GPC support
resource, the profile API's protected resource metadata (RFC 9728)."""

from flask import Blueprint, current_app, jsonify

from sayso.oauth.metadata import metadata_response, protected_resource_metadata

bp = Blueprint("wellknown", __name__)

#: When Sayso's Global Privacy Control handling last changed (the GPC spec's ``lastUpdate``).
GPC_LAST_UPDATE = "2026-11-23"


@bp.get("/.well-known/sayso-ledger-key.json")
def ledger_key():
    """The Ed25519 public key that signs ledger checkpoints and consent receipts."""
    response = jsonify(current_app.extensions["sayso_ledger_key"].public_document())
    response.headers["Cache-Control"] = "public, max-age=3600"
    return response


@bp.get("/.well-known/gpc.json")
def gpc():
    """The GPC support resource: Sayso honours ``Sec-GPC: 1`` (it never lets data be sold
    or shared with third parties, and records the signal in consent receipts)."""
    response = jsonify({"gpc": True, "lastUpdate": GPC_LAST_UPDATE})
    response.headers["Cache-Control"] = "public, max-age=86400"
    return response


@bp.get("/.well-known/oauth-protected-resource")
def protected_resource():
    """RFC 9728 metadata of the profile API: where its tokens come from, what it accepts."""
    return metadata_response(protected_resource_metadata)
