"""The brand portal through HTTP, with CSRF on: clients, secrets shown once, deliveries."""

from __future__ import annotations

import hashlib
import json
import re
from datetime import UTC, datetime

import pytest
from babel.dates import format_date
from sqlalchemy import func, select

from sayso.extensions import db
from sayso.models import Account, AuditEvent, OAuthClient, Token, WebhookDelivery
from tests.helpers import api_headers, csrf_token, sign_up
from tests.oauth_helpers import (
    ALL_SCOPES,
    authorize_url,
    basic,
    bearer,
    connect,
    consent,
    exchange,
    make_brand,
    redirect_query,
)
from tests.oauth_helpers import pkce as new_pkce
from tests.portal_helpers import (
    SHOP,
    add_member,
    client_form,
    client_row,
    member_of,
    shown,
)

DISCLOSURES = {
    "interests": [{"topic_id": 100}, {"text": "crime fiction"}],
    "channels": [{"channel": "email", "max_per_week": 1}],
}


def database_text(app) -> str:
    """Every value of every row of every table, as text (bytes as latin-1)."""
    parts = []
    with app.app_context():
        for table in db.metadata.sorted_tables:
            for row in db.session.execute(table.select()):
                for value in row:
                    if isinstance(value, bytes):
                        value = value.decode("latin-1")
                    parts.append(str(value))
    return "\n".join(parts)


@pytest.fixture
def brand(runner):
    return make_brand(runner, webhook="https://bookshop.example/hooks")


@pytest.fixture
def member(app, brand):
    return member_of(app, brand["brand_id"])


@pytest.fixture
def consumer(app):
    client = app.test_client()
    sign_up(client, "ada@example.org")
    client.put("/api/v1/me/disclosures", json=DISCLOSURES, headers=api_headers(client))
    return client


def register(member, **overrides):
    return member.post("/portal/clients/new", data=client_form(member, **overrides))


# Access ----------------------------------------------------------------------


def test_anonymous_visitors_are_sent_to_sign_in(client):
    response = client.get("/portal")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login?next=/portal")


def test_consumers_get_a_readable_403(app, consumer):
    response = consumer.get("/portal")
    assert response.status_code == 403
    assert "brand portal is for people who work for a brand" in response.get_data(as_text=True)
    form = {
        "csrf_token": csrf_token(consumer, "/account/password"),
        "name": "Sneaky",
        "redirect_uris": SHOP,
        "scope": ["interests:read"],
        "purpose_interests:read": "whatever we like",
    }
    assert consumer.post("/portal/clients/new", data=form).status_code == 403
    assert consumer.get("/portal/deliveries").status_code == 403
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(OAuthClient)) == 0


def test_member_signs_in_and_sees_the_brand_domains_and_clients(member, brand, runner):
    runner.invoke(args=["brands", "verify-domain", "bookshop.example"])
    html = member.get("/portal").get_data(as_text=True)
    assert "Bookshop" in html and brand["brand_id"] in html
    assert "bookshop.example" in html and "not verified" not in html
    assert brand["client_id"] in html
    assert "Brand portal" in html and "My disclosures" not in html


# Registering, secrets shown once -------------------------------------------------


def test_member_registers_a_client_and_sees_its_secrets_exactly_once(app, member, brand):
    response = register(member, webhook_url="https://shop.bookshop.example/hooks")
    assert response.status_code == 201
    assert "Location" not in response.headers
    html = response.get_data(as_text=True)
    client_id = shown(html, "Client ID")
    secret = shown(html, "Client secret")
    webhook_secret = shown(html, "Webhook signing secret")
    assert secret.startswith("sayso_cs_") and webhook_secret.startswith("sayso_whs_")
    assert response.headers["Cache-Control"] == "no-store"

    row = client_row(app, client_id)
    assert row.brand_id is not None and row.name == "Bookshop web"
    assert row.redirect_uris == [SHOP]
    assert row.scope_purposes == {
        "interests:read": ALL_SCOPES["interests:read"],
        "channels:read": ALL_SCOPES["channels:read"],
    }
    assert row.client_secret_hash == hashlib.sha256(secret.encode()).hexdigest()
    stored = database_text(app)
    assert secret not in stored and webhook_secret not in stored
    assert row.client_secret_hash in stored

    for page in [
        "/portal",
        f"/portal/clients/{client_id}",
        f"/portal/clients/{client_id}/delete",
        "/portal/clients/new",
        "/portal/deliveries",
        "/portal/registration",
    ]:
        again = member.get(page)
        assert again.status_code == 200, page
        text = again.get_data(as_text=True)
        assert secret not in text and webhook_secret not in text, page
    session_cookie = member.get_cookie(app.config["SESSION_COOKIE_NAME"])
    assert secret not in session_cookie.value

    with app.app_context():
        event = db.session.scalars(
            select(AuditEvent).where(AuditEvent.type == "brand:client:created")
        ).all()[-1]
        assert json.loads(event.details)["client_id"] == client_id
        assert event.actor.startswith("brand:")


