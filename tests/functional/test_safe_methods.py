"""GET, HEAD and OPTIONS write nothing (``security.SafeMethodsFlask``), unless a view is marked
``writes_on_get``; so on SQLite, pages that only show things never wait for the write lock.
A marked view is not opened with the browser's cookie from another site.
"""

from __future__ import annotations

import logging

import pytest
from sqlalchemy import func, select

from sayso import services
from sayso.db import WriteRefused
from sayso.extensions import csrf, db
from sayso.models import AuditEvent
from sayso.security import writes_on_get
from tests.functional.test_console import officer_client
from tests.functional.test_portal import member_of
from tests.helpers import answered_without_waiting_for_sqlite_s_lock, disclosing_consumer
from tests.ledger_helpers import log_verifies
from tests.oauth_helpers import bearer, connect, make_brand


@pytest.fixture
def brand(runner):
    return make_brand(runner)


def _pages(app, brand) -> list[tuple[object, str]]:
    """Every page and GET endpoint that only shows things, each with a client allowed to
    see it, over data that gives each something to show: a consumer who disclosed, granted
    and was read, and a member of the brand."""
    consumer = disclosing_consumer(app.test_client())
    token = connect(consumer, brand, ["interests"])["access_token"]
    reader = app.test_client()
    assert reader.get("/api/v1/profile", headers=bearer(token)).status_code == 200
    member = member_of(app, brand["brand_id"])
    anyone = app.test_client()
    brand_id = brand["brand_id"]
    return [
        *(
            (consumer, path)
            for path in [
                "/",
                "/disclosures",
                "/disclosures/interests",
                "/brands",
                f"/brands/{brand_id}/access",
                f"/brands/{brand_id}/receipts.json",
                f"/brands/{brand_id}/revoke",
                "/brands/revoke-everything",
                f"/brands/{brand_id}/fields/interests/grant",
                "/receipts",
                "/questions",
                "/account/data",
                "/account/access",
                "/account/password",
                "/api/v1/me",
                "/api/v1/me/disclosures",
                "/api/v1/me/disclosures/interests",
                "/api/v1/me/access-history",
                "/api/v1/me/receipts",
                "/api/v1/me/questions",
            ]
        ),
        *(
            (member, path)
            for path in [
                "/portal",
                f"/portal/clients/{brand['client_id']}",
                f"/portal/clients/{brand['client_id']}/dashboard",
                "/portal/deliveries",
                "/portal/questions",
                "/portal/registration",
            ]
        ),
        *(
            (anyone, path)
            for path in [
                "/login",
                "/signup",
                "/account/forgot",
                "/healthz",
                "/api/v1/fields",
                "/api/v1/openapi.json",
                "/.well-known/oauth-authorization-server",
            ]
        ),
    ]


def test_pages_that_only_show_things_write_nothing_and_wait_for_no_sqlite_writer(app, brand):
    # Every page is asked for with GET and HEAD. A write in any of them raises WriteRefused
    # (on both databases); on SQLite, another connection holds the one write lock meanwhile,
    # as a long ledger append would, and no page may wait for it.
    pages = _pages(app, brand)

    def ask(shown):
        for client, url in pages:
            shown.append((url, client.get(url).status_code, client.head(url).status_code))

    shown = answered_without_waiting_for_sqlite_s_lock(app, ask)
    assert [s for s in shown if s[1:] != (200, 200)] == []
    assert len(shown) == len(pages)


@pytest.fixture
def recording_app(app):
    """The app with two test views that record a console view in the ledger when asked
    with GET, one of them marked as writing on GET."""

    def record():
        services.audit_console().record_view("officer:test", "events", {})
        return "recorded"

    app.add_url_rule("/test/records", "records", csrf.exempt(record), methods=["GET", "POST"])
    marked = writes_on_get(csrf.exempt(lambda: record()))
    app.add_url_rule("/test/records-marked", "records_marked", marked)
    return app


def _events(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(AuditEvent))


def test_a_view_that_writes_on_get_is_refused_unless_marked(recording_app, caplog):
    client = recording_app.test_client()
    before = _events(recording_app)
    # A programming error: the consistent 500, logged with the WriteRefused that caused it.
    with caplog.at_level(logging.ERROR):
        assert client.get("/test/records").status_code == 500
        assert client.head("/test/records").status_code == 500
    refused = [r for r in caplog.records if r.exc_info and r.exc_info[0] is WriteRefused]
    assert len(refused) == 2
    assert _events(recording_app) == before  # refused before anything was written

    assert client.post("/test/records").status_code == 200
    assert client.get("/test/records-marked").status_code == 200
    assert _events(recording_app) == before + 2
    with recording_app.app_context():
        assert log_verifies(recording_app)


@pytest.mark.parametrize("site", ["cross-site", "same-site"])
def test_a_recorded_view_is_not_opened_from_another_site(app, brand, site):
    # Another site's link would put a view the person never chose on the ledger in their
    # name: refused, with nothing recorded. The page offers the same address as a link on
    # Sayso's own page; opened from there (or typed, or by a browser that does not say),
    # it is recorded as usual.
    officer = officer_client(app)
    consumer = disclosing_consumer(app.test_client())
    before = _events(app)
    elsewhere = {"Sec-Fetch-Site": site}
    page = officer.get("/console?type=consent:granted&type=consent:revoked", headers=elsewhere)
    assert page.status_code == 403
    link = 'href="/console?type=consent:granted&amp;type=consent:revoked">Open it here'
    assert link in page.get_data(as_text=True)
    export = consumer.get("/api/v1/me/export", headers=elsewhere)
    assert export.status_code == 403
    assert export.get_json()["error"] == "started_on_another_site"
    assert _events(app) == before

    for origin in ("same-origin", "none", None):
        headers = {"Sec-Fetch-Site": origin} if origin else {}
        assert officer.get("/console", headers=headers).status_code == 200
        assert consumer.get("/api/v1/me/export", headers=headers).status_code == 200
    assert _events(app) == before + 6


def test_a_brand_s_read_carries_its_own_credentials_from_any_site(app, brand):
    # A bearer token is no ambient credential: a brand's page may read with one.
    consumer = disclosing_consumer(app.test_client())
    token = connect(consumer, brand, ["interests"])["access_token"]
    headers = {**bearer(token), "Sec-Fetch-Site": "cross-site"}
    assert app.test_client().get("/api/v1/profile", headers=headers).status_code == 200
