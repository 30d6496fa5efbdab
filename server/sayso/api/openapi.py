"""The OpenAPI description of ``/api/v1``, and a page that reads it to people.

The document is built with apispec from two sources only: the marshmallow schemas that
validate and shape the API's bodies, and the YAML after ``---`` in each view's docstring
(which names responses, parameters and schemas defined here as components). Nothing is
written twice, so the description cannot drift from the code it describes. It is built
once per app, on first use, and kept in ``app.extensions``.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from apispec import APISpec, BasePlugin
from apispec_webframeworks.flask import FlaskPlugin
from flask import current_app, jsonify, render_template, request

from sayso.api.blueprint import bp
from sayso.api.json_schema import SaysoMarshmallowPlugin
from sayso.api.openapi_paths import (
    TOO_MANY_REQUESTS,
    no_nul_in_parameters,
    one_path_per_field,
    rate_limit,
    value_component,
)
from sayso.api.reference import reference
from sayso.fields import FIELDS, MANAGE_SCOPE, PERMISSIONS
from sayso.schemas.api import (
    BrandDirectorySchema,
    BrandLookupSchema,
    ErrorSchema,
    GrantedSchema,
    MeSchema,
    ProfileSchema,
    RevokedSchema,
)
from sayso.schemas.consent import BrandGrantsSchema, GrantBodySchema, GrantSchema, GrantViewSchema
from sayso.schemas.contacts import ContactPolicySchema, ContactRecordedSchema, ContactReportSchema
from sayso.schemas.disclosures import DisclosuresSchema, FieldInfoSchema, value_schema
from sayso.schemas.questions import AnswerBodySchema, OpenQuestionSchema
from sayso.schemas.rights import AccessHistorySchema, DataExportSchema, EraseSchema, ReceiptSchema
from sayso.shared.issuer import issuer, public_url

OPENAPI_VERSION = "3.1.0"
EXTENSION_KEY = "sayso.openapi"
HTTP_METHODS = ("get", "put", "post", "patch", "delete")

DESCRIPTION = """\
The REST API of Sayso, a consent broker. Consumers read and change what they disclose \
and revoke what brands may see; brands read what a consumer granted them.

Two ways to authenticate. A consumer's own client signs in on the site and sends the \
`sayso_session` cookie; every PUT and DELETE must also send the CSRF token from \
`GET /api/v1/me` in the `X-CSRFToken` header. A brand sends an OAuth 2 access token \
(authorization code flow with PKCE S256) as `Authorization: Bearer <token>`; a token \
reads only the fields its scopes name and the consumer granted, checked on every request.

