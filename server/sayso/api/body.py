"""Reading JSON request bodies the same way everywhere."""

from flask import abort, request
from marshmallow import Schema


def load_json(schema: Schema) -> dict:
    """Parse the body as a JSON object and load it with ``schema`` (errors become 4xx)."""
    if not request.is_json:
        abort(415, "Send the body as application/json.")
    try:
        data = request.get_json(silent=True)
    except RecursionError:
        # The JSON parser recurses once per nesting level; ``silent`` covers only ValueError.
        data = None
    if data is None:
        abort(400, "The body is not valid JSON.")
    if not isinstance(data, dict):
        abort(400, "The body must be a JSON object.")
    return schema.load(data)
