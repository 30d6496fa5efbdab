"""Global Privacy Control: the support resource, the signal in receipts, no third parties."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from sayso.extensions import db
from sayso.ledger import EventType
from sayso.models import AuditEvent
from tests.functional.test_registration import GOOD, initial_token, register  # noqa: F401
from tests.helpers import api_headers, csrf_token, disclosing_consumer
from tests.oauth_helpers import ALL_SCOPES, authorize_url, make_brand, pkce, redirect_query

GPC = {"Sec-GPC": "1"}


@pytest.fixture
def consumer(client):
    return disclosing_consumer(client)


@pytest.fixture
def brand(runner):
    return make_brand(runner)


def test_the_gpc_support_resource_is_served(client):
    response = client.get("/.well-known/gpc.json")
    assert response.status_code == 200
    body = response.get_json()
    assert body["gpc"] is True
    assert len(body["lastUpdate"]) == 10 and body["lastUpdate"][4] == "-"


def allow(client, brand, headers):
    _, challenge = pkce()
    url = authorize_url(brand, scope="interests:read", challenge=challenge)
    page = client.get(url, headers=headers).get_data(as_text=True)
    token = csrf_token(client, url)
    response = client.post(
        url,
        data={"csrf_token": token, "decision": "allow", "field": ["interests"], "expiry": "1y"},
        headers=headers,
    )
    assert response.status_code == 302, response.get_data(as_text=True)
    return page


@pytest.mark.parametrize(("headers", "sent"), [(GPC, True), ({}, False), ({"Sec-GPC": "0"}, False)])
def test_the_signal_is_shown_recorded_with_the_grant_and_in_the_receipt(
    app, consumer, brand, headers, sent
):
    page = allow(consumer, brand, headers)
    assert ('id="gpc"' in page) is sent
    with app.app_context():
        event = db.session.scalars(
            select(AuditEvent).where(AuditEvent.type == str(EventType.CONSENT_GRANTED))
        ).one()
        assert json.loads(event.details).get("gpc", False) is sent
    receipts = consumer.get(f"/brands/{brand['brand_id']}/receipts.json").get_json()
    (receipt,) = receipts
    assert receipt["global_privacy_control"] is sent
    # The consumer's revoke receipt carries no signal of its own.
    path = f"/api/v1/me/grants/{brand['brand_id']}"
    assert consumer.delete(path, headers=api_headers(consumer)).status_code == 200
    _given, withdrawn = consumer.get(f"/brands/{brand['brand_id']}/receipts.json").get_json()
    assert withdrawn["global_privacy_control"] is None


@pytest.fixture
def sharing_brand(runner):
    return make_brand(
        runner,
        name="Broker",
        domain="broker.example",
        scopes=ALL_SCOPES,
        third_party=["interests:read"],
    )


def test_a_scope_declared_as_shared_with_third_parties_is_refused_outright(consumer, sharing_brand):
    _, challenge = pkce()
    url = authorize_url(sharing_brand, scope="interests:read channels:read", challenge=challenge)
    response = consumer.get(url, headers=GPC)
    assert response.status_code == 302
    query = redirect_query(response)
    assert query["error"] == "invalid_scope"
    assert "third parties" in query["error_description"]


def test_the_other_scopes_of_such_a_client_still_work_and_it_never_asks_by_default(
    consumer, sharing_brand
):
    _, challenge = pkce()
    page = consumer.get(authorize_url(sharing_brand, scope="channels:read", challenge=challenge))
    assert page.status_code == 200
    # With no scope at all, the client's allowed scopes leave out the shared one.
    url = authorize_url(sharing_brand, challenge=challenge).replace("scope=", "x=")
    text = consumer.get(url).get_data(as_text=True)
    assert "Interests" not in text and "Channels" in text


def test_the_extension_toggle_cannot_grant_a_shared_scope(consumer, sharing_brand):
    path = f"/api/v1/me/grants/{sharing_brand['brand_id']}/interests"
    assert consumer.post(path, headers=api_headers(consumer)).status_code == 404


def test_dynamic_registration_takes_the_flag(client, initial_token):  # noqa: F811
    body = {**GOOD, "sayso_third_party_scopes": ["interests:read"]}
    response = register(client, body, initial_token)
    assert response.status_code == 201, response.get_data(as_text=True)
    assert response.get_json()["sayso_third_party_scopes"] == ["interests:read"]


@pytest.mark.parametrize("flagged", [["profile:read"], ["browsing_categories:read"], "x"])
def test_dynamic_registration_refuses_a_flag_on_an_undeclared_scope(
    client,
    initial_token,  # noqa: F811
    flagged,
):
    response = register(client, {**GOOD, "sayso_third_party_scopes": flagged}, initial_token)
    assert response.status_code == 400
    assert response.get_json()["error"] == "invalid_client_metadata"


def test_the_portal_form_takes_the_flag_and_offers_the_contacts_permission(app, runner):
    from tests.portal_helpers import client_form, client_row, member_of, shown

    brand = make_brand(runner, name="Garden", domain="garden.example")
    member = member_of(app, brand["brand_id"])
    form_page = member.get("/portal/clients/new").get_data(as_text=True)
    assert 'value="contacts:write"' in form_page and "shares with third parties" in form_page
    form = client_form(
        member,
        **{
            "scope": ["interests:read", "channels:read", "contacts:write"],
            "purpose_contacts:write": "count how often we email you",
            "third_parties_interests:read": "yes",
            "third_parties_browsing_categories:read": "yes",  # not ticked: ignored
        },
    )
    response = member.post("/portal/clients/new", data=form)
    assert response.status_code == 201, response.get_data(as_text=True)
    row = client_row(app, shown(response.get_data(as_text=True), "Client ID"))
    assert row.third_party_scopes == ["interests:read"]
    assert row.scope_purposes["interests:read"] == ALL_SCOPES["interests:read"]
    assert row.scope_purposes["contacts:write"] == "count how often we email you"
