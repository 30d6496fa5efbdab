"""Disclosures through the JSON API and the pages, with validation of every field."""

import json
import re

import pytest
from sqlalchemy import select

from sayso.extensions import db
from sayso.models import AuditEvent
from sayso.taxonomy import topics
from tests.helpers import api_headers, csrf_token, sign_up

GOOD = {
    "interests": [{"topic_id": 100}, {"text": "crime fiction"}],
    "browsing_categories": [{"topic_id": 332, "weight": 0.25}],
    "channels": [
        {
            "channel": "email",
            "max_per_week": 2,
            "quiet_hours": {"start": "21:00", "end": "08:00", "tz": "Europe/Paris"},
        },
        {"channel": "sms", "max_per_week": 0},
    ],
}


@pytest.fixture
def consumer(client):
    """A signed-in consumer's client."""
    sign_up(client, "ada@example.org")
    return client


def put(client, path, body, **kwargs):
    return client.put(path, json=body, headers=api_headers(client), **kwargs)


def test_put_then_get_round_trips(consumer):
    response = put(consumer, "/api/v1/me/disclosures", GOOD)
    assert response.status_code == 200
    assert consumer.get("/api/v1/me/disclosures").get_json() == GOOD


def test_put_replaces_the_whole_document(consumer):
    put(consumer, "/api/v1/me/disclosures", GOOD)
    put(consumer, "/api/v1/me/disclosures", {"interests": [{"text": "jazz"}], "channels": None})
    assert consumer.get("/api/v1/me/disclosures").get_json() == {"interests": [{"text": "jazz"}]}


def test_one_field_at_a_time(consumer):
    assert consumer.get("/api/v1/me/disclosures/channels").status_code == 404
    response = put(consumer, "/api/v1/me/disclosures/channels", {"value": GOOD["channels"]})
    assert response.status_code == 200
    assert consumer.get("/api/v1/me/disclosures/channels").get_json() == {"value": GOOD["channels"]}
    response = consumer.delete("/api/v1/me/disclosures/channels", headers=api_headers(consumer))
    assert response.status_code == 204
    assert consumer.get("/api/v1/me/disclosures").get_json() == {}


def test_changes_are_ledger_events_naming_fields_never_values(app, consumer):
    put(consumer, "/api/v1/me/disclosures", GOOD)
    put(consumer, "/api/v1/me/disclosures", GOOD)  # no change: no event
    put(consumer, "/api/v1/me/disclosures", {"interests": GOOD["interests"]})
    with app.app_context():
        events = db.session.scalars(
            select(AuditEvent).where(AuditEvent.type.like("disclosure:%")).order_by(AuditEvent.seq)
        ).all()
        assert [(e.type, json.loads(e.fields)) for e in events] == [
            ("disclosure:field:updated", ["browsing_categories", "channels", "interests"]),
            ("disclosure:field:deleted", ["browsing_categories", "channels"]),
        ]
        for event in events:
            canonical = json.loads(event.canonical)
            del canonical["occurred_at"]  # its clock time could read "21:00" or "…0.25…"
            text = json.dumps(canonical)
            for secret in ("crime fiction", "Europe/Paris", "21:00", "0.25"):
                assert secret not in text