def test_a_registered_client_runs_the_oauth_flow(member, consumer):
    html = register(member).get_data(as_text=True)
    new = {
        "client_id": shown(html, "Client ID"),
        "client_secret": shown(html, "Client secret"),
        "redirect_uri": SHOP,
    }
    token = connect(consumer, new, ["interests"], scope="interests:read channels:read")
    profile = consumer.get("/api/v1/profile", headers=bearer(token["access_token"]))
    assert profile.status_code == 200
    assert set(profile.get_json()) == {"sub", "interests"}


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"redirect_uris": "http://shop.bookshop.example/cb"}, "must use https"),
        ({"redirect_uris": "https://shop.bookshop.example/cb#done"}, "must not have a fragment"),
        ({"redirect_uris": "https://user:pw@shop.bookshop.example/cb"}, "must not carry credent"),
        ({"redirect_uris": "/callback"}, "must be an absolute URL"),
        ({"redirect_uris": "  \n"}, "Give one to ten redirect URIs"),
        ({"purpose_channels:read": ""}, "Declare the purpose for Channels (channels:read)"),
        ({"purpose_interests:read": "no"}, "Declare the purpose for Interests (interests:read)"),
        ({"scope": []}, "Tick at least one field"),
        ({"scope": ["email:read"], "purpose_email:read": "a purpose"}, "not a scope Sayso"),
        ({"name": ""}, "Name:"),
        ({"webhook_url": "ftp://bookshop.example/hooks"}, "The webhook URL must use https"),
    ],
)
def test_bad_clients_are_refused_with_readable_errors(app, member, overrides, message):
    response = register(member, **overrides)
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    errors = html.split('class="errors"')[1].split("</div>")[0]
    assert message in errors.replace("&#39;", "'")
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(OAuthClient)) == 1


def test_the_form_keeps_what_was_typed_after_an_error(member):
    html = register(member, **{"purpose_channels:read": ""}).get_data(as_text=True)
    assert ALL_SCOPES["interests:read"] in html
    assert 'value="interests:read" checked' in html


@pytest.mark.parametrize("loopback_allowed", [True, False])
def test_http_redirects_only_on_loopback_and_only_when_allowed(app_factory, loopback_allowed):
    app = app_factory(ALLOW_HTTP_LOOPBACK=loopback_allowed)
    brand = make_brand(app.test_cli_runner(), redirect="https://bookshop.example/callback")
    member = member_of(app, brand["brand_id"])
    loopback = register(member, redirect_uris="http://localhost:8000/callback")
    assert loopback.status_code == (201 if loopback_allowed else 422)
    if not loopback_allowed:
        assert "must use https" in loopback.get_data(as_text=True)
    elsewhere = register(member, redirect_uris="http://shop.bookshop.example/callback")
    assert elsewhere.status_code == 422


# Rotating and deleting ------------------------------------------------------------


def test_rotating_the_secret_shows_the_new_one_once_and_the_old_one_fails(
    app, member, consumer, brand
):
    page = f"/portal/clients/{brand['client_id']}"
    response = member.post(page + "/rotate-secret", data={"csrf_token": csrf_token(member, page)})
    assert response.status_code == 200
    new_secret = shown(response.get_data(as_text=True), "Client secret")
    assert new_secret != brand["client_secret"]
    assert new_secret not in member.get(page).get_data(as_text=True)
    assert client_row(app, brand["client_id"]).client_secret_hash == (
        hashlib.sha256(new_secret.encode()).hexdigest()
    )
    assert new_secret not in database_text(app)

    rotated = {**brand, "client_secret": new_secret}
    assert connect(consumer, rotated, ["interests"])["access_token"]

    verifier, challenge = new_pkce()
    code = consent(consumer, brand, ["interests"], challenge=challenge, prompt="consent")["code"]
    refused = exchange(consumer, brand, code, verifier, auth=basic(brand))
    assert refused.status_code == 401
    assert refused.get_json()["error"] == "invalid_client"