Every error has the same JSON shape, `Error`: a stable code in `error`, a sentence in \
`message`, and in `fields` what is wrong with which input."""

TAGS = [
    ("account", "The signed-in consumer, and the registry of disclosure fields."),
    ("disclosures", "What the consumer volunteers, field by field."),
    ("grants", "Which brand may read which field, and taking it back."),
    ("profile", "What a brand's token may read, right now."),
    ("contacts", "Whether a brand may contact the consumer now, and the contacts it reports."),
    ("questions", "Brands' questions for the consumer, and the consumer's optional answers."),
    ("brands", "The brand behind a website, for the browser extension (public)."),
    ("rights", "The consumer's consent receipts, access history, data export and erasure."),
    ("meta", "This description, as JSON and as a page."),
]


def _error(description: str, headers: dict | None = None) -> dict:
    response = {"description": description, "content": {"application/json": {"schema": "Error"}}}
    if headers:
        response["headers"] = headers
    return response


ERROR_RESPONSES = {
    "BadRequest": _error(
        "The request carries a NUL character or a body that is not JSON (`bad_request`), or a "
        "session-authenticated write came without "
        "a valid `X-CSRFToken` header (`csrf_failed`)."
    ),
    "Unauthorized": _error("Nobody is signed in (`unauthorized`)."),
    "NotFound": _error("No such field, brand or disclosure (`not_found`)."),
    "Forbidden": _error(
        "The account is not a consumer's, or the bearer token is not a first-party client's "
        "with scope `consent:manage` (`forbidden`, `insufficient_scope`), or a request that "
        "is recorded came from another site's page with the browser's cookie "
        "(`Sec-Fetch-Site`; `started_on_another_site`)."
    ),
    "PayloadTooLarge": _error("The body is larger than 256 KiB (`payload_too_large`)."),
    "UnsupportedMediaType": _error(
        "The body is not sent as `application/json` (`unsupported_media_type`)."
    ),
    "ValidationFailed": _error(
        "The body did not pass validation (`validation_failed`); `fields` says where."
    ),
    "InvalidToken": _error(
        "The bearer token is missing, unknown, expired or revoked, or the consumer has revoked "
        "everything it covers (`invalid_token` and the other RFC 6750 codes).",
        headers={
            "WWW-Authenticate": {
                "description": "The RFC 6750 challenge, e.g. "
                '`Bearer realm="sayso", error="invalid_token"`.',
                "schema": {"type": "string"},
            }
        },
    ),
    "TokenInUrl": _error(
        "The token was sent in the query string or a form body (`invalid_request`); "
        "send it in the `Authorization` header."
    ),
    "WrongPassword": _error("The password given is not the account's (`wrong_password`)."),
    "TooManyRequests": _error(
        "Too many requests from this address in the limit's window (`too_many_requests`); "
        "the operation's description says the limit. Try again after `Retry-After` seconds.",
        headers={
            "Retry-After": {
                "description": "Seconds until the window resets.",
                "schema": {"type": "integer", "minimum": 0},
            },
            "X-RateLimit-Limit": {
                "description": "Requests allowed in the window.",
                "schema": {"type": "integer", "minimum": 0},
            },
            "X-RateLimit-Remaining": {
                "description": "Requests left in the window (0).",
                "schema": {"type": "integer", "minimum": 0},
            },
            "X-RateLimit-Reset": {
                "description": "When the window resets, in seconds since the Unix epoch.",
                "schema": {"type": "integer", "minimum": 0},
            },
        },
    ),
    "Unavailable": _error(
        "The database failed for a moment (`unavailable`): a connection cut, a lock not "
        "free. Nothing was half done: a change and its ledger event were made together or "
        "not at all, and a read that could not be recorded disclosed nothing. Try again "
        "after `Retry-After` seconds. Or (`master_key_missing`) the data was written under a "
        "master key Sayso's operator has not configured: nothing was lost, and it reads "
        "again once the key is back.",
        headers={
            "Retry-After": {
                "description": "Seconds to wait before trying again.",
                "schema": {"type": "integer"},
            }
        },
    ),
}


class DocstringSummaries(BasePlugin):
    """Each operation's summary is its view's one-line docstring, its id the view's name."""

    def operation_helper(self, path=None, operations=None, *, view=None, app=None, **kwargs):
        """Fill in ``summary`` and ``operationId`` where the YAML does not say them, and
        429 where a rate limit applies."""
        if view is None or not operations:
            return
        lines = []
        for line in (view.__doc__ or "").strip().splitlines():
            if line.strip() == "---":
                break
            lines.append(line.strip())
        # Docstrings quote code the reStructuredText way; OpenAPI readers expect Markdown.
        summary = " ".join(" ".join(lines).split()).replace("``", "`")
        methods = [m for m in operations if m in HTTP_METHODS]
        for method in methods:
            operation = operations[method]
            if summary:
                operation.setdefault("summary", summary)
            # Any request may be refused at the door (a NUL character, a malformed body):
            # see sayso.security. Every operation can therefore answer 400. And any may
            # meet a database fault that passes, answered 503 (sayso.errors).
            operation.setdefault("responses", {}).setdefault("400", "BadRequest")
            operation["responses"].setdefault("503", "Unavailable")
            limit = rate_limit(app, view, method) if app is not None else None
            if limit:
                operation["responses"]["429"] = TOO_MANY_REQUESTS
                said = operation.get("description", "")
                operation["description"] = (
                    f"{said}\n\nRate limited: at most {limit} from one client address; "
                    "past that, 429 with `Retry-After`."
                ).strip()
            name = view.__name__ if len(methods) == 1 else f"{method}_{view.__name__}"
            operation.setdefault("operationId", name)


