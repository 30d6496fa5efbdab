"""The OpenAPI description of ``/api/v1``: valid, complete, readable, and true under fuzzing.

The fuzzing test loads the document the app serves into schemathesis and runs every
operation with generated requests (valid ones and invalid ones), signed in as a consumer
and holding a brand's real bearer token, with every check schemathesis has: no server
error; status, content type, headers and body as documented; what the document calls
valid accepted and what it calls invalid refused; authentication enforced; a deleted
resource gone.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta

import pycountry
import pytest
import schemathesis
from apispec_webframeworks.flask import FlaskPlugin
from schemathesis import engine
from schemathesis.engine import events

from sayso import services
from sayso.api.openapi import EXTENSION_KEY, openapi_document
from sayso.coarsening import COARSENABLE
from sayso.fields import FIELDS, MANAGE_SCOPE, scopes
from sayso.schemas.contacts import CLOCK_SKEW, REPORT_WITHIN
from tests.helpers import api_headers, sign_up
from tests.oauth_helpers import ALL_SCOPES, connect, make_brand

SPEC = "/api/v1/openapi.json"
PER_FIELD = "/api/v1/me/disclosures/{field}"
METHODS = {"get", "put", "post", "patch", "delete"}

# Generated cases per operation in the fuzzing phase (the coverage phase adds its own
# boundary cases). Bounded so the run takes seconds; deterministic, so a failure found
# once is found on every run and every machine.
MAX_EXAMPLES = 25
RESPONSE_CHECKS = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_headers_conformance",
    "response_schema_conformance",
)
# Checks that cannot apply to one operation, and why (every other check runs everywhere,
# as `st run --checks all` runs them). Keyed by operation, then check.
NOT_APPLICABLE: dict[str, dict[str, str]] = {}
# Operations the run cannot make succeed, and why; everything else must succeed at least once.
CANNOT_SUCCEED = {
    SPEC: "schemathesis does not fuzz the document it was loaded from",
    "DELETE /api/v1/me": "erasure needs the account's password, which generators cannot guess",
}
DISCLOSURES = {
    "interests": [{"topic_id": 100}, {"text": "crime fiction"}],
    "browsing_categories": [{"topic_id": 332, "weight": 0.5}],
    "channels": [
        {
            "channel": "email",
            "max_per_week": 2,
            "quiet_hours": {"start": "21:00", "end": "08:00", "tz": "Europe/Paris"},
        }
    ],
}


@pytest.fixture
def document(client) -> dict:
    response = client.get(SPEC)
    assert response.status_code == 200
    return response.get_json()


def _refs(node):
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref":
                yield value
            else:
                yield from _refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from _refs(value)


def _operations(document):
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method in METHODS:
                yield path, method, operation


def test_document_is_valid_openapi_3_1(document):
    assert document["openapi"].startswith("3.1")
    schema = schemathesis.openapi.from_dict(document)
    schema.validate()  # against the OpenAPI 3.1 meta-schema; raises on the first error
    labels = [result.ok().label for result in schema.get_all_operations()]
    assert len(labels) == len(list(_operations(document)))


def test_every_reference_resolves(document):
    for ref in set(_refs(document)):
        assert ref.startswith("#/"), ref
        node = document
        for part in ref[2:].split("/"):
            assert part in node, f"{ref} does not resolve"
            node = node[part]


def test_every_api_route_is_documented_and_nothing_else(app, document):
    routed = set()
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/api/"):
            path = FlaskPlugin.flaskpath2openapi(rule.rule)
            # A route whose body depends on the field is documented once per field.
            paths = [path]
            if path == PER_FIELD:
                paths = [path.replace("{field}", name) for name in FIELDS]
            methods = {m.lower() for m in rule.methods - {"HEAD", "OPTIONS"}}
            routed |= {(p, m) for p in paths for m in methods}
    documented = {(path, method) for path, method, _ in _operations(document)}
    assert routed == documented
    expected = {
        "/api/v1/fields",
        "/api/v1/me",
        "/api/v1/me/disclosures",
        *(PER_FIELD.replace("{field}", name) for name in FIELDS),
        "/api/v1/me/grants",
        "/api/v1/me/grants/{brand_id}",
        "/api/v1/me/grants/{brand_id}/{field}",
        "/api/v1/profile",
    }
    assert expected <= set(document["paths"])


def test_every_operation_says_who_may_call_it_and_how_it_fails(document):
    error = {"$ref": "#/components/schemas/Error"}
    responses = document["components"]["responses"]
    for path, method, operation in _operations(document):
        label = f"{method.upper()} {path}"
        assert operation["summary"], label
        assert "security" in operation, label
        if any("session" in requirement for requirement in operation["security"]):
            assert "401" in operation["responses"], label
            if method != "get":
                assert {"session": [], "csrf": []} in operation["security"], label
                assert "400" in operation["responses"], label  # csrf_failed
        for status, response in operation["responses"].items():
            if status.startswith(("4", "5")):
                name = response["$ref"].rsplit("/", 1)[1]
                assert responses[name]["content"]["application/json"]["schema"] == error, label
    profile = document["paths"]["/api/v1/profile"]["get"]
    assert profile["security"] == [{"oauth2": []}]


def _schema(document, node: dict) -> dict:
    while "$ref" in node:
        node = document["components"]["schemas"][node["$ref"].rsplit("/", 1)[1]]
    return node


def test_each_field_has_a_path_that_takes_its_own_shape_only(document):
    for name in FIELDS:
        item = document["paths"][PER_FIELD.replace("{field}", name)]
        assert set(item) == {"get", "put", "delete"}, name
        body = item["put"]["requestBody"]["content"]["application/json"]["schema"]
        own = {"$ref": f"#/components/schemas/{name.title().replace('_', '')}Value"}
        assert (
            body == own == item["put"]["responses"]["200"]["content"]["application/json"]["schema"]
        )
        assert _schema(document, body)["required"] == ["value"]
        assert _schema(document, body)["additionalProperties"] is False
        assert item["put"]["operationId"] == f"put_disclosure_{name}"
        assert "404" not in item["put"]["responses"] and "404" in item["get"]["responses"]
    assert "FieldValue" not in document["components"]["schemas"]


def test_an_interest_is_exactly_one_of_a_topic_or_text(client, document):
    interest = document["components"]["schemas"]["Interest"]
    by_key = {tuple(v["required"]): v for v in interest["oneOf"]}
    assert set(by_key) == {("topic_id",), ("text",)}
    for key, variant in by_key.items():
        assert set(variant["properties"]) == set(key)
        assert variant["additionalProperties"] is False
    assert 100 in by_key[("topic_id",)]["properties"]["topic_id"]["enum"]
    text = by_key[("text",)]["properties"]["text"]
    assert (text["minLength"], text["maxLength"]) == (1, 64)
    pattern = re.compile(text["pattern"])
    assert pattern.search("crime fiction") and pattern.search(" Poetry ")
    assert not any(pattern.search(t) for t in ("   ", "a\u202eb", "a\u0000", "\u3164"))
    # And the server says the same: both, neither, or another key is refused.
    sign_up(client, "ada@example.org")
    headers = api_headers(client)
    for value in ({"topic_id": 100, "text": "crime"}, {}, {"topic_id": 100, "weight": 1}):
        response = client.put(
            "/api/v1/me/disclosures/interests", json={"value": [value]}, headers=headers
        )
        assert response.status_code == 422, value
    response = client.put(
        "/api/v1/me/disclosures/interests", json={"value": [{"topic_id": 100.0}]}, headers=headers
    )
    assert response.get_json() == {"value": [{"topic_id": 100}]}


def test_the_brand_lookup_needs_a_domain_that_is_not_blank(client, document):
    (domain,) = document["paths"]["/api/v1/brands/lookup"]["get"]["parameters"]
    assert domain["required"] and domain["schema"]["minLength"] == 1
    assert domain["schema"]["maxLength"] == 253
    assert not re.search(domain["schema"]["pattern"], " \t")
    for query in ("", "?domain=", "?domain=%20%20", "?domain=" + "a" * 254):
        response = client.get("/api/v1/brands/lookup" + query)
        assert response.status_code == 400, query
        assert response.headers["Access-Control-Allow-Origin"] == "*"


def test_429_is_documented_where_a_rate_limit_applies_and_is_what_it_says(app_factory):
    app = app_factory(LOGIN_RATE_LIMIT="2 per minute")
    client = app.test_client()
    document = client.get(SPEC).get_json()
    limited = {
        f"{method.upper()} {path}"
        for path, method, operation in _operations(document)
        if "429" in operation["responses"]
    }
    assert limited == {"DELETE /api/v1/me"}
    erase = document["paths"]["/api/v1/me"]["delete"]
    assert "at most 2 per 1 minute" in erase["description"]
    too_many = document["components"]["responses"]["TooManyRequests"]
    sign_up(client, "ada@example.org")
    headers = {**api_headers(client), "Content-Type": "application/json"}
    wrong = json.dumps({"password": "not the password"})
    statuses = [client.delete("/api/v1/me", data=wrong, headers=headers) for _ in range(3)]
    assert [r.status_code for r in statuses] == [403, 403, 429]
    refused = statuses[-1]
    assert refused.get_json()["error"] == "too_many_requests"
    assert set(refused.get_json()) == {"error", "message", "fields"}
    assert set(too_many["headers"]) <= set(refused.headers.keys())
    assert 0 <= int(refused.headers["Retry-After"]) <= 60


def test_error_schema_matches_an_actual_error(client, document):
    error = document["components"]["schemas"]["Error"]
    body = client.get("/api/v1/me").get_json()
    assert set(body) == set(error["properties"]) == set(error["required"])


def test_security_schemes_come_from_config_and_registry(app, document):
    schemes = document["components"]["securitySchemes"]
    assert schemes["session"] == {**schemes["session"], "in": "cookie", "name": "sayso_session"}
    assert schemes["csrf"]["name"] == "X-CSRFToken"
    flow = schemes["oauth2"]["flows"]["authorizationCode"]
    assert flow["authorizationUrl"] == "http://localhost/oauth/authorize"
    assert flow["tokenUrl"] == "http://localhost/oauth/token"
    assert set(flow["scopes"]) == {*scopes(), MANAGE_SCOPE}
    assert document["servers"] == [{"url": "http://localhost"}]
    field = document["components"]["parameters"]["Field"]
    assert field["schema"]["enum"] == list(FIELDS)


def test_document_is_built_once_per_app(app, client):
    client.get(SPEC)
    built = app.extensions[EXTENSION_KEY]
    client.get(SPEC)
    client.get("/api/v1/docs")
    assert openapi_document(app) is built


def test_docs_page_lists_every_operation_and_schema_without_scripts(client, document):
    response = client.get("/api/v1/docs")
    assert response.status_code == 200
    assert response.mimetype == "text/html"
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]
    html = response.get_data(as_text=True)
    # The CSP forbids inline code; the page has none, and loads nothing from elsewhere.
    inline_scripts = [tag for tag in re.findall(r"<script\b[^>]*>", html) if "src=" not in tag]
    assert not inline_scripts and "<style" not in html and " style=" not in html
    assert not re.search(r'(src|href)="(https?:)?//', html)
    for path, method, _ in _operations(document):
        assert f"{method.upper()}</span> <code>{path}</code>" in html
    for name in document["components"]["schemas"]:
        assert f'id="schema-{name}"' in html
    for scope in scopes():
        assert f"<code>{scope}</code>" in html


QUIET_HOURS_IN_A_FOLDER = {
    "channels": [
        {
            "channel": "email",
            "max_per_week": 1,
            "quiet_hours": {"start": "21:00", "end": "08:00", "tz": "Europe"},
        }
    ]
}


@pytest.mark.parametrize(
    ("method", "path", "body", "status"),
    [
        # JSON nested deeper than the parser's recursion limit.
        ("put", "/api/v1/me/disclosures", "[" * 5000 + "]" * 5000, 400),
        ("put", "/api/v1/me/disclosures/interests", '{"value":' * 3000 + "1" + "}" * 3000, 400),
        # A time zone name that is a folder of the tz database, not a zone.
        ("put", "/api/v1/me/disclosures", QUIET_HOURS_IN_A_FOLDER, 422),
        # A NUL in an id, which PostgreSQL refuses to compare.
        ("delete", "/api/v1/me/grants/br_%00", None, 400),
        ("delete", "/api/v1/me/grants/br_%00/interests", None, 400),
        # A question id beyond the 32-bit column, which PostgreSQL refuses to compare.
        ("put", f"/api/v1/me/questions/{2**31}", {"answer": "Chabon"}, 404),
        ("delete", f"/api/v1/me/questions/{2**63}", None, 404),
    ],
)
def test_inputs_the_generators_rarely_reach_are_refused_not_crashed_on(
    client, method, path, body, status
):
    """Each of these was a 500 once; the fuzzer is unlikely to draw them, so they stay here."""
    sign_up(client, "ada@example.org")
    headers = {**api_headers(client), "Content-Type": "application/json"}
    data = body if isinstance(body, str | None) else json.dumps(body)
    response = client.open(path, method=method.upper(), data=data, headers=headers)
    assert response.status_code == status, response.get_data(as_text=True)
    assert set(response.get_json()) == {"error", "message", "fields"}


def _credentials(client, runner) -> dict:
    """Sign a consumer in with some disclosures, and connect a brand to all their fields."""
    sign_up(client, "ada@example.org")
    headers = api_headers(client)
    response = client.put("/api/v1/me/disclosures", json=DISCLOSURES, headers=headers)
    assert response.status_code == 200
    scopes_ = {**ALL_SCOPES, "contacts:write": "count our emails", "answers:read": "know you"}
    brand = make_brand(runner, scopes=scopes_)
    granted = [*FIELDS, "contacts", "answers"]
    token = connect(client, brand, granted, scope=" ".join(scopes_))["access_token"]
    # A published question of that brand, so the consumer has one to answer.
    app = client.application
    with app.app_context():
        service = services.questions()
        question = service.create(
            services.brands().by_public_id(brand["brand_id"]),
            {"kind": "text", "prompt": "Which authors?", "purpose": "tell you about books"},
            actor="test",
        )
        service.publish(question, actor="test")
        question_id = question.id
    return {
        "session": client.get_cookie("sayso_session").value,
        "csrf": headers["X-CSRFToken"],
        "bearer": token,
        "question_id": question_id,
        "brand_id": brand["brand_id"],
        "reconnect": lambda: connect(client, brand, granted, scope=" ".join(scopes_)),
    }


def _disclosed(case) -> dict:
    """The field values a disclosure write's body holds, by field name."""
    body, path = case.body, case.operation.path
    if not isinstance(body, dict) or not path.startswith("/api/v1/me/disclosures"):
        return {}
    if path == "/api/v1/me/disclosures":
        return {name: value for name, value in body.items() if name in FIELDS}
    return {path.rsplit("/", 1)[1]: body.get("value")}


