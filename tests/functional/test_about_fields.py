""" "About me" and "What I want to hear about" through HTTP: each field's valid and invalid
values, its own grant per brand through the real OAuth flow, the brand's read (a brand's own
choice replacing the general one), export, erasure, and contact reports of a kind the
consumer did not ask for, counted as breaches."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from werkzeug.datastructures import MultiDict

from sayso.about_fields import MESSAGE_KINDS
from sayso.commands.setup import DEMO_DISCLOSURES
from sayso.extensions import db
from sayso.ledger import EventType
from sayso.models import AuditEvent, Contact, Disclosure
from sayso.schemas.disclosures import DisclosuresSchema
from tests.functional.test_webhooks import Receiver, deliver
from tests.helpers import PASSWORD, api_headers, csrf_token, log_in, sign_up
from tests.oauth_helpers import authorize_url, bearer, connect, make_brand, pkce

ABOUT_SCOPES = {
    "age_band:read": "suggest books for your age group",
    "location:read": "show shops and events in your region",
    "languages:read": "write to you in your language",
    "life_stage:read": "suggest books for where you are in life",
    "household_size:read": "suggest family offers",
    "hear_about:read": "send you only the kinds of message you want",
    "channels:read": "email you no more often than you allow",
    "contacts:write": "tell you how often we write to you",
}
VALUES = {
    "age_band": "25-34",
    "location": {"country": "FR", "region": "FR-IDF"},
    "languages": ["fr", "en"],
    "life_stage": ["working", "parent_young_children"],
    "household_size": "3-4",
    "hear_about": {"kinds": ["new_releases", "service"], "new_releases_of": ["Michael Chabon"]},
}


def put(client, field, value):
    return client.put(
        f"/api/v1/me/disclosures/{field}", json={"value": value}, headers=api_headers(client)
    )


@pytest.fixture
def consumer(client):
    sign_up(client, "ada@example.org")
    return client


@pytest.fixture
def brand(runner):
    return make_brand(runner, scopes=ABOUT_SCOPES)


@pytest.fixture
def other_brand(runner):
    return make_brand(
        runner,
        name="Record shop",
        domain="records.example",
        redirect="https://records.example/callback",
        scopes=ABOUT_SCOPES,
    )


@pytest.mark.parametrize("field", list(VALUES))
def test_each_field_takes_its_own_shape_and_gives_it_back(consumer, field):
    response = put(consumer, field, VALUES[field])
    assert response.status_code == 200, response.get_data(as_text=True)
    stored = consumer.get(f"/api/v1/me/disclosures/{field}").get_json()["value"]
    expected = VALUES[field]
    if field == "hear_about":
        expected = {**expected, "brands": {}}
    assert stored == expected


@pytest.mark.parametrize(
    ("field", "value", "where", "message"),
    [
        ("age_band", "26", None, "Not one of the age bands: 18-24, 25-34"),
        ("age_band", ["25-34"], None, "Not a valid string."),
        ("location", {"country": "fr"}, "country", "Not an ISO 3166-1 country code"),
        ("location", {"country": "XX"}, "country", "Not an ISO 3166-1 country code"),
        ("location", {"country": "GB", "region": "FR-IDF"}, "region", "Not a region of"),
        ("location", {"country": "FR", "region": "FR-75C"}, "region", "Finer than a region"),
        ("location", {"region": "FR-IDF"}, "country", "Missing data for required field."),
        ("location", {"country": "FR", "town": "Paris"}, "town", "Unknown field."),
        ("languages", ["en", "xx"], "1", "Not an ISO 639-1 language code"),
        ("languages", ["en", "en"], None, "Entries must not repeat."),
        ("languages", ["en", "fr", "de", "es", "it", "nl"], None, "At most 5 entries."),
        ("life_stage", ["astronaut"], "0", "Not one of the life stages"),
        ("household_size", "6", None, "Not one of the household sizes"),
        ("hear_about", {"kinds": []}, "kinds", "Choose at least one kind of message."),
        ("hear_about", {"kinds": ["spam"]}, "kinds", "Not one of the kinds of message"),
        (
            "hear_about",
            {"kinds": ["offers"], "new_releases_of": ["Michael Chabon"]},
            "new_releases_of",
            "Names of authors, artists or products go with new releases",
        ),
        (
            "hear_about",
            {"kinds": ["offers"], "brands": {"br_0000000000000000": {"kinds": ["offers"]}}},
            "brands",
            "Not a brand you have granted",
        ),
    ],
)
def test_a_bad_value_is_refused_with_a_clear_message(consumer, field, value, where, message):
    response = put(consumer, field, value)
    assert response.status_code == 422, response.get_data(as_text=True)
    body = response.get_json()
    assert body["error"] == "validation_failed"
    said = body["fields"]["value"]
    if where is not None:
        assert where in said, said
    assert message in json.dumps(said, ensure_ascii=False), said
    assert consumer.get(f"/api/v1/me/disclosures/{field}").status_code == 404


def test_the_whole_document_takes_them_too(consumer):
    response = consumer.put("/api/v1/me/disclosures", json=VALUES, headers=api_headers(consumer))
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.get_json()["location"] == VALUES["location"]
    bad = consumer.put(
        "/api/v1/me/disclosures", json={"age_band": "40"}, headers=api_headers(consumer)
    )
    assert bad.status_code == 422
    assert "age_band" in bad.get_json()["fields"]


def test_each_field_is_granted_on_its_own_and_read_as_granted(consumer, brand):
    consumer.put("/api/v1/me/disclosures", json=VALUES, headers=api_headers(consumer))
    scope = "age_band:read location:read hear_about:read"
    page = consumer.get(authorize_url(brand, scope=scope, challenge=pkce()[1]))
    text = page.get_data(as_text=True)
    # Each field's plain-words explanation, and the value as the brand would get it.
    assert "never your age or your birthday" in text
    assert "<li>25\u201334</li>" in text and "<li>Île-de-France, France</li>" in text
    assert "New releases of Michael Chabon" in text
    token = connect(
        consumer,
        brand,
        ["age_band", "hear_about"],  # location asked for, not ticked
        scope="age_band:read location:read hear_about:read",
    )
    profile = consumer.get("/api/v1/profile", headers=bearer(token["access_token"])).get_json()
    assert profile["age_band"] == "25-34"
    assert profile["hear_about"] == {
        "kinds": ["new_releases", "service"],
        "new_releases_of": ["Michael Chabon"],
    }
    assert "location" not in profile and "languages" not in profile


def test_a_brand_reads_its_own_choice_and_never_another_brand_s(consumer, brand, other_brand):
    consumer.put("/api/v1/me/disclosures", json=VALUES, headers=api_headers(consumer))
    mine = connect(consumer, brand, ["hear_about"], scope="hear_about:read")["access_token"]
    theirs = connect(consumer, other_brand, ["hear_about"], scope="hear_about:read")
    value = {
        **VALUES["hear_about"],
        "brands": {brand["brand_id"]: {"kinds": ["offers", "events"]}},
    }
    assert put(consumer, "hear_about", value).status_code == 200
    read = consumer.get("/api/v1/profile", headers=bearer(mine)).get_json()["hear_about"]
    assert read == {"kinds": ["offers", "events"], "new_releases_of": []}
    other = consumer.get("/api/v1/profile", headers=bearer(theirs["access_token"])).get_json()
    assert other["hear_about"] == {
        "kinds": ["new_releases", "service"],
        "new_releases_of": ["Michael Chabon"],
    }
    assert brand["brand_id"] not in json.dumps(other)


def test_export_holds_them_and_erasure_removes_them(app, consumer, brand):
    consumer.put("/api/v1/me/disclosures", json=VALUES, headers=api_headers(consumer))
    connect(consumer, brand, ["age_band"], scope="age_band:read")
    export = consumer.get("/api/v1/me/export")
    assert export.status_code == 200
    disclosures = export.get_json()["disclosures"]
    assert disclosures["household_size"] == "3-4"
    assert disclosures["location"] == {"country": "FR", "region": "FR-IDF"}
    assert disclosures["hear_about"]["new_releases_of"] == ["Michael Chabon"]
    with app.app_context():
        fields = set(db.session.scalars(select(Disclosure.field)))
        assert set(VALUES) <= fields
    erased = consumer.delete(
        "/api/v1/me", json={"password": PASSWORD}, headers=api_headers(consumer)
    )
    assert erased.status_code == 204
    with app.app_context():
        assert db.session.scalars(select(Disclosure)).all() == []


def test_deleting_one_field_leaves_the_others(consumer):
    consumer.put("/api/v1/me/disclosures", json=VALUES, headers=api_headers(consumer))
    deleted = consumer.delete("/api/v1/me/disclosures/age_band", headers=api_headers(consumer))
    assert deleted.status_code == 204
    left = consumer.get("/api/v1/me/disclosures").get_json()
    assert "age_band" not in left and left["household_size"] == "3-4"


# Contact reports naming a kind ----------------------------------------------------------


def _contacts_token(consumer, brand, fields=("channels", "contacts", "hear_about")):
    scope = " ".join(f"{f}:read" if f != "contacts" else "contacts:write" for f in fields)
    return connect(consumer, brand, list(fields), scope=scope)["access_token"]


def _report(client, token, kind=None, channel="email"):
    body = {"channel": channel, "sent_at": datetime.now(UTC).isoformat()}
    if kind is not None:
        body["kind"] = kind
    return client.post("/api/v1/contacts", json=body, headers=bearer(token))


@pytest.fixture
def contactable(consumer):
    put(consumer, "channels", [{"channel": "email", "max_per_week": 10}])
    put(consumer, "hear_about", {"kinds": ["new_releases", "service"]})
    return consumer


def test_a_report_of_a_kind_not_asked_for_is_a_breach(app, contactable, brand):
    token = _contacts_token(contactable, brand)
    wanted = _report(contactable, token, "service")
    assert wanted.status_code == 201, wanted.get_data(as_text=True)
    assert wanted.get_json()["breach"] is False and wanted.get_json()["kind"] == "service"
    unwanted = _report(contactable, token, "offers").get_json()
    assert unwanted["breach"] is True and unwanted["reason"] == "kind_not_wanted"
    # A report that names no kind is checked as before: only the channel.
    plain = _report(contactable, token).get_json()
    assert plain["breach"] is False and plain["kind"] is None
    with app.app_context():
        breaches = db.session.scalars(select(Contact).where(Contact.breach.is_(True))).all()
        assert [(c.kind, c.reason) for c in breaches] == [("offers", "kind_not_wanted")]
        (event,) = db.session.scalars(
            select(AuditEvent).where(AuditEvent.type == str(EventType.CONTACT_BREACHED))
        ).all()
        details = json.loads(event.details)
        assert details == {"channel": "email", "reason": "kind_not_wanted", "kind": "offers"}
        # The ledger names the kind reported and the fields read, never the consumer's kinds.
        checks = db.session.scalars(
            select(AuditEvent).where(AuditEvent.type == str(EventType.CONTACT_POLICY_CHECKED))
        ).all()
        assert all("new_releases" not in (e.details or "") for e in checks)
        assert json.loads(checks[0].fields) == ["channels", "hear_about"]
    # The consumer sees it on the Brands page, with the channel's other breaches.
    page = contactable.get("/brands").get_data(as_text=True)
    assert "1 beyond your preferences" in page
    export = contactable.get("/api/v1/me/export").get_json()
    assert [c["kind"] for c in export["contacts"]] == ["service", "offers", None]


def test_a_brand_s_own_choice_decides_its_reports(contactable, brand):
    token = _contacts_token(contactable, brand)
    choice = {"kinds": ["new_releases"], "brands": {brand["brand_id"]: {"kinds": ["offers"]}}}
    assert put(contactable, "hear_about", choice).status_code == 200
    assert _report(contactable, token, "offers").get_json()["breach"] is False
    assert _report(contactable, token, "new_releases").get_json()["reason"] == "kind_not_wanted"


def test_without_a_say_any_kind_is_fine(consumer, brand):
    put(consumer, "channels", [{"channel": "email", "max_per_week": 10}])
    token = _contacts_token(consumer, brand)
    assert _report(consumer, token, "offers").get_json()["breach"] is False


def test_without_hear_about_granted_the_report_tells_nothing_but_still_counts(
    app, contactable, brand
):
    token = _contacts_token(contactable, brand, ("channels", "contacts"))
    answer = _report(contactable, token, "offers")
    assert answer.status_code == 201
    assert set(answer.get_json()) == {"id", "channel", "sent_at", "kind"}
    with app.app_context():
        (contact,) = db.session.scalars(select(Contact)).all()
        assert contact.breach and contact.reason == "kind_not_wanted"


def test_the_policy_check_answers_for_a_kind(app, contactable, brand):
    token = _contacts_token(contactable, brand)
    ok = contactable.get("/api/v1/contact-policy?channel=email&kind=service", headers=bearer(token))
    assert ok.get_json() == {"allowed": True, "reason": "ok", "next_allowed_at": None}
    no = contactable.get("/api/v1/contact-policy?channel=email&kind=offers", headers=bearer(token))
    assert no.get_json() == {"allowed": False, "reason": "kind_not_wanted", "next_allowed_at": None}
    bad = contactable.get("/api/v1/contact-policy?channel=email&kind=spam", headers=bearer(token))
    assert bad.status_code == 422 and "kind" in bad.get_json()["fields"]


def test_the_policy_check_for_a_kind_needs_hear_about(contactable, brand):
    token = _contacts_token(contactable, brand, ("channels", "contacts"))
    answer = contactable.get(
        "/api/v1/contact-policy?channel=email&kind=offers", headers=bearer(token)
    )
    assert answer.status_code == 403
    assert "hear_about:read" in answer.get_json()["message"]
    plain = contactable.get("/api/v1/contact-policy?channel=email", headers=bearer(token))
    assert plain.status_code == 200


# The page ---------------------------------------------------------------------------------


def _form(**extra) -> list[tuple[str, str]]:
    return [
        ("age_band", "35-44"),
        ("country", "GB"),
        ("region", ""),
        ("language", "en"),
        ("language", "cy"),
        ("language", ""),
        ("life_stage", "retired"),
        ("household_size", "2"),
        ("kind", "new_releases"),
        ("kind", "events"),
        ("new_releases_of", "Zadie Smith\nMichael Chabon"),
        *extra.items(),
    ]


def test_the_about_page_saves_every_field(consumer):
    token = csrf_token(consumer, "/disclosures/about")
    response = consumer.post(
        "/disclosures/about", data=MultiDict([*_form(), ("csrf_token", token)])
    )
    # A first country: the page comes back to offer its regions.
    assert response.status_code == 302 and response.headers["Location"].endswith(
        "/disclosures/about#location"
    )
    page = consumer.get("/disclosures/about").get_data(as_text=True)
    assert "Region of United Kingdom" in page and "Scotland" in page
    stored = consumer.get("/api/v1/me/disclosures").get_json()
    assert stored["age_band"] == "35-44"
    assert stored["location"] == {"country": "GB"}
    assert stored["languages"] == ["en", "cy"]
    assert stored["life_stage"] == ["retired"]
    assert stored["household_size"] == "2"
    assert stored["hear_about"]["new_releases_of"] == ["Zadie Smith", "Michael Chabon"]
    form = [(k, v) for k, v in _form() if k != "region"] + [("region", "GB-SCT")]
    again = consumer.post("/disclosures/about", data=MultiDict([*form, ("csrf_token", token)]))
    assert again.status_code == 302 and again.headers["Location"].endswith("/disclosures#about-me")
    overview = consumer.get("/disclosures").get_data(as_text=True)
    assert "Scotland, United Kingdom" in overview and "35\u201344" in overview
    assert "New releases of Zadie Smith, Michael Chabon" in overview


def test_the_about_page_says_what_is_wrong_in_plain_words(consumer):
    token = csrf_token(consumer, "/disclosures/about")
    form = [(k, v) for k, v in _form() if k != "kind"] + [("kind", "offers")]
    response = consumer.post("/disclosures/about", data=MultiDict([*form, ("csrf_token", token)]))
    assert response.status_code == 422
    text = response.get_data(as_text=True)
    assert "go with new releases" in text and 'aria-invalid="true"' in text
    assert consumer.get("/api/v1/me/disclosures").get_json() == {}


def test_an_empty_about_page_deletes_and_old_addresses_lead_to_it(consumer):
    consumer.put("/api/v1/me/disclosures", json=VALUES, headers=api_headers(consumer))
    token = csrf_token(consumer, "/disclosures/about")
    response = consumer.post("/disclosures/about", data={"csrf_token": token})
    assert response.status_code == 302
    assert consumer.get("/api/v1/me/disclosures").get_json() == {}
    moved = consumer.get("/disclosures/hear_about")
    assert moved.status_code == 302 and moved.headers["Location"].endswith("#hear-about")


def test_a_brand_of_its_own_on_the_page(consumer, brand):
    connect(consumer, brand, ["hear_about"], scope="hear_about:read")
    page = consumer.get("/disclosures/about").get_data(as_text=True)
    assert "Choose differently for Bookshop" in page
    token = csrf_token(consumer, "/disclosures/about")
    brand_id = brand["brand_id"]
    form = [
        ("kind", "news"),
        (f"own_{brand_id}", "1"),
        (f"kind_{brand_id}", "offers"),
        ("csrf_token", token),
    ]
    assert consumer.post("/disclosures/about", data=MultiDict(form)).status_code == 302
    stored = consumer.get("/api/v1/me/disclosures/hear_about").get_json()["value"]
    assert stored["brands"] == {brand_id: {"kinds": ["offers"], "new_releases_of": []}}
    assert "From Bookshop only: Offers and discounts" in consumer.get("/disclosures").get_data(
        as_text=True
    )
    # Ticked but empty: said plainly, with the brand's name.
    form = [("kind", "news"), (f"own_{brand_id}", "1"), ("csrf_token", token)]
    refused = consumer.post("/disclosures/about", data=MultiDict(form))
    assert refused.status_code == 422
    assert "from Bookshop" in refused.get_data(as_text=True)


def test_no_breach_counted_before_the_week(app, contactable, brand):
    """A breach of kind counts in the channel's weekly tally on the Brands page."""
    token = _contacts_token(contactable, brand)
    old = datetime.now(UTC) - timedelta(days=8)
    body = {"channel": "email", "sent_at": old.isoformat(), "kind": "offers"}
    answer = contactable.post("/api/v1/contacts", json=body, headers=bearer(token))
    assert answer.get_json()["breach"] is True
    assert "beyond your preferences" not in contactable.get("/brands").get_data(as_text=True)