def _rule_path(app, endpoint: str) -> str:
    return next(app.url_map.iter_rules(endpoint)).rule


def _components(spec: APISpec, app) -> None:
    components = spec.components
    components.schema("Error", schema=ErrorSchema)
    components.schema("Me", schema=MeSchema)
    components.schema("FieldInfo", schema=FieldInfoSchema)
    components.schema(
        "Disclosures",
        {
            "description": "Everything the consumer discloses. Every field is optional; "
            "on PUT, a field left out or `null` is deleted."
        },
        schema=DisclosuresSchema,
    )
    value_names = []
    for name in FIELDS:
        value_names.append(value_component(name))
        components.schema(
            value_names[-1],
            {
                "description": f"The value of `{name}`, as one field's endpoint takes and "
                "gives it."
                + (
                    " No two entries may be the same (the same topic, the same text "
                    "whatever its case and spaces, the same channel)."
                    if FIELDS[name].item_schema is not None
                    else ""
                )
            },
            schema=value_schema(name),
        )
    # What the per-field operations' docstrings name; the document replaces it with each
    # field's own schema on the path of that field (openapi_paths.one_path_per_field).
    components.schema(
        "FieldValue",
        {
            "description": 'One field\'s value, as `{"value": ...}`; '
            "it must fit the field named in the path.",
            "anyOf": [{"$ref": f"#/components/schemas/{n}"} for n in value_names],
        },
    )
    components.schema("GrantView", schema=GrantViewSchema)
    components.schema("GrantBody", schema=GrantBodySchema)
    components.schema("Grant", schema=GrantSchema)
    components.schema("BrandGrants", schema=BrandGrantsSchema)
    components.schema("Revoked", schema=RevokedSchema)
    components.schema("Granted", schema=GrantedSchema)
    components.schema("BrandLookup", schema=BrandLookupSchema)
    components.schema("BrandDirectory", schema=BrandDirectorySchema)
    components.schema("Receipt", schema=ReceiptSchema)
    components.schema("AccessHistory", schema=AccessHistorySchema)
    components.schema("DataExport", schema=DataExportSchema)
    components.schema("Erase", schema=EraseSchema)
    components.schema("ContactPolicy", schema=ContactPolicySchema)
    components.schema("OpenQuestion", schema=OpenQuestionSchema)
    components.schema("AnswerBody", schema=AnswerBodySchema)
    components.schema("ContactReport", schema=ContactReportSchema)
    # `breach` and `reason` are in the answer only when the token may learn about the
    # consumer's channels (see the endpoint).
    components.schema("ContactRecorded", schema=ContactRecordedSchema(partial=("breach", "reason")))
    components.schema(
        "Profile",
        {"description": "What a brand's token reads: the granted fields, and nothing else."},
        schema=ProfileSchema,
    )

    components.parameter(
        "Field",
        "path",
        {
            "name": "field",
            "required": True,
            "description": "A disclosure field of the registry (see `GET /api/v1/fields`).",
            "schema": {"type": "string", "enum": list(FIELDS)},
        },
    )
    components.parameter(
        "BrandId",
        "path",
        {
            "name": "brand_id",
            "required": True,
            "description": "A brand's public id, as `GET /api/v1/me/grants` lists it.",
            "schema": {"type": "string"},
        },
    )
    for name, response in ERROR_RESPONSES.items():
        components.response(name, response)

    components.security_scheme(
        "session",
        {
            "type": "apiKey",
            "in": "cookie",
            "name": app.config["SESSION_COOKIE_NAME"],
            "description": "The session cookie set when the consumer signs in on the site.",
        },
    )
    components.security_scheme(
        "csrf",
        {
            "type": "apiKey",
            "in": "header",
            "name": "X-CSRFToken",
            "description": "The CSRF token from `GET /api/v1/me`; every session-authenticated "
            "PUT and DELETE sends it.",
        },
    )
    token_url = _rule_path(app, "oauth.token")
    components.security_scheme(
        "oauth2",
        {
            "type": "oauth2",
            "description": "An access token from the authorization code flow (PKCE S256 "
            "required), sent as `Authorization: Bearer <token>`; a token bound to a key "
            "(RFC 9449 DPoP) is sent as `Authorization: DPoP <token>` with a `DPoP` proof "
            "header instead (see docs/brands.md).",
            "flows": {
                "authorizationCode": {
                    "authorizationUrl": _rule_path(app, "oauth.authorize"),
                    "tokenUrl": token_url,
                    "refreshUrl": token_url,
                    "scopes": {
                        **{
                            field.scope: f"{field.label}: read it, if the consumer grants it."
                            for field in FIELDS.values()
                        },
                        **{
                            permission.scope: f"{permission.label}: {permission.description}"
                            for permission in PERMISSIONS.values()
                        },
                        MANAGE_SCOPE: "Act for the consumer on their own consent (first-party "
                        "clients only, such as the Sayso browser extension).",
                    },
                }
            },
        },
    )


