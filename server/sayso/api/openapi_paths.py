"""What the OpenAPI document learns from the routes themselves, beyond their docstrings.

- A route whose body depends on the field in its path (``/me/disclosures/<field>``) is
  one Flask route, but a body schema cannot depend on a path parameter: the document
  gives one path per registry field, each with that field's own value schema, so a
  generated client has one typed method per field.
- An operation whose view has a Flask-Limiter limit answers 429 past it; the document
  says so, with the limit, from the limiter's own registry.
"""

from __future__ import annotations

import copy

from flask_limiter.util import get_qualified_name

from sayso.api.json_schema import NO_NUL
from sayso.extensions import limiter
from sayso.fields import FIELDS

#: The schema a per-field operation's docstring names for "this field's value".
FIELD_VALUE = "#/components/schemas/FieldValue"
FIELD_PARAMETER = "#/components/parameters/Field"
TOO_MANY_REQUESTS = "TooManyRequests"


def camel(name: str) -> str:
    """``browsing_categories`` → ``BrowsingCategories``."""
    return "".join(part.title() for part in name.split("_"))


def value_component(field: str) -> str:
    """The component name of one field's ``{"value": ...}`` body."""
    return f"{camel(field)}Value"


def _replace_refs(node, old: str, new: str):
    if isinstance(node, dict):
        return {
            key: (new if key == "$ref" and value == old else _replace_refs(value, old, new))
            for key, value in node.items()
        }
    if isinstance(node, list):
        return [_replace_refs(value, old, new) for value in node]
    return node


def _mentions(node, ref: str) -> bool:
    if isinstance(node, dict):
        return node.get("$ref") == ref or any(_mentions(v, ref) for v in node.values())
    if isinstance(node, list):
        return any(_mentions(v, ref) for v in node)
    return False


def _for_field(method: str, operation: dict, field: str) -> dict:
    body = f"#/components/schemas/{value_component(field)}"
    operation = _replace_refs(copy.deepcopy(operation), FIELD_VALUE, body)
    parameters = [p for p in operation.pop("parameters", []) if p.get("$ref") != FIELD_PARAMETER]
    if parameters:
        operation["parameters"] = parameters
    operation["operationId"] = f"{operation['operationId']}_{field}"
    # "Set one field: ..." said of the one field the path names.
    summary = operation["summary"].replace("One field", "The field").replace("one field", "it")
    operation["summary"] = f"{FIELDS[field].label}: {summary}"
    operation["description"] = f"`{field}`: {FIELDS[field].description}"
    if method != "get":
        # The path names a field that exists, so no "no such field" 404 (a read still
        # answers 404 while the consumer has not disclosed the field).
        operation["responses"].pop("404", None)
    return operation


def one_path_per_field(document: dict) -> None:
    """Replace each ``{field}`` path whose operations name ``FieldValue`` by one path per
    field of the registry, and drop ``FieldValue`` once nothing names it."""
    paths = document["paths"]
    for path in [p for p in paths if "{field}" in p and _mentions(paths[p], FIELD_VALUE)]:
        item = paths.pop(path)
        for field in FIELDS:
            paths[path.replace("{field}", field)] = {
                method: _for_field(method, operation, field) for method, operation in item.items()
            }
    if not _mentions(paths, FIELD_VALUE):
        document["components"]["schemas"].pop("FieldValue", None)
    document["paths"] = dict(sorted(paths.items()))


def no_nul_in_parameters(document: dict) -> None:
    """Give each text parameter without a pattern or enum the pattern that refuses NUL
    (refused at the door, sayso.security); bodies have it from json_schema.py."""
    parameters = list(document["components"].get("parameters", {}).values())
    for item in document["paths"].values():
        for operation in item.values():
            parameters += operation.get("parameters", [])
    for parameter in parameters:
        schema = parameter.get("schema", {})
        if schema.get("type") == "string" and not {"pattern", "enum", "$ref"} & set(schema):
            schema["pattern"] = NO_NUL


def rate_limit(app, view, method: str) -> str | None:
    """The Flask-Limiter limits on ``method`` of ``view`` (e.g. ``20 per 1 minute``), or
    None when none applies to it."""
    with app.app_context():  # a limit may be a callable reading the app's config
        limits = limiter.limit_manager.decorated_limits(get_qualified_name(view))
        texts = [
            str(limit.limit)
            for limit in limits
            if not limit.methods or method.lower() in {m.lower() for m in limit.methods}
        ]
    return ", ".join(texts) or None