def _outside(location: dict) -> bool:
    region, country = location.get("region"), location.get("country")
    subdivision = pycountry.subdivisions.get(code=region) if isinstance(region, str) else None
    return region is not None and (
        subdivision is None
        or subdivision.country_code != country
        or subdivision.parent_code is not None
    )


def _breaks_an_unstated_rule(case, granted: set[str]) -> str | None:
    """Which rule the document can say only in words (JSON Schema cannot state it) a
    request breaks, or None. The descriptions say each; the server refuses each with 422."""
    for name, value in _disclosed(case).items():
        field = FIELDS[name]
        items = [i for i in value if isinstance(i, dict)] if isinstance(value, list) else []
        keys = [field.unique_key(item) for item in items] if field.item_schema else []
        if len(keys) != len(set(keys)):
            return f"{name}: two entries are the same"
        if any(
            isinstance(quiet := item.get("quiet_hours"), dict)
            and quiet.get("start") == quiet.get("end")
            for item in items
        ):
            return "quiet hours that start when they end"
        if name == "location" and isinstance(value, dict) and _outside(value):
            return "a region of another country"
        brands = value.get("brands") if isinstance(value, dict) else None
        choices = [value, *(brands.values() if isinstance(brands, dict) else ())]
        if any(
            isinstance(choice, dict)
            and choice.get("new_releases_of")
            and "new_releases" not in choice.get("kinds", ())
            for choice in choices
        ):
            return "names of authors without new releases"
        if isinstance(brands, dict) and set(brands) - granted:
            return "a choice for a brand the consumer never granted anything"
    view = case.body.get("view") if isinstance(case.body, dict) else None
    field = (case.path_parameters or {}).get("field")
    if isinstance(view, dict) and view.get("name") != "all" and field not in COARSENABLE:
        return "a view of less than everything on a field that is always shared whole"
    answer = case.body.get("answer") if isinstance(case.body, dict) else None
    answering = case.operation.path == "/api/v1/me/questions/{question_id}"
    if answering and answer is not None and not isinstance(answer, str):
        return "an answer of another kind than its question's (the run's one is a text)"
    sent_at = case.body.get("sent_at") if isinstance(case.body, dict) else None
    if case.operation.path == "/api/v1/contacts" and isinstance(sent_at, str):
        try:
            when = datetime.fromisoformat(sent_at)
        except ValueError:
            return None
        now = datetime.now(UTC)
        if when.tzinfo and not now - REPORT_WITHIN < when < now + CLOCK_SKEW:
            return "a contact reported more than a year after it was sent, or before"
    return None


