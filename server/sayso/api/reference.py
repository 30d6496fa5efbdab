"""Turning the OpenAPI document into what the API reference page shows.

The page (``GET /api/v1/docs``) is rendered on the server from the same document that
``/api/v1/openapi.json`` serves, so it needs no script and cannot say something else.
Types are given as lists of ``(text, anchor)`` pieces: the template links a piece when
it names a schema of the document, and prints it as text otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass, field

HTTP_METHODS = ("get", "put", "post", "patch", "delete")
_REF_PREFIX = "#/components/"

Pieces = list[tuple[str, str | None]]


@dataclass
class Row:
    """One property of a schema, or one parameter of an operation."""

    name: str
    type: Pieces
    required: bool
    rules: str
    description: str
    location: str = ""


@dataclass
class Response:
    """One documented status of an operation."""

    status: str
    description: str
    media_type: str
    type: Pieces


@dataclass
class Operation:
    """One method on one path."""

    method: str
    path: str
    anchor: str
    summary: str
    description: str
    auth: str
    parameters: list[Row]
    body: Pieces
    responses: list[Response]


@dataclass
class Section:
    """The operations of one tag."""

    name: str
    description: str
    operations: list[Operation] = field(default_factory=list)


@dataclass
class SchemaEntry:
    """One component schema: either its properties, or its type when it has none."""

    name: str
    anchor: str
    description: str
    type: Pieces
    properties: list[Row]


@dataclass
class Reference:
    """Everything the page shows."""

    title: str
    version: str
    openapi: str
    description: str
    auth: list[tuple[str, str, str]]
    scopes: list[tuple[str, str]]
    sections: list[Section]
    schemas: list[SchemaEntry]


def _anchor(kind: str, name: str) -> str:
    return f"{kind}-{name}".replace("/", "-").replace("{", "").replace("}", "")


def _ref_name(ref: str) -> tuple[str, str]:
    kind, _, name = ref.removeprefix(_REF_PREFIX).partition("/")
    return kind, name


def _resolve(document: dict, obj: dict) -> dict:
    if "$ref" in obj:
        kind, name = _ref_name(obj["$ref"])
        return document["components"][kind][name]
    return obj


def type_pieces(schema: dict) -> Pieces:
    """How a JSON Schema reads to people, e.g. ``array of <Interest>`` or ``string or null``."""
    if not schema:
        return [("any", None)]
    if "$ref" in schema:
        _, name = _ref_name(schema["$ref"])
        return [(name, _anchor("schema", name))]
    for keyword in ("anyOf", "oneOf"):
        if keyword in schema:
            pieces: Pieces = []
            for i, option in enumerate(schema[keyword]):
                if i:
                    pieces.append((" or ", None))
                pieces += type_pieces(option)
            return pieces
    types = schema.get("type", "any")
    types = types if isinstance(types, list) else [types]
    pieces = []
    for i, name in enumerate(types):
        if i:
            pieces.append((" or ", None))
        if name == "array":
            pieces += [("array of ", None), *type_pieces(schema.get("items", {}))]
        elif name == "object" and schema.get("additionalProperties"):
            pieces += [("object of ", None), *type_pieces(schema["additionalProperties"])]
        elif "enum" in schema and name != "null":
            pieces.append(("one of " + ", ".join(str(v) for v in schema["enum"]), None))
        elif "format" in schema and name != "null":
            pieces.append((f"{name} ({schema['format']})", None))
        else:
            pieces.append((name, None))
    return pieces


def rules(schema: dict) -> str:
    """The constraints of a JSON Schema, in words."""
    said = []
    if "minLength" in schema or "maxLength" in schema:
        low, high = schema.get("minLength", 0), schema.get("maxLength")
        said.append(f"{low} to {high} characters" if high is not None else f"≥ {low} characters")
    if "minimum" in schema or "maximum" in schema:
        low, high = schema.get("minimum", "…"), schema.get("maximum", "…")
        said.append(f"{low} to {high}")
    if "maxItems" in schema:
        said.append(f"at most {schema['maxItems']} items")
    if "pattern" in schema:
        said.append(f"matches {schema['pattern']}")
    if schema.get("readOnly"):
        said.append("read-only")
    return "; ".join(said)


def _auth(document: dict, security: list | None) -> str:
    if security is None:
        security = document.get("security", [])
    if not security:
        return "None: anyone may call it."
    schemes = document["components"].get("securitySchemes", {})
    options = []
    for requirement in security:
        parts = []
        for name, scopes in requirement.items():
            scheme = schemes.get(name, {})
            if scheme.get("type") == "apiKey":
                parts.append(f"`{scheme['name']}` {scheme['in']}")
            elif scheme.get("type") == "oauth2":
                parts.append(
                    "OAuth 2 bearer token" + (f" with {', '.join(scopes)}" if scopes else "")
                )
            else:
                parts.append(name)
        options.append(" + ".join(parts))
    return " or ".join(options)


def _parameters(document: dict, operation: dict) -> list[Row]:
    rows = []
    for parameter in operation.get("parameters", []):
        parameter = _resolve(document, parameter)
        schema = parameter.get("schema", {})
        rows.append(
            Row(
                name=parameter["name"],
                type=type_pieces(schema),
                required=parameter.get("required", False),
                rules=rules(schema),
                description=parameter.get("description", ""),
                location=parameter["in"],
            )
        )
    return rows


def _content(content: dict) -> tuple[str, Pieces]:
    for media_type, media in content.items():
        return media_type, type_pieces(media.get("schema", {}))
    return "", []


def _responses(document: dict, operation: dict) -> list[Response]:
    responses = []
    for status, response in sorted(operation.get("responses", {}).items()):
        response = _resolve(document, response)
        media_type, pieces = _content(response.get("content", {}))
        responses.append(Response(status, response.get("description", ""), media_type, pieces))
    return responses


def _schema_entry(name: str, schema: dict) -> SchemaEntry:
    required = set(schema.get("required", []))
    properties = [
        Row(
            name=prop,
            type=type_pieces(sub),
            required=prop in required,
            rules=rules(sub),
            description=sub.get("description", ""),
        )
        for prop, sub in schema.get("properties", {}).items()
    ]
    pieces = [] if properties else type_pieces(schema)
    return SchemaEntry(
        name, _anchor("schema", name), schema.get("description", ""), pieces, properties
    )


def reference(document: dict) -> Reference:
    """The page's content, read from an OpenAPI 3 document."""
    sections = {
        tag["name"]: Section(tag["name"], tag.get("description", ""))
        for tag in document.get("tags", [])
    }
    for path, item in document.get("paths", {}).items():
        for method in HTTP_METHODS:
            if method not in item:
                continue
            operation = item[method]
            tag = (operation.get("tags") or ["other"])[0]
            section = sections.setdefault(tag, Section(tag, ""))
            body = operation.get("requestBody", {})
            section.operations.append(
                Operation(
                    method=method.upper(),
                    path=path,
                    anchor=_anchor("op", f"{method}{path}"),
                    summary=operation.get("summary", ""),
                    description=operation.get("description", ""),
                    auth=_auth(document, operation.get("security")),
                    parameters=_parameters(document, operation),
                    body=_content(body.get("content", {}))[1],
                    responses=_responses(document, operation),
                )
            )
    schemes = document["components"].get("securitySchemes", {})
    scopes = []
    for scheme in schemes.values():
        for flow in scheme.get("flows", {}).values():
            scopes += list(flow.get("scopes", {}).items())
    return Reference(
        title=document["info"]["title"],
        version=document["info"]["version"],
        openapi=document["openapi"],
        description=document["info"].get("description", ""),
        auth=[(name, s["type"], s.get("description", "")) for name, s in schemes.items()],
        scopes=scopes,
        sections=[s for s in sections.values() if s.operations],
        schemas=[
            _schema_entry(name, schema)
            for name, schema in document["components"].get("schemas", {}).items()
        ],
    )
