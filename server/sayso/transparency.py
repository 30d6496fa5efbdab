"""The log, read-only, for witnesses, auditors and anyone who keeps a copy of its heads.

``/ledger/checkpoint`` and ``/ledger/tile/...`` follow C2SP tlog-tiles, so ordinary tlog
tooling can follow the log with no special code; ``/ledger/proof/...`` gives inclusion and
consistency proofs as JSON. Entry bundles (``tile/entries/...``) are not served: entries
stay behind the officers' and each consumer's own access rules (docs/ledger.md).
"""

from __future__ import annotations

import base64

from flask import Blueprint, Response, current_app, jsonify, request

from sayso.errors import error_response
from sayso.extensions import db
from sayso.ledger import proofs
from sayso.ledger.sequencer import tree_state
from sayso.ledger.tiles import TileStore
from sayso.ledger.tree import ENTRIES_LEVEL, HASH_SIZE, parse_tile_path
from sayso.models.types import MAX_INT64

bp = Blueprint("ledger", __name__, url_prefix="/ledger")

#: A tile at a given path never changes (a partial one is served under its width).
_IMMUTABLE = "public, max-age=31536000, immutable"


@bp.get("/checkpoint")
def checkpoint():
    """The newest checkpoint (C2SP tlog-checkpoint, signed note), with every witness's
    cosignature it has gathered so far."""
    try:
        served = proofs.latest_checkpoint(db.session)
    except proofs.NoCheckpoint:
        return error_response(404, "The log has no checkpoint yet.", "not_found")
    response = Response(served.note, mimetype="text/plain")
    response.headers["Cache-Control"] = "no-cache"
    return response


@bp.get("/tile/<path:path>")
def tile(path: str):
    """A hash tile (C2SP tlog-tiles): full, or partial as ``.p/<width>``."""
    try:
        where = parse_tile_path("tile/" + path)
    except ValueError:
        return error_response(404, "No such tile.", "not_found")
    if where.level == ENTRIES_LEVEL:
        return error_response(
            404, "Entries are not public; officers export them from the console.", "not_found"
        )
    hashes = TileStore(db.session).tile(where.level, where.index)
    if len(hashes) < where.width * HASH_SIZE:
        return error_response(404, "That tile does not exist yet.", "not_found")
    response = Response(hashes[: where.width * HASH_SIZE], mimetype="application/octet-stream")
    response.headers["Cache-Control"] = _IMMUTABLE
    return response


def _size(name: str, default: int | None = None) -> int:
    value = request.args.get(name)
    if value is None and default is not None:
        return default
    if value is None or not value.isdigit() or int(value) > MAX_INT64:
        raise ValueError(f"{name} must be a whole number")
    return int(value)


def _b64(hashes: list[bytes]) -> list[str]:
    return [base64.b64encode(h).decode() for h in hashes]


@bp.get("/proof/inclusion")
def inclusion():
    """The inclusion proof of leaf ``index`` in the tree of ``size`` leaves (default: the
    size of the newest checkpoint)."""
    try:
        index = _size("index")
        size = _size("size", tree_state(db.session).size)
    except ValueError as error:
        return error_response(400, str(error).capitalize() + ".", "invalid_request")
    if not index < size <= tree_state(db.session).size:
        return error_response(400, "The leaf is not in a tree of that size.", "invalid_request")
    proof = proofs.inclusion(db.session, index, size)
    return jsonify({"index": index, "size": size, "hashes": _b64(proof)})


@bp.get("/proof/consistency")
def consistency():
    """The consistency proof from the tree of ``from`` leaves to the tree of ``to``."""
    try:
        old, new = _size("from"), _size("to")
    except ValueError as error:
        return error_response(400, str(error).capitalize() + ".", "invalid_request")
    if not 0 < old <= new <= tree_state(db.session).size:
        message = "Both sizes must be within the tree, from no larger than to."
        return error_response(400, message, "invalid_request")
    proof = proofs.consistency(db.session, old, new)
    return jsonify({"from": old, "to": new, "hashes": _b64(proof)})


@bp.get("/key")
def key():
    """The log's origin and note verifier key (what witnesses are configured with)."""
    ledger_key = current_app.extensions["sayso_ledger_key"]
    return jsonify({"origin": ledger_key.origin, "verifier_key": ledger_key.verifier_key})
