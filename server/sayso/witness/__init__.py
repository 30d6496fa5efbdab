"""A transparency-log witness (c2sp.org/tlog-witness): a small Flask server, independent of
Sayso, that cosigns a log's checkpoints only if each extends the last one it cosigned.

It has its own Ed25519 key (a raw seed in a file) and its own SQLite file; it reads nothing
of Sayso's configuration, database or models, so it can run on another operator's machine.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Flask
from werkzeug.exceptions import HTTPException

from sayso.ledger.notes import Cosigner
from sayso.witness.keys import load_key
from sayso.witness.service import Witness, system_clock
from sayso.witness.store import WitnessStore
from sayso.witness.views import bp, text_response

# Requests carry a checkpoint, its signatures and at most 63 proof lines: a few KiB.
MAX_REQUEST_SIZE = 64 * 1024


def create_witness_app(config: Mapping[str, Any]) -> Flask:
    """The witness's Flask app. ``config`` names its files and identity: WITNESS_DATABASE,
    WITNESS_KEY_FILE, WITNESS_NAME (and optionally WITNESS_CLOCK, a time.time stand-in)."""
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = MAX_REQUEST_SIZE
    app.config.update(config)
    missing = [
        key
        for key in ("WITNESS_DATABASE", "WITNESS_KEY_FILE", "WITNESS_NAME")
        if not app.config.get(key)
    ]
    if missing:
        raise ValueError(f"the witness needs {', '.join(missing)}")

    cosigner = Cosigner(app.config["WITNESS_NAME"], load_key(app.config["WITNESS_KEY_FILE"]))
    store = WitnessStore(app.config["WITNESS_DATABASE"])
    store.check_identity(cosigner.verifier_key())
    clock = app.config.get("WITNESS_CLOCK") or system_clock
    app.extensions["sayso_witness"] = Witness(store, cosigner, clock)
    app.register_blueprint(bp)

    @app.errorhandler(HTTPException)
    def plain_error(error: HTTPException):
        # Clients of a witness are programs: a line of text, not an HTML page.
        response = text_response(error.code or 500, f"{error.name}: {error.description}\n")
        if error.code == 405 and error.valid_methods:
            response.headers["Allow"] = ", ".join(error.valid_methods)
        return response

    return app


__all__ = ["create_witness_app"]