def test_the_demo_consumer_has_them_filled_in(app, runner):
    assert DisclosuresSchema().load(DEMO_DISCLOSURES) == DEMO_DISCLOSURES
    login = json.loads(runner.invoke(args=["demo", "--json"]).output)
    client = app.test_client()
    log_in(client, login["email"], login["password"])
    page = client.get("/disclosures").get_data(as_text=True)
    assert "Île-de-France, France" in page and "New releases of Michael Chabon" in page


def test_a_change_to_one_brand_s_choice_is_news_to_that_brand_only(app, runner, consumer):
    receiver = Receiver().start()
    try:
        mine = make_brand(runner, scopes=ABOUT_SCOPES, webhook=receiver.url)
        theirs = make_brand(
            runner,
            name="Record shop",
            domain="records.example",
            redirect="https://records.example/callback",
            scopes=ABOUT_SCOPES,
            webhook=receiver.url,
        )
        put(consumer, "hear_about", VALUES["hear_about"])
        connect(consumer, mine, ["hear_about"], scope="hear_about:read")
        connect(consumer, theirs, ["hear_about"], scope="hear_about:read")
        choice = {**VALUES["hear_about"], "brands": {mine["brand_id"]: {"kinds": ["offers"]}}}
        assert put(consumer, "hear_about", choice).status_code == 200
        assert deliver(app) == "delivered 1, retried 0, failed 0"
        (got,) = receiver.received
        data = json.loads(got.body)["data"]
        assert data["brand_id"] == mine["brand_id"] and data["fields"] == ["hear_about"]
        # The general choice changes: both brands hear of it, except the one whose own
        # choice stands.
        general = {**choice, "kinds": ["news"], "new_releases_of": []}
        assert put(consumer, "hear_about", general).status_code == 200
        assert deliver(app) == "delivered 1, retried 0, failed 0"
        assert json.loads(receiver.received[-1].body)["data"]["brand_id"] == theirs["brand_id"]
    finally:
        receiver.stop()


def test_the_documented_kinds_are_the_registry_s(client):
    document = client.get("/api/v1/openapi.json").get_json()
    check = document["paths"]["/api/v1/contact-policy"]["get"]["parameters"]
    (kind,) = [p for p in check if p["name"] == "kind"]
    assert kind["schema"]["enum"] == list(MESSAGE_KINDS)