def test_rotating_the_webhook_secret_changes_what_signs_deliveries(app, member, brand):
    from sayso import services

    page = f"/portal/clients/{brand['client_id']}"
    response = member.post(
        page + "/rotate-webhook-secret", data={"csrf_token": csrf_token(member, page)}
    )
    assert response.status_code == 200
    secret = shown(response.get_data(as_text=True), "Webhook signing secret")
    assert secret != brand["webhook_secret"]
    with app.app_context():
        client = services.brands().client(brand["client_id"])
        assert services.brands().webhook_secret(client) == secret
    assert secret not in database_text(app)
    assert secret not in member.get(page).get_data(as_text=True)


def test_delete_asks_first_then_removes_the_client_and_its_tokens_stop(
    app, member, consumer, brand
):
    token = connect(consumer, brand, ["interests"])["access_token"]
    page = f"/portal/clients/{brand['client_id']}/delete"
    assert "cannot be undone" in member.get(page).get_data(as_text=True)

    unconfirmed = member.post(page, data={"csrf_token": csrf_token(member, page)})
    assert unconfirmed.status_code == 422
    assert "Tick the box" in unconfirmed.get_data(as_text=True)
    assert client_row(app, brand["client_id"]) is not None

    response = member.post(page, data={"csrf_token": csrf_token(member, page), "confirm": "yes"})
    assert response.status_code == 302
    assert response.headers["Location"] == "/portal"
    assert "is deleted" in member.get("/portal").get_data(as_text=True)
    assert client_row(app, brand["client_id"]) is None
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Token)) == 0
        assert db.session.scalars(
            select(AuditEvent).where(AuditEvent.type == "brand:client:deleted")
        ).one()
    assert consumer.get("/api/v1/profile", headers=bearer(token)).status_code == 401
    assert member.get(f"/portal/clients/{brand['client_id']}").status_code == 404


# Isolation and CSRF --------------------------------------------------------------


def test_a_member_of_one_brand_cannot_touch_another_brands_client(app, member, runner):
    other = make_brand(runner, name="Other", domain="other.example")
    before = client_row(app, other["client_id"]).client_secret_hash
    token = csrf_token(member, "/portal")
    base = f"/portal/clients/{other['client_id']}"
    assert member.get(base).status_code == 404
    assert member.get(base + "/delete").status_code == 404
    for action in ("/rotate-secret", "/rotate-webhook-secret"):
        assert member.post(base + action, data={"csrf_token": token}).status_code == 404
    gone = member.post(base + "/delete", data={"csrf_token": token, "confirm": "yes"})
    assert gone.status_code == 404
    assert client_row(app, other["client_id"]).client_secret_hash == before
    assert other["client_id"] not in member.get("/portal").get_data(as_text=True)


def test_posts_without_the_csrf_token_are_refused(app, member, brand):
    form = client_form(member)
    del form["csrf_token"]
    assert member.post("/portal/clients/new", data=form).status_code == 400
    base = f"/portal/clients/{brand['client_id']}"
    before = client_row(app, brand["client_id"]).client_secret_hash
    assert member.post(base + "/rotate-secret").status_code == 400
    assert member.post(base + "/delete", data={"confirm": "yes"}).status_code == 400
    assert member.post("/portal/registration/tokens").status_code == 400
    assert client_row(app, brand["client_id"]).client_secret_hash == before
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(OAuthClient)) == 1


# Deliveries and registration tokens --------------------------------------------------


def test_webhook_deliveries_show_up_after_a_consumer_revokes(app, member, consumer, brand):
    assert "No deliveries yet" in member.get("/portal/deliveries").get_data(as_text=True)
    connect(consumer, brand, ["interests", "channels"])
    consumer.delete(f"/api/v1/me/grants/{brand['brand_id']}", headers=api_headers(consumer))
    html = member.get("/portal/deliveries").get_data(as_text=True)
    assert "consent.revoked" in html
    assert "pending" in html and brand["client_id"] in html
    with app.app_context():
        delivery = db.session.scalars(select(WebhookDelivery)).one()
    assert delivery.event_id in html


