"""Contact policy through HTTP: brands check before they send, report what they sent."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from sayso.extensions import db
from sayso.ledger import EventType
from sayso.models import AuditEvent, Contact
from tests.functional.test_console import officer_client
from tests.helpers import PASSWORD, api_headers, sign_up
from tests.oauth_helpers import ALL_SCOPES, bearer, connect, make_brand

SCOPES = {**ALL_SCOPES, "contacts:write": "tell you how often we write to you"}


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def window_around(now: datetime, inside: bool) -> dict:
    """Quiet hours (UTC) that contain ``now``, or that lie well away from it."""
    if inside:
        start, end = now - timedelta(hours=1), now + timedelta(hours=1)
    else:
        start, end = now + timedelta(hours=3), now + timedelta(hours=5)
    return {"start": start.strftime("%H:%M"), "end": end.strftime("%H:%M"), "tz": "UTC"}


def set_channels(client, channels):
    response = client.put(
        "/api/v1/me/disclosures/channels", json={"value": channels}, headers=api_headers(client)
    )
    assert response.status_code == 200, response.get_data(as_text=True)


@pytest.fixture
def consumer(client):
    sign_up(client, "ada@example.org")
    now = datetime.now(UTC)
    set_channels(
        client,
        [
            {"channel": "email", "max_per_week": 2, "quiet_hours": window_around(now, False)},
            {"channel": "push", "max_per_week": 5, "quiet_hours": window_around(now, True)},
        ],
    )
    return client


@pytest.fixture
def brand(runner):
    return make_brand(runner, scopes=SCOPES)


@pytest.fixture
def token(consumer, brand):
    return connect(consumer, brand, ["channels", "contacts"], scope="channels:read contacts:write")[
        "access_token"
    ]


def policy(client, token, channel="email"):
    return client.get(f"/api/v1/contact-policy?channel={channel}", headers=bearer(token))


def report(client, token, sent_at, channel="email"):
    return client.post(
        "/api/v1/contacts",
        json={"channel": channel, "sent_at": iso(sent_at)},
        headers=bearer(token),
    )


def test_a_permitted_channel_under_the_cap_outside_quiet_hours_is_allowed(app, consumer, token):
    response = policy(consumer, token)
    assert response.status_code == 200
    assert response.get_json() == {"allowed": True, "reason": "ok", "next_allowed_at": None}
    with app.app_context():
        (event,) = db.session.scalars(
            select(AuditEvent).where(AuditEvent.type == str(EventType.CONTACT_POLICY_CHECKED))
        ).all()
        assert json.loads(event.fields) == ["channels"]
        assert json.loads(event.details) == {"channel": "email", "allowed": True}


def test_a_channel_not_allowed_is_refused_without_a_next_time(consumer, token):
    body = policy(consumer, token, "sms").get_json()
    assert body == {"allowed": False, "reason": "channel_not_permitted", "next_allowed_at": None}


def test_inside_quiet_hours_the_answer_is_when_they_end(consumer, token):
    body = policy(consumer, token, "push").get_json()
    assert body["allowed"] is False and body["reason"] == "quiet_hours"
    ends = datetime.fromisoformat(body["next_allowed_at"].replace("Z", "+00:00"))
    assert timedelta(0) < ends - datetime.now(UTC) <= timedelta(hours=1, minutes=1)


def test_reports_up_to_the_cap_are_fine_and_the_one_beyond_is_a_breach(app, consumer, token):
    now = datetime.now(UTC).replace(microsecond=0)
    first, second = now - timedelta(days=3), now - timedelta(hours=1)
    for sent in (first, second):
        response = report(consumer, token, sent)
        assert response.status_code == 201, response.get_data(as_text=True)
        assert response.get_json()["breach"] is False
    body = policy(consumer, token).get_json()
    assert body["allowed"] is False and body["reason"] == "weekly_cap_reached"
    assert body["next_allowed_at"] == iso(first + timedelta(days=7))

    third = report(consumer, token, now)
    assert third.status_code == 201
    assert third.get_json()["breach"] is True
    assert third.get_json()["reason"] == "weekly_cap_reached"
    # A report on a channel the consumer never allowed is a breach too.
    assert report(consumer, token, now, channel="sms").get_json()["reason"] == (
        "channel_not_permitted"
    )

    with app.app_context():
        breaches = db.session.scalars(select(Contact).where(Contact.breach.is_(True))).all()
        assert len(breaches) == 2
        events = db.session.scalars(
            select(AuditEvent).where(AuditEvent.type == str(EventType.CONTACT_BREACHED))
        ).all()
        assert len(events) == 2
        # The channel and the reason, never the consumer's caps or quiet hours.
        assert [json.loads(e.details) for e in events] == [
            {"channel": "email", "reason": "weekly_cap_reached"},
            {"channel": "sms", "reason": "channel_not_permitted"},
        ]

    page = consumer.get("/brands").get_data(as_text=True)
    assert "Contacts in the last 7 days" in page
    assert "Email: 3 of at most 2" in page and "1 beyond your preferences" in page

    console = officer_client(app).get("/console/breaches").get_data(as_text=True)
    assert "Bookshop" in console and "<td>2</td>" in console


def test_erasure_deletes_the_contacts_and_keeps_the_breaches(app, consumer, token):
    now = datetime.now(UTC).replace(microsecond=0)
    assert report(consumer, token, now - timedelta(days=1)).get_json()["breach"] is False
    assert report(consumer, token, now, channel="sms").get_json()["breach"] is True
    erased = consumer.delete(
        "/api/v1/me", json={"password": PASSWORD}, headers=api_headers(consumer)
    )
    assert erased.status_code == 204
    with app.app_context():
        left = db.session.scalars(select(Contact)).all()
        assert [(c.channel, c.breach) for c in left] == [("sms", True)]
        event = db.session.scalar(
            select(AuditEvent).where(AuditEvent.type == str(EventType.ACCOUNT_ERASED))
        )
        assert json.loads(event.details)["contacts_deleted"] == 1
    console = officer_client(app).get("/console/breaches").get_data(as_text=True)
    assert "Bookshop" in console and "<td>1</td>" in console


def test_no_breach_list_entry_for_a_brand_within_the_rules(app, consumer, token):
    assert report(consumer, token, datetime.now(UTC) - timedelta(days=1)).status_code == 201
    page = officer_client(app).get("/console/breaches").get_data(as_text=True)
    assert "No brand has breached" in page


def test_reporting_needs_contacts_write_and_checking_needs_channels_read(consumer, brand):
    only_channels = connect(consumer, brand, ["channels"], scope="channels:read")["access_token"]
    response = report(consumer, only_channels, datetime.now(UTC))
    assert response.status_code == 403
    assert response.get_json()["error"] == "insufficient_scope"
    only_interests = connect(consumer, brand, ["interests"], scope="interests:read")
    assert policy(consumer, only_interests["access_token"]).status_code == 403


def test_a_revoked_grant_stops_both_calls_at_once(consumer, brand, token):
    path = f"/api/v1/me/grants/{brand['brand_id']}"
    assert consumer.delete(path, headers=api_headers(consumer)).status_code == 200
    assert policy(consumer, token).status_code == 401
    assert report(consumer, token, datetime.now(UTC)).status_code == 401


def test_an_unticked_contacts_permission_leaves_reporting_closed(consumer, brand):
    token = connect(consumer, brand, ["channels"], scope="channels:read contacts:write")
    assert token["scope"] == "channels:read"
    assert report(consumer, token["access_token"], datetime.now(UTC)).status_code == 403


@pytest.mark.parametrize(
    "body",
    [
        {"channel": "pigeon", "sent_at": iso(datetime.now(UTC) - timedelta(days=1))},
        {"channel": "email"},
        {"channel": "email", "sent_at": iso(datetime.now(UTC) - timedelta(days=1))[:-1]},  # no Z
        {"channel": "email", "sent_at": "yesterday"},
        {"channel": "email", "sent_at": "2999-01-01T00:00:00Z"},  # not sent yet
        {"channel": "email", "sent_at": iso(datetime.now(UTC) - timedelta(days=400))},
        {"channel": "email", "sent_at": "0001-01-01T00:00:00Z"},  # a week before it: no date
    ],
)
def test_bad_reports_are_refused(consumer, token, body):
    response = consumer.post("/api/v1/contacts", json=body, headers=bearer(token))
    assert response.status_code == 422, response.get_data(as_text=True)


def test_the_consent_page_shows_the_permission_with_the_brands_purpose(consumer, brand):
    from tests.oauth_helpers import authorize_url, pkce

    _, challenge = pkce()
    page = consumer.get(authorize_url(brand, scope="contacts:write", challenge=challenge))
    text = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "Contact reports" in text and "tell you how often we write to you" in text


def _events(app, type_: EventType) -> list[AuditEvent]:
    with app.app_context():
        rows = db.session.scalars(select(AuditEvent).where(AuditEvent.type == str(type_))).all()
        db.session.expunge_all()
        return rows


def test_a_report_tells_a_brand_without_channels_nothing_of_them(app, consumer, brand):
    # The brand may report contacts but was never granted channels: whatever it reports,
    # backdated or not, on a channel allowed or not, the answer is the same shape, so a
    # run of reports cannot map the consumer's channels, caps or quiet hours.
    token = connect(consumer, brand, ["contacts"], scope="contacts:write")
    assert token["scope"] == "contacts:write"
    now = datetime.now(UTC).replace(microsecond=0)
    reports = [
        ("email", now - timedelta(days=3)),  # allowed, under the cap
        ("email", now - timedelta(hours=2)),
        ("email", now - timedelta(hours=1)),  # beyond the cap of 2
        ("sms", now),  # a channel the consumer does not allow
        ("push", now),  # inside quiet hours
    ]
    answers = []
    for channel, sent_at in reports:
        response = report(consumer, token["access_token"], sent_at, channel)
        assert response.status_code == 201, response.get_data(as_text=True)
        answers.append(response.get_json())
    assert all(set(a) == {"id", "channel", "sent_at", "kind"} for a in answers), answers
    assert [a["channel"] for a in answers] == [c for c, _ in reports]

    # The breaches are still worked out, and shown to the consumer and to officers.
    with app.app_context():
        kept = db.session.scalars(select(Contact).order_by(Contact.id)).all()
        assert [(c.breach, c.reason) for c in kept] == [
            (False, "ok"),
            (False, "ok"),
            (True, "weekly_cap_reached"),
            (True, "channel_not_permitted"),
            (True, "quiet_hours"),
        ]
    page = consumer.get("/brands").get_data(as_text=True)
    assert "Email: 3 of at most 2" in page and "1 beyond your preferences" in page
    assert "Bookshop" in officer_client(app).get("/console/breaches").get_data(as_text=True)
    # Nothing of channels was told, so no read of them is recorded.
    assert _events(app, EventType.CONTACT_POLICY_CHECKED) == []
    assert len(_events(app, EventType.CONTACT_BREACHED)) == 3


def test_a_report_after_channels_are_revoked_tells_nothing_of_them(app, consumer, brand, token):
    revoked = consumer.delete(
        f"/api/v1/me/grants/{brand['brand_id']}/channels", headers=api_headers(consumer)
    )
    assert revoked.get_json() == {"revoked": {brand["brand_id"]: ["channels"]}}
    # The token was issued with channels:read; the consumer no longer grants them.
    response = report(consumer, token, datetime.now(UTC), channel="sms")
    assert response.status_code == 201
    assert set(response.get_json()) == {"id", "channel", "sent_at", "kind"}
    assert _events(app, EventType.CONTACT_POLICY_CHECKED) == []
    refused = policy(consumer, token)  # 401, or 403 once the revoke narrowed the token
    assert refused.status_code in (401, 403) and "allowed" not in refused.get_json()


def test_a_report_with_channels_granted_tells_the_verdict_as_a_recorded_read(
    app, consumer, brand, token
):
    now = datetime.now(UTC).replace(microsecond=0)
    allowed = report(consumer, token, now - timedelta(days=1)).get_json()
    refused = report(consumer, token, now, channel="sms").get_json()
    assert (allowed["breach"], allowed["reason"]) == (False, "ok")
    assert (refused["breach"], refused["reason"]) == (True, "channel_not_permitted")
    reads = _events(app, EventType.CONTACT_POLICY_CHECKED)
    assert [json.loads(e.fields) for e in reads] == [["channels"], ["channels"]]
    assert {e.brand for e in reads} == {brand["brand_id"]}
    assert sorted(json.loads(e.details)["channel"] for e in reads) == ["email", "sms"]
    assert sorted(json.loads(e.details)["allowed"] for e in reads) == [False, True]
    # Each told verdict is recorded with its contact, not instead of it.
    assert len(_events(app, EventType.CONTACT_RECORDED)) == 1
    assert len(_events(app, EventType.CONTACT_BREACHED)) == 1