def _valid_only_where_the_document_can_say_so(schema, granted: set[str]) -> None:
    """Generated requests the document calls valid, but which break a rule only its words
    state, are dropped; invalid ones are all kept (the server must refuse them)."""

    @schema.hook
    def filter_case(context, case):
        meta = case.meta
        if meta is None or not meta.generation.mode.is_positive:
            return True
        return _breaks_an_unstated_rule(case, granted) is None


def _run(schema) -> tuple[list[str], dict[str, set[int]]]:
    """Run schemathesis's engine (what ``st run`` runs); its failures, and statuses by operation.

    The engine runs the coverage phase (boundary values, wrong types and media types,
    unexpected methods) as well as fuzzing. schemathesis's own pytest integration
    (``from_fixture`` + ``parametrize``) is not used: with pytest 9.2 it fails before
    running anything (``'Function' object has no attribute '_nodeid'``).
    """
    failures, statuses = [], {}
    for event in engine.from_schema(schema).execute():
        if isinstance(event, events.ScenarioFinished):
            seen = statuses.setdefault(event.label, set())
            seen |= {
                i.response.status_code
                for i in event.recorder.interactions.values()
                if i.response is not None
            }
            if event.status in (engine.Status.FAILURE, engine.Status.ERROR):
                for check in (c for checks in event.recorder.checks.values() for c in checks):
                    if check.failure_info is not None:
                        failure = check.failure_info.failure
                        failures.append(
                            f"{event.label} [{event.phase.value}] {failure.title}: "
                            f"{failure.message}\n{check.failure_info.code_sample}"
                        )
                if event.status is engine.Status.ERROR:
                    failures.append(f"{event.label} [{event.phase.value}] errored")
        elif isinstance(event, events.NonFatalError | events.FatalError):
            failures.append(f"engine error: {event!r}")
    return failures, statuses