def build_spec(app) -> dict:
    """The OpenAPI document for every route of the ``api`` blueprint of ``app``."""
    try:
        api_version = version("sayso")
    except PackageNotFoundError:  # running from a source tree that was never installed
        api_version = "0"
    spec = APISpec(
        title="Sayso API",
        version=api_version,
        openapi_version=OPENAPI_VERSION,
        plugins=[FlaskPlugin(), SaysoMarshmallowPlugin(), DocstringSummaries()],
        info={"description": DESCRIPTION},
    )
    for name, description in TAGS:
        spec.tag({"name": name, "description": description})
    _components(spec, app)
    endpoints = sorted(
        {
            r.endpoint: r.rule
            for r in app.url_map.iter_rules()
            if r.endpoint.startswith(f"{bp.name}.")
        }.items(),
        key=lambda item: item[1],
    )
    for endpoint, _ in endpoints:
        spec.path(view=app.view_functions[endpoint], app=app)
    document = spec.to_dict()
    one_path_per_field(document)
    no_nul_in_parameters(document)
    return document


def openapi_document(app=None) -> dict:
    """The app's OpenAPI document, built on first use and kept for the app's lifetime.

    Its OAuth URLs are paths; :func:`served_document` makes them absolute for a request.
    """
    app = app or current_app
    if EXTENSION_KEY not in app.extensions:
        app.extensions[EXTENSION_KEY] = build_spec(app)
    return app.extensions[EXTENSION_KEY]


def served_document() -> dict:
    """The document as served: with the issuer's origin (``SAYSO_ISSUER``, else this
    request's) as the server and in OAuth URLs.

    OpenAPI 3.1 wants absolute OAuth URLs, and the origin is known only per request (as for
    the RFC 8414 metadata), so the cached document is copied where they differ.
    """
    document = openapi_document()
    schemes = dict(document["components"]["securitySchemes"])
    flow = dict(schemes["oauth2"]["flows"]["authorizationCode"])
    flow["authorizationUrl"] = public_url("oauth.authorize")
    flow["tokenUrl"] = flow["refreshUrl"] = public_url("oauth.token")
    schemes["oauth2"] = {**schemes["oauth2"], "flows": {"authorizationCode": flow}}
    return {
        **document,
        "servers": [{"url": issuer() + request.script_root}],
        "components": {**document["components"], "securitySchemes": schemes},
    }


@bp.get("/openapi.json")
def openapi_json():
    """This API's OpenAPI 3.1 description.
    ---
    get:
      tags: [meta]
      security: []
      responses:
        200:
          description: The OpenAPI document.
          content:
            application/json:
              schema: {type: object}
    """
    return jsonify(served_document())


@bp.get("/docs")
def docs():
    """This API's description as a page for people.
    ---
    get:
      tags: [meta]
      security: []
      responses:
        200:
          description: An HTML page rendered from the OpenAPI document.
          content:
            text/html:
              schema: {type: string}
    """
    return render_template("api_docs.html", ref=reference(openapi_document()))
