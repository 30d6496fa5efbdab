"""How many SQL statements the sign-in path executes: the consent page, the consent, the token.

Counts, unlike timings, are deterministic: each is pinned here as a ceiling per backend, so
a query that creeps back in (an ORM lazy load, a second lookup of the same client, a grant
read before it is written) fails a test instead of a benchmark. SQLite counts its
``BEGIN IMMEDIATE`` (one per writing transaction but a ``one_write`` one); commits are not
statements.
"""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from sayso.extensions import db
from sayso.models import Grant
from tests.helpers import (
    answered_without_waiting_for_sqlite_s_lock,
    api_headers,
    counting,
    csrf_token,
    disclosing_consumer,
)
from tests.ledger_helpers import log_verifies
from tests.oauth_helpers import (
    authorize_url,
    basic,
    consent,
    exchange,
    make_brand,
    pkce,
    redirect_query,
)

_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')

# The most statements each step may take (SQLite, PostgreSQL), and what they are. With the
# profile read that follows (3), the brand's whole sign-in flow is at most 12 (bench S5).
CEILINGS = {
    # The client with its brand and domains, and the session's account if its record is
    # live (one statement: the joins of services/sessions.py's SessionRecords.along); the
    # consumer's disclosures with their data key (one join, however many fields), to show
    # what each field would share (the consumer's own values, read as My disclosures
    # reads them: no brand read). Read-only: no BEGIN IMMEDIATE on SQLite (db.read_only).
    "consent page": {"sqlite": 2, "postgresql": 2},
    # BEGIN (SQLite) or the consumer's lock for the brand (PostgreSQL); the client with the
    # session's account, as for the page (one statement); every ticked grant in one upsert;
    # the ledger event, queued for the log in the same statement. One transaction. The
    # code is sealed, not stored: no statement.
    "consent": {"sqlite": 4, "postgresql": 4},
    # The client's credentials; the token, inserted only if its code was never used and
    # its account is active (one INSERT ... SELECT ... ON CONFLICT DO NOTHING). That INSERT
    # is the only write: no BEGIN IMMEDIATE on SQLite (db.one_write).
    "token": {"sqlite": 2, "postgresql": 2},
}


@pytest.fixture
def brand(runner):
    return make_brand(runner)


@pytest.fixture
def consumer(client):
    # Every field disclosed, as the bench's consumer (S5): a statement per field would show.
    disclosing_consumer(client)
    everything = {
        "browsing_categories": [{"topic_id": 332, "weight": 0.25}],
        "channels": [{"channel": "email", "max_per_week": 1}],
    }
    answer = client.put("/api/v1/me/disclosures", json=everything, headers=api_headers(client))
    assert answer.status_code == 200
    return client


def _within(app, step: str, statements: list[str]) -> None:
    backend = (
        "sqlite" if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite") else "postgresql"
    )
    ceiling = CEILINGS[step][backend]
    listing = "\n".join(s[:160] for s in statements)
    assert len(statements) <= ceiling, f"{step}: {len(statements)} statements\n{listing}"


def _only_on(app, dialect: str, why: str) -> None:
    with app.app_context():
        if db.engine.dialect.name != dialect:
            pytest.skip(why)


@pytest.mark.parametrize("fields", [["interests"], ["interests", "channels"]])
def test_consent_page_consent_and_token_stay_within_their_statement_counts(
    app, consumer, brand, fields
):
    verifier, challenge = pkce()
    # As a brand signing a consumer in asks: with the page shown even if granted before.
    url = authorize_url(brand, challenge=challenge, prompt="consent")
    with counting(app) as statements:
        page = consumer.get(url)
    assert page.status_code == 200
    _within(app, "consent page", statements)

    token = _CSRF.search(page.get_data(as_text=True)).group(1)
    form = {"csrf_token": token, "decision": "allow", "field": fields, "expiry": "1y"}
    with counting(app) as statements:
        answer = consumer.post(url, data=form)
    assert answer.status_code == 302
    _within(app, "consent", statements)

    with counting(app) as statements:
        issued = exchange(app.test_client(), brand, redirect_query(answer)["code"], verifier)
    assert issued.status_code == 200
    _within(app, "token", statements)