def test_schemathesis_finds_no_server_error_and_no_drift(app, client, runner):
    credentials = _credentials(client, runner)
    config = schemathesis.Config.from_dict(
        {
            # Valid and invalid requests, a bounded number per operation, the same every run.
            "generation": {
                "mode": "all",
                "max-examples": MAX_EXAMPLES,
                "deterministic": True,
                "database": "none",
            },
            # Sequences of calls along the links schemathesis infers (e.g. a listed question
            # then answered, then its answer removed): where use_after_free and
            # ensure_resource_availability apply. Short, to keep the run bounded.
            "phases": {"stateful": {"enabled": True, "max-steps": 20}},
            # No state carried from earlier runs: each run sees only its own fresh database.
            "cache": {"enabled": False},
            "checks": {"enabled": True},
            "operations": [
                {"include-name": label, "checks": {name: {"enabled": False} for name in checks}}
                for label, checks in NOT_APPLICABLE.items()
            ],
            "auth": {
                "openapi": {
                    "session": {"api_key": credentials["session"]},
                    "csrf": {"api_key": credentials["csrf"]},
                }
            },
            # schemathesis has no credentials for OAuth 2 flows; a static header does the job.
            "headers": {"Authorization": f"Bearer {credentials['bearer']}"},
        }
    )
    schema = schemathesis.openapi.from_wsgi(SPEC, app, config=config)
    # Every check schemathesis registers runs (max_response_time alone needs a number).
    registered = schemathesis.checks.CHECKS.get_all_names()
    assert len(registered) >= 14 and {"use_after_free", "ignored_auth"} <= set(registered)
    enabled = config.projects.default.checks
    assert all(enabled.get_by_name(name=name).enabled for name in registered)
    _valid_only_where_the_document_can_say_so(schema, {credentials["brand_id"]})
    failures, statuses = _run(schema)
    assert not failures, "\n\n".join(failures)

    # The run replaces and deletes disclosures freely, so reading one field rarely finds
    # it disclosed; that success is checked here, with every field disclosed again.
    headers = {"X-CSRFToken": credentials["csrf"]}
    cookies = {"sayso_session": credentials["session"]}
    response = client.put("/api/v1/me/disclosures", json=DISCLOSURES, headers=headers)
    assert response.status_code == 200
    # Hand-made calls carry the credentials as plain cookies and headers, which
    # ignored_auth cannot tell from generated ones (the run above checked auth): these
    # check the responses only.
    checks = [getattr(schemathesis.checks, name) for name in RESPONSE_CHECKS]
    for name in FIELDS:
        read_field = schema[f"/api/v1/me/disclosures/{name}"]["GET"]
        response = read_field.Case().call_and_validate(cookies=cookies, checks=checks)
        statuses[read_field.label].add(response.status_code)
    # Likewise the generators rarely draw the one open question's id, or a past sent_at;
    # and the run may have revoked the brand, which closes its question: grant it again.
    fresh = credentials["reconnect"]()["access_token"]
    question = {"question_id": credentials["question_id"]}
    for method, body in (("PUT", {"answer": "Michael Chabon"}), ("DELETE", None)):
        operation = schema["/api/v1/me/questions/{question_id}"][method]
        case = operation.Case(path_parameters=question, body=body) if body else None
        case = case or operation.Case(path_parameters=question)
        response = case.call_and_validate(cookies=cookies, headers=headers, checks=checks)
        statuses[operation.label].add(response.status_code)
    report = schema["/api/v1/contacts"]["POST"]
    yesterday = (datetime.now(UTC) - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    case = report.Case(body={"channel": "email", "sent_at": yesterday})
    bearer_ = {"Authorization": f"Bearer {fresh}"}
    response = case.call_and_validate(headers=bearer_, checks=checks)
    statuses[report.label].add(response.status_code)

    # The run really reached the app as a signed-in consumer and as a brand: every
    # operation answered with success at least once, not only with 401 or 404.
    for path, method, _ in _operations(schema.raw_schema):
        label = f"{method.upper()} {path}"
        if path not in CANNOT_SUCCEED and label not in CANNOT_SUCCEED:
            assert any(200 <= s < 300 for s in statuses[label]), (label, statuses[label])