def test_deliveries_of_another_brand_are_not_shown(app, member, consumer, runner):
    other = make_brand(
        runner, name="Other", domain="other.example", webhook="https://other.example/hooks"
    )
    connect(consumer, other, ["interests"])
    consumer.delete(f"/api/v1/me/grants/{other['brand_id']}", headers=api_headers(consumer))
    html = member.get("/portal/deliveries").get_data(as_text=True)
    assert "consent.revoked" not in html and other["client_id"] not in html


def test_an_initial_access_token_is_shown_once_and_can_be_revoked(app, member):
    page = "/portal/registration"
    assert "http://localhost/oauth/register" in member.get(page).get_data(as_text=True)
    response = member.post(page + "/tokens", data={"csrf_token": csrf_token(member, page)})
    assert response.status_code == 201
    token = shown(response.get_data(as_text=True), "Initial access token")
    assert token not in member.get(page).get_data(as_text=True)
    assert "1 token works now" in member.get(page).get_data(as_text=True)
    assert token not in database_text(app)
    body = {
        "redirect_uris": [SHOP],
        "scope": "interests:read",
        "sayso_purposes": {"interests:read": "recommend books"},
    }
    headers = {"Authorization": f"Bearer {token}"}
    assert member.post("/oauth/register", json=body, headers=headers).status_code == 201

    revoked = member.post(page + "/revoke", data={"csrf_token": csrf_token(member, page)})
    assert revoked.status_code == 302
    assert member.post("/oauth/register", json=body, headers=headers).status_code == 401
    # Issuing and revoking are both on the record, by the member who did it.
    with app.app_context():
        events = db.session.execute(
            select(AuditEvent.type, AuditEvent.actor, AuditEvent.details)
            .where(AuditEvent.type.like("brand:registration_token:%"))
            .order_by(AuditEvent.seq)
        ).all()
    issued = json.loads(events[0].details)
    assert [(e.type, json.loads(e.details)) for e in events] == [
        ("brand:registration_token:issued", {"expires_at": issued["expires_at"], "uses": 10}),
        ("brand:registration_token:revoked", {"count": 1}),
    ]
    assert events[0].actor == events[1].actor and events[1].actor.startswith("brand:")
    # Nothing left to revoke: nothing recorded.
    member.post(page + "/revoke", data={"csrf_token": csrf_token(member, page)})
    with app.app_context():
        assert (
            db.session.scalar(
                select(func.count()).where(AuditEvent.type == "brand:registration_token:revoked")
            )
            == 1
        )


# The CLI -------------------------------------------------------------------------


def test_add_member_refuses_a_consumer_and_a_member_of_another_brand(runner, brand, consumer):
    refused = add_member(runner, brand["brand_id"], email="ada@example.org")
    assert refused.exit_code == 1 and "not a brand" in refused.output
    assert add_member(runner, brand["brand_id"]).exit_code == 0
    again = add_member(runner, brand["brand_id"])
    assert again.exit_code == 0 and "password unchanged" in again.output
    other = make_brand(runner, name="Other", domain="other.example")
    elsewhere = add_member(runner, other["brand_id"])
    assert elsewhere.exit_code == 1 and "another brand" in elsewhere.output
    assert add_member(runner, "br_nope").exit_code == 1
    short = add_member(runner, brand["brand_id"], email="new@bookshop.example", password="short")
    assert short.exit_code == 1


def test_brands_list_and_initial_token(runner, brand):
    listed = json.loads(runner.invoke(args=["brands", "list", "--json"]).output)
    assert listed == [
        {
            "brand_id": brand["brand_id"],
            "name": "Bookshop",
            "domains": [{"domain": "bookshop.example", "verified": False}],
            "clients": [{"client_id": brand["client_id"], "name": "Bookshop"}],
        }
    ]
    text = runner.invoke(args=["brands", "list"]).output
    assert brand["brand_id"] in text and "(not verified)" in text
    issued = runner.invoke(args=["brands", "initial-token", brand["brand_id"]])
    assert issued.exit_code == 0 and issued.output.startswith("sayso_iat_")
    assert runner.invoke(args=["brands", "initial-token", "br_nope"]).exit_code == 1


# The client's dashboard -----------------------------------------------------------------


def deny(client, brand):
    """Open the consent page and choose Deny; returns the redirect's query."""
    url = authorize_url(brand, challenge=new_pkce()[1])
    assert client.get(url).status_code == 200
    response = client.post(url, data={"csrf_token": csrf_token(client, url), "decision": "deny"})
    assert response.status_code == 302, response.get_data(as_text=True)
    return redirect_query(response)


