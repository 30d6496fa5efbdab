"""The consumer's side of a brand's request, through HTTP: signing up on the way to the
consent page and coming back to it, the consent page showing exactly what would go, and
revoking with a confirmation step, an undo, and granting a field again."""

from __future__ import annotations

import html
import json
import re
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import select, update

from sayso.extensions import db
from sayso.models import AuditEvent, BrandDomain, Grant
from sayso.shared.clock import utcnow
from tests.functional.test_portal import member_of
from tests.functional.test_questions import answer, ask
from tests.helpers import (
    PASSWORD,
    api_headers,
    confirm_address,
    csrf_token,
    emailed_link,
    sign_up,
)
from tests.oauth_helpers import (
    REDIRECT,
    authorize_url,
    connect,
    make_brand,
    pkce,
    redirect_query,
)

SCOPES = {
    "interests:read": "recommend books by authors you like",
    "browsing_categories:read": "choose what to show you first",
    "channels:read": "email you no more often than you allow",
    "contacts:write": "show you how often we email you",
}
DISCLOSURES = {
    "interests": [{"topic_id": 100}, {"topic_id": 102}, {"text": "crime fiction"}],
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
def brand(runner):
    return make_brand(runner, scopes=SCOPES)


@pytest.fixture
def consumer(client):
    sign_up(client, "ada@example.org")
    client.put("/api/v1/me/disclosures", json=DISCLOSURES, headers=api_headers(client))
    return client


def _request(brand, scope: str) -> str:
    """A brand's authorization request for ``scope``, with PKCE as every client must."""
    return authorize_url(brand, scope=scope, challenge=pkce()[1])


def _text(response) -> str:
    """The page's text as a person reads it (tags dropped, entities decoded, spaces joined)."""
    body = re.sub(r"<[^>]+>", " ", response.get_data(as_text=True))
    return " ".join(html.unescape(body).split())


def _events(app, type_: str) -> list[AuditEvent]:
    with app.app_context():
        return db.session.scalars(
            select(AuditEvent).where(AuditEvent.type == type_).order_by(AuditEvent.seq)
        ).all()


def _grants(app) -> dict[str, Grant]:
    with app.app_context():
        return {g.field: g for g in db.session.scalars(select(Grant)).all()}


def _undo_of(response) -> str:
    """The revoke instant a revoke's redirect offers to undo."""
    assert response.status_code == 302, response.get_data(as_text=True)
    return parse_qs(urlsplit(response.headers["Location"]).query)["undo"][0]


# Flow continuity ----------------------------------------------------------------------


def test_signing_up_on_the_way_returns_to_the_same_consent_request(client, brand):
    url = _request(brand, "interests:read channels:read")
    to_login = client.get(url)
    assert to_login.status_code == 302
    login_url = to_login.headers["Location"]
    next_url = parse_qs(urlsplit(login_url).query)["next"][0]
    assert next_url == url

    login = client.get(login_url)
    assert "Sign in to continue to Bookshop" in _text(login)
    signup_link = re.search(r'href="(/signup\?next=[^"]+)"', login.get_data(as_text=True))
    assert signup_link, "Create an account must keep the return address"
    signup_url = html.unescape(signup_link.group(1))

    signup = client.get(signup_url)
    assert "Create your Sayso account to continue to Bookshop" in _text(signup)
    token = re.search(r'name="csrf_token" value="([^"]+)"', signup.get_data(as_text=True))
    carried = re.search(r'name="next" value="([^"]*)"', signup.get_data(as_text=True))
    assert html.unescape(carried.group(1)) == url

    created = client.post(
        "/signup",
        data={
            "email": "new@example.org",
            "password": PASSWORD,
            "csrf_token": token.group(1),
            "next": html.unescape(carried.group(1)),
        },
    )
    # "Check your email"; the emailed link carries the return address, and confirming
    # (with the password) signs in and goes on to it.
    assert created.status_code == 200 and "Check your email" in _text(created)
    link = emailed_link(client.application, "new@example.org", "/account/confirm/")
    confirmed = confirm_address(client, link)
    assert confirmed.status_code == 302 and confirmed.headers["Location"] == url

    page = client.get(url)
    assert page.status_code == 200, page.headers.get("Location")
    assert "Bookshop would like to see" in _text(page)
    # The consent page answers in the new session: allowing ends at the bookshop.
    answer = client.post(
        url,
        data={
            "csrf_token": csrf_token(client, url),
            "decision": "allow",
            "field": ["interests"],
        },
    )
    assert answer.status_code == 302 and answer.headers["Location"].startswith(REDIRECT)
    assert "code" in redirect_query(answer)


@pytest.mark.parametrize(
    "target",
    [
        "https://evil.example/",
        "//evil.example/",
        "/\\evil.example",
        "javascript:alert(1)",
        "http:/evil.example",
    ],
)
def test_an_offsite_return_address_is_refused_on_sign_up_and_sign_in(client, target):
    for page in ("/signup", "/login"):
        shown = client.get(page, query_string={"next": target}).get_data(as_text=True)
        assert "evil.example" not in shown and "javascript" not in shown
    token = csrf_token(client, "/signup")
    response = client.post(
        "/signup",
        data={
            "email": "eve@example.org",
            "password": PASSWORD,
            "csrf_token": token,
            "next": target,
        },
    )
    assert response.status_code == 200
    assert "evil.example" not in response.get_data(as_text=True)
    link = emailed_link(client.application, "eve@example.org", "/account/confirm/")
    assert "evil.example" not in link and "javascript" not in link
    confirmed = confirm_address(client, link)
    assert confirmed.headers["Location"] == "/disclosures"


def test_a_sign_in_page_without_a_brand_names_none(client):
    assert "to continue to" not in _text(client.get("/login"))
    assert "to continue to" not in _text(client.get("/login?next=/brands"))


# The consent page ---------------------------------------------------------------------


def test_the_consent_page_shows_the_values_that_would_go(app, consumer, brand):
    page = consumer.get(_request(brand, " ".join(SCOPES)))
    assert page.status_code == 200
    text = _text(page)
    reads, writes = text.split("Bookshop would also like to", 1)
    assert "Bookshop would like to see" in reads
    # Interests: the topic by name (with its category), the free text as typed.
    assert "Books & Literature Poetry (in Books & Literature) “crime fiction”" in reads
    assert "/Books & Literature" not in reads and "102" not in reads
    # Channels as people call them, a cap of 0 said as "never".
    assert "Email: at most 2 a week, never between 21:00 and 08:00 (Europe/Paris)" in reads
    assert "Text message (SMS): never" in reads
    assert "sms" not in reads and "max_per_week" not in reads
    # An empty field says it sends nothing.
    assert "You have not filled this in — Bookshop will get nothing." in reads
    # A write is not among what the brand would see.
    assert "Contact reports" in writes and "Contact reports" not in reads
    assert "This sends Bookshop nothing of yours" in writes
    # The unverified domain is a warning, not grey text.
    assert '<div class="domain unverified" role="note">' in page.get_data(as_text=True)
    assert "Not verified: bookshop.example" in text
    # What revoking will do, and nothing is ticked.
    assert "From Bookshop's very next request it gets nothing more" in text
    assert " checked" not in re.sub(r'name="expiry" value="1y" checked', "", page.get_data(True))
    # Showing the consumer their own values is not a brand's read.
    assert _events(app, "api:profile:read") == []


def test_a_verified_domain_is_said_plainly(app, consumer, brand):
    with app.app_context():
        db.session.execute(update(BrandDomain).values(verified_at=utcnow()))
        db.session.commit()
    page = consumer.get(_request(brand, "interests:read"))
    text = _text(page)
    assert "bookshop.example — verified" in text and "Not verified" not in text


def test_answers_show_this_brand_s_answered_questions_or_say_there_are_none(app, consumer, runner):
    scopes = {
        "interests:read": "recommend books",
        "answers:read": "tell you about the authors you choose",
    }
    brand = make_brand(runner, scopes=scopes)
    unanswered = _text(consumer.get(_request(brand, "answers:read")))
    assert "You have not answered any of Bookshop's questions — Bookshop will get nothing." in (
        unanswered
    )

    connect(consumer, brand, ["interests"], scope="interests:read")
    question_id = ask(app, member_of(app, brand["brand_id"]))
    assert answer(consumer, question_id, ["Margaret Atwood", "Terry Pratchett"]).status_code == 302
    text = _text(consumer.get(_request(brand, "answers:read")))
    assert "“Which authors should we tell you about?”: Margaret Atwood, Terry Pratchett" in text
    assert _events(app, "api:profile:read") == []


# Revoking with confidence ---------------------------------------------------------------


def test_revoke_everything_needs_a_confirmation_naming_what_ends(app, consumer, brand):
    connect(consumer, brand, ["interests", "channels"])
    brands_page = consumer.get("/brands").get_data(as_text=True)
    # No one-click form for it on the Brands page: a link to the confirmation step.
    assert 'action="/brands/revoke-everything"' not in brands_page
    assert 'href="/brands/revoke-everything"' in brands_page
    token = csrf_token(consumer, "/brands")

    unconfirmed = consumer.post("/brands/revoke-everything", data={"csrf_token": token})
    assert unconfirmed.status_code == 302
    assert unconfirmed.headers["Location"] == "/brands/revoke-everything"
    assert all(g.revoked_at is None for g in _grants(app).values())

    confirm = consumer.get("/brands/revoke-everything")
    text = _text(confirm)
    assert "Revoke everything for every brand?" in text
    assert "Bookshop will no longer see or use: Channels Interests" in text
    done = consumer.post("/brands/revoke-everything", data={"csrf_token": token, "confirm": "yes"})
    _undo_of(done)
    assert all(g.revoked_at is not None for g in _grants(app).values())


def test_revoke_everything_for_one_brand_is_confirmed_then_no_longer_offered(app, consumer, brand):
    connect(consumer, brand, ["interests"])
    assert "Revoke everything for Bookshop" in _text(consumer.get("/brands"))
    token = csrf_token(consumer, "/brands")
    path = f"/brands/{brand['brand_id']}/revoke"
    unconfirmed = consumer.post(path, data={"csrf_token": token})
    assert unconfirmed.status_code == 302 and unconfirmed.headers["Location"] == path
    assert _grants(app)["interests"].revoked_at is None
    assert "Bookshop will no longer see or use: Interests" in _text(consumer.get(path))

    done = consumer.post(path, data={"csrf_token": token, "confirm": "yes"})
    after = _text(consumer.get(done.headers["Location"]))
    assert "Bookshop can no longer see anything of yours." in after
    assert "Revoke everything for Bookshop" not in after
    assert "Revoke everything, for every brand" not in after


def test_undo_within_the_window_is_a_new_grant_on_the_ledger(app, consumer, brand):
    connect(consumer, brand, ["interests", "channels"], expiry="30d")
    before = _grants(app)["channels"]
    token = csrf_token(consumer, "/brands")
    revoked = consumer.post(
        f"/brands/{brand['brand_id']}/fields/channels/revoke", data={"csrf_token": token}
    )
    when = _undo_of(revoked)
    page = _text(consumer.get(revoked.headers["Location"]))
    assert "You just revoked: Bookshop : Channels" in page and "Undo this revoke" in page

    undone = consumer.post("/brands/undo", data={"csrf_token": token, "undo": when})
    assert undone.status_code == 302
    assert "Undone: 1 revoked field is granted again." in _text(consumer.get("/brands"))
    after = _grants(app)["channels"]
    assert after.revoked_at is None and after.is_live(utcnow())
    assert (after.purpose, after.client_id, after.expires_at) == (
        before.purpose,
        before.client_id,
        before.expires_at,
    )
    grants = _events(app, "consent:grant:created")
    assert len(grants) == 2  # the consent page's, then the undo's
    details = json.loads(grants[-1].details)
    assert json.loads(grants[-1].fields) == ["channels"]
    assert details["via"] == "undo" and details["purposes"] == {"channels": before.purpose}
    assert details["undoes_revoke_at"]
    # Only what that revoke ended: interests was never revoked, and one undo is all.
    again = consumer.post("/brands/undo", data={"csrf_token": token, "undo": when})
    assert again.status_code == 302
    assert len(_events(app, "consent:grant:created")) == 2


def test_undo_after_the_window_is_refused(app, consumer, brand):
    connect(consumer, brand, ["interests"])
    token = csrf_token(consumer, "/brands")
    consumer.post(
        f"/brands/{brand['brand_id']}/fields/interests/revoke", data={"csrf_token": token}
    )
    # As if eleven minutes had passed: the revoke's stamp moved back.
    long_ago = utcnow() - timedelta(minutes=11)
    with app.app_context():
        db.session.execute(update(Grant).values(revoked_at=long_ago))
        db.session.commit()
    assert "Undo this revoke" not in _text(
        consumer.get("/brands", query_string={"undo": long_ago.isoformat()})
    )
    refused = consumer.post(
        "/brands/undo", data={"csrf_token": token, "undo": long_ago.isoformat()}
    )
    assert refused.status_code == 302
    assert "can no longer be undone" in _text(consumer.get("/brands"))
    assert _grants(app)["interests"].revoked_at is not None
    assert len(_events(app, "consent:grant:created")) == 1


@pytest.mark.parametrize("bad", ["", "yesterday", "2026-01-01T00:00:00"])
def test_an_undo_that_names_no_revoke_is_refused(app, consumer, brand, bad):
    connect(consumer, brand, ["interests"])
    token = csrf_token(consumer, "/brands")
    refused = consumer.post("/brands/undo", data={"csrf_token": token, "undo": bad})
    assert refused.status_code == 302
    assert len(_events(app, "consent:grant:created")) == 1


def test_granting_again_goes_through_a_consent_step_with_the_registered_purpose(
    app, consumer, brand
):
    connect(consumer, brand, ["interests"])
    token = csrf_token(consumer, "/brands")
    consumer.post(
        f"/brands/{brand['brand_id']}/fields/interests/revoke", data={"csrf_token": token}
    )
    brands_page = consumer.get("/brands").get_data(as_text=True)
    path = f"/brands/{brand['brand_id']}/fields/interests/grant"
    assert f'href="{path}"' in brands_page

    step = _text(consumer.get(path))
    assert "Let Bookshop see your interests again?" in step
    assert "“recommend books by authors you like”" in step and "“crime fiction”" in step

    granted = consumer.post(
        path,
        data={
            "csrf_token": token,
            "decision": "allow",
            "expiry": "30d",
            # A form cannot choose the purpose or the client: these are ignored.
            "purpose": "sell your data",
            "client_id": "someone-else",
        },
    )
    assert granted.status_code == 302
    grant = _grants(app)["interests"]
    assert grant.is_live(utcnow()) and grant.purpose == SCOPES["interests:read"]
    assert grant.client_id == brand["client_id"]
    event = _events(app, "consent:grant:created")[-1]
    assert json.loads(event.details)["purposes"] == {"interests": SCOPES["interests:read"]}


def test_cancelling_a_grant_again_changes_nothing(app, consumer, brand):
    connect(consumer, brand, ["interests"])
    token = csrf_token(consumer, "/brands")
    consumer.post(
        f"/brands/{brand['brand_id']}/fields/interests/revoke", data={"csrf_token": token}
    )
    path = f"/brands/{brand['brand_id']}/fields/interests/grant"
    consumer.post(path, data={"csrf_token": token, "decision": "deny"})
    assert _grants(app)["interests"].revoked_at is not None
    assert len(_events(app, "consent:grant:created")) == 1


def test_a_field_the_brand_never_declared_cannot_be_granted_from_the_brands_page(consumer, runner):
    brand = make_brand(runner, scopes={"interests:read": "recommend books"})
    assert consumer.get(f"/brands/{brand['brand_id']}/fields/channels/grant").status_code == 404
    assert consumer.get(f"/brands/{brand['brand_id']}/fields/nope/grant").status_code == 404


def test_undoing_revoke_everything_grants_each_brand_again_in_its_own_event(
    app, consumer, brand, runner
):
    other = make_brand(
        runner,
        name="Cinema",
        domain="cinema.example",
        redirect="https://cinema.example/callback",
        scopes={"interests:read": "suggest films"},
    )
    connect(consumer, brand, ["interests", "channels"])
    connect(consumer, other, ["interests"], scope="interests:read")
    token = csrf_token(consumer, "/brands")
    confirm = _text(consumer.get("/brands/revoke-everything"))
    assert "Bookshop will no longer see or use: Channels Interests" in confirm
    assert "Cinema will no longer see or use: Interests" in confirm
    when = _undo_of(
        consumer.post("/brands/revoke-everything", data={"csrf_token": token, "confirm": "yes"})
    )
    offered = _text(consumer.get("/brands", query_string={"undo": when}))
    assert "Bookshop : Channels, Interests" in offered and "Cinema : Interests" in offered

    consumer.post("/brands/undo", data={"csrf_token": token, "undo": when})
    with app.app_context():
        rows = db.session.scalars(select(Grant)).all()
        assert all(g.revoked_at is None for g in rows) and len(rows) == 3
    undos = [e for e in _events(app, "consent:grant:created") if '"undo"' in e.details]
    assert sorted(e.brand for e in undos) == sorted([brand["brand_id"], other["brand_id"]])


def test_an_undo_leaves_alone_what_was_granted_again_since(app, consumer, brand):
    connect(consumer, brand, ["interests", "channels"])
    token = csrf_token(consumer, "/brands")
    path = f"/brands/{brand['brand_id']}/revoke"
    when = _undo_of(consumer.post(path, data={"csrf_token": token, "confirm": "yes"}))
    consumer.post(
        f"/brands/{brand['brand_id']}/fields/interests/grant",
        data={"csrf_token": token, "decision": "allow", "expiry": "never"},
    )
    regranted = _grants(app)["interests"]

    consumer.post("/brands/undo", data={"csrf_token": token, "undo": when})
    grants = _grants(app)
    assert grants["channels"].revoked_at is None  # what the revoke ended, and nothing since
    assert (grants["interests"].granted_at, grants["interests"].expires_at) == (
        regranted.granted_at,
        None,
    )
    undo = [e for e in _events(app, "consent:grant:created") if '"undo"' in e.details]
    assert [json.loads(e.fields) for e in undo] == [["channels"]]
