"""The witness's HTTP interface (c2sp.org/tlog-witness): add-checkpoint, and the last
cosigned checkpoint of each log for monitors and auditors."""

from __future__ import annotations

import re

from flask import Blueprint, Response, current_app, request

from sayso.witness.service import Refusal, Witness

bp = Blueprint("witness", __name__)

TEXT = "text/plain; charset=utf-8"
SIZE = "text/x.tlog.size"  # tlog-witness: the content type of a 409's body
_ORIGIN_HASH = re.compile(r"[0-9a-f]{64}")


def _witness() -> Witness:
    return current_app.extensions["sayso_witness"]


def text_response(status: int, body: str, content_type: str = TEXT) -> Response:
    """A plain-text answer; every answer of the witness is one."""
    return Response(body, status=status, content_type=content_type)


@bp.post("/add-checkpoint")
def add_checkpoint():
    """Cosign a checkpoint that extends the last one cosigned for its log."""
    try:
        cosignature = _witness().add_checkpoint(request.get_data(cache=False))
    except Refusal as refusal:
        if refusal.status == 409:
            return text_response(409, f"{refusal.size}\n", SIZE)
        return text_response(refusal.status, refusal.message + "\n")
    return text_response(200, cosignature)


def _checkpoint(log) -> Response:
    if log is None or log.note is None:
        return text_response(404, "this witness has cosigned no checkpoint of that log\n")
    response = text_response(200, log.note)
    # The latest checkpoint changes with every add-checkpoint: caches must ask again.
    response.headers["Cache-Control"] = "no-cache"
    return response


@bp.get("/checkpoints/<path:origin>")
def checkpoint_by_origin(origin: str):
    """The last checkpoint cosigned for a log named by its (URL-encoded) origin."""
    return _checkpoint(_witness().store.log(origin))


@bp.get("/<hashed_origin>/checkpoint")
def checkpoint_by_origin_hash(hashed_origin: str):
    """The same, at tlog-witness's monitoring path: the log named by its origin's SHA-256."""
    if not _ORIGIN_HASH.fullmatch(hashed_origin):
        return text_response(404, "not a lowercase hex SHA-256 of an origin\n")
    return _checkpoint(_witness().store.log_by_hash(hashed_origin))