@pytest.mark.parametrize(
    ("body", "where"),
    [
        ({"interests": "books"}, "interests"),
        ({"interests": [{"topic_id": "100"}]}, "interests"),
        ({"interests": [{"topic_id": True}]}, "interests"),
        ({"interests": [{"topic_id": 99999}]}, "interests"),
        ({"interests": [{"topic_id": 100, "text": "both"}]}, "interests"),
        ({"interests": [{}]}, "interests"),
        ({"interests": [{"text": "x" * 65}]}, "interests"),
        ({"interests": [{"text": "   "}]}, "interests"),
        ({"interests": [{"text": "jazz"}, {"text": "JAZZ"}]}, "interests"),
        ({"interests": [{"text": f"t{i}"} for i in range(51)]}, "interests"),
        ({"browsing_categories": [{"topic_id": 100}]}, "browsing_categories"),
        ({"browsing_categories": [{"topic_id": 100, "weight": 1.5}]}, "browsing_categories"),
        ({"browsing_categories": [{"topic_id": 100, "weight": -0.1}]}, "browsing_categories"),
        ({"browsing_categories": [{"topic_id": 100, "weight": "0.5"}]}, "browsing_categories"),
        ({"browsing_categories": [{"topic_id": 0, "weight": 0.5}]}, "browsing_categories"),
        (
            {
                "browsing_categories": [
                    {"topic_id": i, "weight": 0.1} for i in sorted(topics())[:21]
                ]
            },
            "browsing_categories",
        ),
        ({"channels": [{"channel": "fax", "max_per_week": 1}]}, "channels"),
        ({"channels": [{"channel": "email", "max_per_week": 51}]}, "channels"),
        ({"channels": [{"channel": "email", "max_per_week": 1.5}]}, "channels"),
        ({"channels": [{"channel": "email"}]}, "channels"),
        (
            {
                "channels": [
                    {"channel": "email", "max_per_week": 1},
                    {"channel": "email", "max_per_week": 2},
                ]
            },
            "channels",
        ),
        (
            {
                "channels": [
                    {
                        "channel": "email",
                        "max_per_week": 1,
                        "quiet_hours": {"start": "25:00", "end": "08:00", "tz": "UTC"},
                    }
                ]
            },
            "channels",
        ),
        (
            {
                "channels": [
                    {
                        "channel": "email",
                        "max_per_week": 1,
                        "quiet_hours": {"start": "9pm", "end": "08:00", "tz": "UTC"},
                    }
                ]
            },
            "channels",
        ),
        (
            {
                "channels": [
                    {
                        "channel": "email",
                        "max_per_week": 1,
                        "quiet_hours": {"start": "21:00", "end": "08:00", "tz": "Mars/Olympus"},
                    }
                ]
            },
            "channels",
        ),
        (
            {
                "channels": [
                    {
                        "channel": "email",
                        "max_per_week": 1,
                        "quiet_hours": {"start": "21:00", "end": "08:00", "tz": "../../etc/passwd"},
                    }
                ]
            },
            "channels",
        ),
        (
            {
                "channels": [
                    {
                        "channel": "email",
                        "max_per_week": 1,
                        "quiet_hours": {"start": "21:00", "end": "21:00", "tz": "UTC"},
                    }
                ]
            },
            "channels",
        ),
        ({"favourite_colour": ["blue"]}, "favourite_colour"),
    ],
)
def test_bad_disclosures_are_refused_with_the_field_named(app, consumer, body, where):
    put(consumer, "/api/v1/me/disclosures", GOOD)
    response = put(consumer, "/api/v1/me/disclosures", body)
    assert response.status_code == 422
    error = response.get_json()
    assert error["error"] == "validation_failed"
    assert where in error["fields"]
    # Nothing was half-written.
    assert consumer.get("/api/v1/me/disclosures").get_json() == GOOD


@pytest.mark.parametrize(
    ("data", "content_type", "status", "code"),
    [
        ("{not json", "application/json", 400, "bad_request"),
        ("[1, 2]", "application/json", 400, "bad_request"),
        ("null", "application/json", 400, "bad_request"),
        ("interests=1", "application/x-www-form-urlencoded", 415, "unsupported_media_type"),
        ('{"interests": [{"text": "\\ud800"}]}', "application/json", 422, "validation_failed"),
    ],
)
def test_malformed_bodies_get_the_error_shape(consumer, data, content_type, status, code):
    response = consumer.put(
        "/api/v1/me/disclosures",
        data=data,
        content_type=content_type,
        headers=api_headers(consumer),
    )
    assert response.status_code == status
    body = response.get_json()
    assert body["error"] == code
    assert set(body) == {"error", "message", "fields"}


def test_unknown_field_paths_are_404(consumer):
    assert consumer.get("/api/v1/me/disclosures/shoe_size").status_code == 404
    response = put(consumer, "/api/v1/me/disclosures/shoe_size", {"value": []})
    assert response.get_json()["error"] == "not_found"


def test_api_needs_a_session(client):
    response = client.get("/api/v1/me/disclosures")
    assert response.status_code == 401
    assert response.get_json()["error"] == "unauthorized"


def test_api_writes_need_the_csrf_token(consumer):
    response = consumer.put("/api/v1/me/disclosures", json=GOOD)
    assert response.status_code == 400
    assert response.get_json()["error"] == "csrf_failed"


def test_field_registry_is_public(client):
    fields = {f["name"]: f for f in client.get("/api/v1/fields").get_json()}
    assert fields["channels"]["scope"] == "channels:read"
    assert set(fields) == {
        "interests",
        "browsing_categories",
        "channels",
        "age_band",
        "location",
        "languages",
        "life_stage",
        "household_size",
        "hear_about",
    }
    assert fields["age_band"]["max_items"] is None
    assert fields["languages"]["max_items"] == 5


