"""The field registry and its schemas."""

import pytest
from marshmallow import ValidationError

from sayso.fields import FIELDS, scopes
from sayso.schemas.disclosures import DisclosuresSchema, value_schema
from sayso.taxonomy import is_topic, topics


def test_every_field_has_a_read_scope_and_description():
    assert scopes() == [
        "interests:read",
        "browsing_categories:read",
        "channels:read",
        "age_band:read",
        "location:read",
        "languages:read",
        "life_stage:read",
        "household_size:read",
        "hear_about:read",
        "contacts:write",
        "answers:read",
    ]
    for field in FIELDS.values():
        assert field.description and field.label


def test_taxonomy_is_the_shipped_v2_with_469_topics():
    assert len(topics()) == 469
    assert is_topic(1) and not is_topic(0) and not is_topic(True) and not is_topic("1")


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("interests", []),
        ("interests", [{"topic_id": 1}, {"text": "x" * 64}]),
        ("browsing_categories", [{"topic_id": 1, "weight": 0}, {"topic_id": 100, "weight": 1}]),
        (
            "channels",
            [
                {"channel": c, "max_per_week": 0}
                for c in ("email", "sms", "push", "post", "phone", "in_app")
            ],
        ),
        ("channels", [{"channel": "email", "max_per_week": 50, "quiet_hours": None}]),
        (
            "channels",
            [
                {
                    "channel": "push",
                    "max_per_week": 5,
                    "quiet_hours": {"start": "23:59", "end": "00:00", "tz": "Asia/Kolkata"},
                }
            ],
        ),
    ],
)
def test_valid_values_load_unchanged(field, value):
    assert value_schema(field).load({"value": value})["value"] == value


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("interests", None),
        ("interests", [{"text": "tab\tinside"}]),
        ("browsing_categories", [{"topic_id": 1, "weight": float("nan")}]),
        ("browsing_categories", [{"topic_id": 1, "weight": True}]),
        ("channels", [{"channel": "email", "max_per_week": False}]),
        ("channels", [{"channel": "email", "max_per_week": 1, "extra": 1}]),
        (
            "channels",
            [
                {"channel": c, "max_per_week": 0}
                for c in ("email", "sms", "push", "post", "phone", "in_app", "email")
            ],
        ),
    ],
)
def test_invalid_values_are_refused(field, value):
    with pytest.raises(ValidationError):
        value_schema(field).load({"value": value})


def test_document_schema_allows_null_to_delete_and_refuses_unknown_fields():
    assert DisclosuresSchema().load({"interests": None}) == {"interests": None}
    with pytest.raises(ValidationError) as exc:
        DisclosuresSchema().load({"shoe_size": [42]})
    assert "shoe_size" in exc.value.messages