def test_the_consent_page_is_shown_while_another_writer_holds_sqlite_s_lock(app, consumer, brand):
    # Showing the page writes nothing, so it does not wait for SQLite's one write lock
    # (held here by another connection, as a long ledger append would); the consent
    # itself, a write, waits its turn and goes through once the lock is let go.
    _only_on(app, "sqlite", "SQLite's write lock")
    _, challenge = pkce()
    url = authorize_url(brand, challenge=challenge, prompt="consent")
    shown = answered_without_waiting_for_sqlite_s_lock(
        app, lambda answers: answers.extend([consumer.get(url), consumer.head(url)]), seconds=5
    )
    assert [answer.status_code for answer in shown] == [200, 200]
    token = _CSRF.search(shown[0].get_data(as_text=True)).group(1)
    form = {"csrf_token": token, "decision": "allow", "field": ["interests"]}
    assert consumer.post(url, data=form).status_code == 302


def test_a_refused_token_request_does_not_wait_for_sqlite_s_lock(app, consumer, brand):
    # Checking the client and opening the sealed code only read: a wrong secret or an
    # altered code is refused while another writer holds the lock. The token's INSERT is
    # the exchange's one write; a good exchange waits its turn for that alone.
    _only_on(app, "sqlite", "SQLite's write lock")
    verifier, challenge = pkce()
    code = consent(consumer, brand, ["interests"], challenge=challenge)["code"]
    wrong_secret = basic({**brand, "client_secret": "not-the-secret"})
    altered = code[:-1] + ("A" if code[-1] != "A" else "B")
    refused = answered_without_waiting_for_sqlite_s_lock(
        app,
        lambda answers: answers.extend(
            [
                exchange(app.test_client(), brand, code, verifier, auth=wrong_secret),
                exchange(app.test_client(), brand, altered, verifier),
            ]
        ),
        seconds=5,
    )
    assert [(r.status_code, r.get_json()["error"]) for r in refused] == [
        (401, "invalid_client"),
        (400, "invalid_grant"),
    ]
    assert exchange(app.test_client(), brand, code, verifier).status_code == 200


def test_consent_given_again_costs_no_more_than_the_first(app, consumer, brand):
    # The second consent updates the grants the first made, in the same one statement, and
    # the ledger head that statement read chains both events correctly.
    for _ in range(2):
        _, challenge = pkce()
        url = authorize_url(brand, challenge=challenge, prompt="consent")
        form = {
            "csrf_token": csrf_token(consumer, url),
            "decision": "allow",
            "field": ["interests", "channels"],
        }
        with counting(app) as statements:
            assert consumer.post(url, data=form).status_code == 302
        _within(app, "consent", statements)
    with app.app_context():
        assert log_verifies(app)
        grants = db.session.scalars(select(Grant).order_by(Grant.field)).all()
        assert [g.field for g in grants] == ["channels", "interests"]


def test_grant_and_revoke_lock_the_ledger_head_before_writing_grants(app, consumer, brand):
    # One lock order for every writer of grants (PostgreSQL's advisory lock, then the grant
    # rows), so a consent and a concurrent revoke of the same grants cannot deadlock.
    # SQLite's BEGIN IMMEDIATE takes the one write lock before anything else anyway.
    _only_on(app, "postgresql", "PostgreSQL's advisory lock")
    _, challenge = pkce()
    url = authorize_url(brand, challenge=challenge)
    form = {"csrf_token": csrf_token(consumer, url), "decision": "allow", "field": ["interests"]}
    with counting(app) as granting:
        assert consumer.post(url, data=form).status_code == 302
    with counting(app) as revoking:
        path = f"/api/v1/me/grants/{brand['brand_id']}"
        assert consumer.delete(path, headers=api_headers(consumer)).status_code == 200
    for statements, write in ((granting, "INSERT INTO grants"), (revoking, "UPDATE grants")):
        lock = next(i for i, s in enumerate(statements) if "pg_advisory_xact_lock" in s)
        first_write = next(i for i, s in enumerate(statements) if s.startswith(write))
        assert lock < first_write, "\n".join(statements)