def test_editing_interests_on_the_page(consumer):
    token = csrf_token(consumer, "/disclosures/interests")
    response = consumer.post(
        "/disclosures/interests",
        data={
            "csrf_token": token,
            "interest": [
                "100 · /Books & Literature",
                "Cooking & Recipes",
                "Jazz",
                "1984 novel",
                "",
            ],
        },
    )
    assert response.status_code == 302
    assert consumer.get("/api/v1/me/disclosures").get_json()["interests"] == [
        {"topic_id": 100},
        {"topic_id": 173},
        {"topic_id": 29},  # "Jazz" is a topic's exact name
        {"text": "1984 novel"},  # a number that starts free text is not a topic id
    ]
    page = consumer.get("/disclosures").get_data(as_text=True)
    # Topics by name (with the category they sit in), never as a path or an id.
    assert "Books &amp; Literature" in page and "1984 novel" in page
    assert "/Books" not in page and "100 ·" not in page


def test_editing_browsing_categories_on_the_page_shows_errors(consumer):
    token = csrf_token(consumer, "/disclosures/browsing_categories")
    response = consumer.post(
        "/disclosures/browsing_categories",
        data={
            "csrf_token": token,
            "topic": ["332", "999999", "100"],
            "weight": ["0.5", "2", "1" * 400],  # the last too large even for a float
        },
    )
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "Row 2" in page and "Row 3" in page
    assert "Row 2, topic: Not one of the topics: choose one from the list." in page
    assert "Topics taxonomy v2" not in page  # the schema's words, not a person's
    assert consumer.get("/api/v1/me/disclosures").get_json() == {}


def _input(page: str, name: str, row: int) -> str:
    """The ``row``-th (from 1) input named ``name`` on ``page``."""
    return re.findall(rf'<input [^>]*name="{name}"[^>]*>', page)[row - 1]


def test_errors_on_the_page_are_focused_and_tied_to_the_inputs_they_name(consumer):
    token = csrf_token(consumer, "/disclosures/browsing_categories")
    response = consumer.post(
        "/disclosures/browsing_categories",
        data={"csrf_token": token, "topic": ["332", "100"], "weight": ["0.5", "1,5"]},
    )
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert 'id="errors" role="alert" tabindex="-1" autofocus' in page
    assert '<li id="error-1">Row 2, weight: Write a number, such as 0.5.</li>' in page
    assert 'aria-invalid="true" aria-describedby="error-1"' in _input(page, "weight", 2)
    for name, row in (("weight", 1), ("topic", 1), ("topic", 2)):
        assert "aria-invalid" not in _input(page, name, row), (name, row)


def test_channel_errors_mark_that_channels_inputs(consumer):
    token = csrf_token(consumer, "/disclosures/channels")
    response = consumer.post(
        "/disclosures/channels",
        data={
            "csrf_token": token,
            "time_zone": "Europe/Paris",
            "enabled_email": "1",
            "max_email": "3",
            "enabled_sms": "1",
            "max_sms": "99",
            "quiet_start_sms": "22:00",
            "quiet_end_sms": "07:00",
        },
    )
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert 'aria-invalid="true"' in _input(page, "max_sms", 1)
    for name in ("max_email", "time_zone", "quiet_start_sms"):
        assert "aria-invalid" not in _input(page, name, 1), name


def test_editing_channels_on_the_page(consumer):
    token = csrf_token(consumer, "/disclosures/channels")
    response = consumer.post(
        "/disclosures/channels",
        data={
            "csrf_token": token,
            "time_zone": "America/New_York",
            "enabled_email": "1",
            "max_email": "3",
            "quiet_start_email": "22:00",
            "quiet_end_email": "07:30",
            "max_sms": "9",  # not ticked: ignored
        },
    )
    assert response.status_code == 302
    assert consumer.get("/api/v1/me/disclosures/channels").get_json()["value"] == [
        {
            "channel": "email",
            "max_per_week": 3,
            "quiet_hours": {"start": "22:00", "end": "07:30", "tz": "America/New_York"},
        }
    ]
    # An empty form removes the field.
    token = csrf_token(consumer, "/disclosures/channels")
    consumer.post("/disclosures/channels", data={"csrf_token": token})
    assert consumer.get("/api/v1/me/disclosures").get_json() == {}


def test_edit_pages_render_for_every_field(consumer):
    put(consumer, "/api/v1/me/disclosures", GOOD)
    for name in ("interests", "browsing_categories", "channels"):
        assert consumer.get(f"/disclosures/{name}").status_code == 200
    assert consumer.get("/disclosures/shoe_size").status_code == 404


def test_an_empty_list_removes_the_field(consumer):
    put(consumer, "/api/v1/me/disclosures", GOOD)
    put(consumer, "/api/v1/me/disclosures/channels", {"value": []})
    assert "channels" not in consumer.get("/api/v1/me/disclosures").get_json()