def test_the_dashboard_counts_reads_errors_webhooks_and_consent_decisions(
    app, member, consumer, brand
):
    # Ada allows two of the three fields and reads twice; the brand redeems a code twice.
    verifier, challenge = new_pkce()
    code = consent(consumer, brand, ["interests", "channels"], challenge=challenge)["code"]
    token = exchange(consumer, brand, code, verifier).get_json()["access_token"]
    for _ in range(2):
        assert consumer.get("/api/v1/profile", headers=bearer(token)).status_code == 200
    assert exchange(consumer, brand, code, verifier).status_code == 400  # replayed
    # Bob denies everything; then Ada revokes, which queues a webhook delivery that fails.
    bob = app.test_client()
    sign_up(bob, "bob@example.org")
    assert deny(bob, brand)["error"] == "access_denied"
    consumer.delete(f"/api/v1/me/grants/{brand['brand_id']}", headers=api_headers(consumer))
    with app.app_context():
        delivery = db.session.scalars(select(WebhookDelivery)).one()
        delivery.attempts, delivery.last_status_code = 1, 503
        delivery.last_attempt_at = delivery.created_at
        db.session.commit()

    response = member.get(f"/portal/clients/{brand['client_id']}/dashboard")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "<strong>2</strong> reads · <strong>1</strong> error" in html
    assert "<li>An authorization code used twice: 1</li>" in html
    today = format_date(datetime.now(UTC).date(), "medium", locale="en")
    assert f"<title>{today}: 2 reads</title>" in html and f"<title>{today}: 1 error</title>" in html
    assert 'id="webhooks-pending">1<' in html and 'id="webhooks-delivered">0<' in html
    failure = r'id="webhooks-last-failure">\d+ \w{3} \d{4} \d\d:\d\d UTC: [^<]*HTTP 503'
    assert re.search(failure, html)
    assert 'id="consent-allowed">1<' in html and 'id="consent-denied">1<' in html
    rows = re.findall(
        r'<td data-label="Field">([^<]+)</td><td data-label="Allowed">(\d+)</td>'
        r'<td data-label="Declined">(\d+)</td>',
        html,
    )
    assert rows == [
        ("Browsing categories", "0", "2"),
        ("Channels", "1", "1"),
        ("Interests", "1", "1"),
    ]
    assert "shown</em> is not available" in html
    # Counts only: no consumer's value, no consumer's identity.
    with app.app_context():
        pseudonyms = [a.pseudonym for a in db.session.scalars(select(Account))]
    for secret in ["crime fiction", "ada@example.org", "bob@example.org", *pseudonyms]:
        assert secret not in html


def test_the_extensions_switches_are_not_consent_page_decisions(app, member, consumer, brand):
    switched = consumer.post(
        f"/api/v1/me/grants/{brand['brand_id']}/interests", headers=api_headers(consumer)
    )
    assert switched.status_code == 200, switched.get_data(as_text=True)
    html = member.get(f"/portal/clients/{brand['client_id']}/dashboard").get_data(as_text=True)
    assert "Nobody answered this client's consent page" in html


def test_a_denial_is_recorded_with_field_names_and_no_value(app, brand):
    bob = app.test_client()
    sign_up(bob, "bob@example.org")
    deny(bob, brand)
    with app.app_context():
        event = db.session.scalars(
            select(AuditEvent).where(AuditEvent.type == "consent:request:denied")
        ).one()
        bob_account = db.session.scalars(select(Account)).one()
    assert json.loads(event.fields) == ["browsing_categories", "channels", "interests"]
    assert json.loads(event.details) == {"client_id": brand["client_id"]}
    assert event.subject == bob_account.pseudonym and event.brand == brand["brand_id"]


def test_a_client_without_a_webhook_says_so_and_another_brands_client_is_not_found(
    app, runner, member
):
    quiet = make_brand(runner, name="Quiet", domain="quiet.example")
    assert member.get(f"/portal/clients/{quiet['client_id']}/dashboard").status_code == 404
    own = member_of(app, quiet["brand_id"], "sam@quiet.example")
    html = own.get(f"/portal/clients/{quiet['client_id']}/dashboard").get_data(as_text=True)
    assert "This client has no webhook URL" in html
    overview = own.get("/portal").get_data(as_text=True)
    assert f"/portal/clients/{quiet['client_id']}/dashboard" in overview
