"""The officer console through HTTP, with CSRF on: access, search, detail, log status (with
real witnesses), export, charts, the per-brand check, and the console's own ledger events."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, insert, select, text, update

from sayso import services
from sayso.extensions import db
from sayso.ledger import Event, EventType, Ledger
from sayso.ledger.encoding import dumps
from sayso.ledger.legacy import GENESIS_HASH, chain_hash
from sayso.ledger.verify import LogVerifier
from sayso.models import AuditEvent, LedgerCheckpoint, LedgerPending, LedgerTile
from sayso.offline_verify import load_trusted_key, verify_lines
from sayso.services.ledger_export import CSV_COLUMNS
from tests.helpers import PASSWORD, api_headers, csrf_token, log_in, sign_up
from tests.ledger_helpers import insert_events, integrate, rewrite_event
from tests.oauth_helpers import bearer, connect, make_brand
from tests.witness_helpers import RunningWitness

OFFICER = "olive@sayso.example"
DISCLOSURES = {
    "interests": [{"topic_id": 100}, {"text": "crime fiction"}],
    "channels": [{"channel": "email", "max_per_week": 1}],
}
PAGES = [
    "/console",
    "/console/events/1",
    "/console/log",
    "/console/activity",
    "/console/brands",
    "/console/erasures",
    "/console/export?format=jsonl",
]
ROW_SEQ = re.compile(r'<td data-label="Seq"><a href="/console/events/(\d+)"')


def create_officer(app, email=OFFICER, password=PASSWORD):
    """Create an officer through the CLI, as an operator would."""
    return app.test_cli_runner().invoke(
        args=["officers", "create", email, "--password-stdin"], input=password + "\n"
    )


def officer_client(app, email=OFFICER):
    """A signed-in test client for a new officer."""
    result = create_officer(app, email)
    assert result.exit_code == 0, result.output
    client = app.test_client()
    assert log_in(client, email).status_code == 302
    return client


@pytest.fixture
def officer(app):
    return officer_client(app)


def ledger_rows(app, *conditions):
    with app.app_context():
        return (
            db.session.execute(select(AuditEvent).where(*conditions).order_by(AuditEvent.seq))
            .scalars()
            .all()
        )


def head(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.max(AuditEvent.seq))) or 0


def console_events(app, type_=EventType.CONSOLE_VIEWED):
    return ledger_rows(app, AuditEvent.type == str(type_))


def append(app, *events):
    with app.app_context():
        ledger = Ledger(db.session)
        for event in events:
            ledger.append(event)
        db.session.commit()


def seqs(response) -> list[int]:
    return [int(s) for s in ROW_SEQ.findall(response.get_data(as_text=True))]


def all_pages(client, query: str) -> list[int]:
    """Follow "Older events" links from the first page to the last."""
    found, url = [], f"/console?{query}"
    while url:
        response = client.get(url)
        assert response.status_code == 200
        found += seqs(response)
        match = re.search(r'<a rel="next" href="([^"]+)"', response.get_data(as_text=True))
        url = match.group(1).replace("&amp;", "&") if match else None
    return found


def tamper(app, seq, **changes):
    """Change a ledger event behind the ledger's back, as an attacker with the database would."""
    with app.app_context():
        rewrite_event(db.session, seq, **changes)
        db.session.commit()


def key(app):
    return load_trusted_key(json.dumps(app.extensions["sayso_ledger_key"].public_document()))


def full_check(officer):
    """Run the full check from the log status page, as an officer does."""
    token = csrf_token(officer, "/console/log")
    return officer.post("/console/log/verify", data={"csrf_token": token}).get_data(as_text=True)


# Becoming an officer -------------------------------------------------------------------


def test_officers_create_makes_an_officer_account_and_a_ledger_event(app):
    result = create_officer(app)
    assert result.exit_code == 0, result.output
    with app.app_context():
        account = services.accounts().find_by_email(OFFICER)
        assert account.role == "officer"
        pseudonym = account.pseudonym
    [event] = ledger_rows(app)
    assert event.type == "account:officer:created"
    assert event.actor == f"officer:{pseudonym}" and event.subject == pseudonym

    again = create_officer(app)
    assert again.exit_code != 0 and "exists" in again.output
    short = create_officer(app, "short@sayso.example", "short")
    assert short.exit_code != 0 and "password" in short.output


def test_consumer_sign_up_is_still_a_consumer_event(app, client):
    sign_up(client, "ada@example.org")
    with app.app_context():
        assert services.accounts().find_by_email("ada@example.org").role == "consumer"
    assert ledger_rows(app)[0].type == "account:consumer:created"


def test_officer_nav_links_to_the_console(officer):
    html = officer.get("/").get_data(as_text=True)
    assert 'href="/console"' in html


# Who may see the console -----------------------------------------------------------------


@pytest.mark.parametrize("path", PAGES)
def test_anonymous_visitors_are_sent_to_sign_in(client, path):
    response = client.get(path)
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login?next=")


def test_consumers_and_brand_members_get_403(app, client, runner):
    brand = make_brand(runner)
    sign_up(client, "ada@example.org")
    member_result = runner.invoke(
        args=[
            "brands",
            "add-member",
            brand["brand_id"],
            "maria@bookshop.example",
            "--password-stdin",
        ],
        input=PASSWORD + "\n",
    )
    assert member_result.exit_code == 0, member_result.output
    member = app.test_client()
    assert log_in(member, "maria@bookshop.example").status_code == 302
    for who in (client, member):
        for path in [*PAGES, f"/console/brands/{brand['brand_id']}"]:
            response = who.get(path)
            assert response.status_code == 403, path
            assert "officer console is for Sayso" in response.get_data(as_text=True)
        token = csrf_token(who, "/account/password")
        assert who.post("/console/log/verify", data={"csrf_token": token}).status_code == 403
    assert console_events(app) == [] and console_events(app, EventType.CONSOLE_EXPORTED) == []


def test_officers_see_every_page(app, officer, runner):
    brand = make_brand(runner)
    for path in [*PAGES, f"/console/brands/{brand['brand_id']}"]:
        response = officer.get(path)
        response.get_data()  # a streamed export keeps its request context until it is read
        assert response.status_code == 200, path
        assert "no-store" in response.headers["Cache-Control"]


# Officer actions are ledger events -------------------------------------------------------


def test_every_view_and_export_is_a_ledger_event(app, officer, runner):
    brand = make_brand(runner)
    with app.app_context():
        pseudonym = services.accounts().find_by_email(OFFICER).pseudonym
    visits = [
        ("/console?type=consent:grant:created&since=2026-01-01", "events"),
        ("/console/events/1", "event"),
        ("/console/log", "log"),
        ("/console/activity?since=2026-01-01&until=2026-01-31", "activity"),
        ("/console/brands", "brands"),
        (f"/console/brands/{brand['brand_id']}", "brand"),
        ("/console/erasures", "erasures"),
    ]
    for path, view in visits:
        before = len(console_events(app))
        assert officer.get(path).status_code == 200
        viewed = console_events(app)
        assert len(viewed) == before + 1, path
        assert viewed[-1].actor == f"officer:{pseudonym}"
        assert json.loads(viewed[-1].details)["view"] == view
    details = [json.loads(e.details) for e in console_events(app)]
    assert details[0]["filters"] == {
        "type": "consent:grant:created",
        "since": "2026-01-01T00:00:00.000000Z",
    }
    assert details[1]["filters"] == {"seq": 1}
    assert details[3]["filters"] == {"since": "2026-01-01", "until": "2026-01-31"}
    assert details[5]["filters"]["brand"] == brand["brand_id"]

    token = csrf_token(officer, "/console/log")
    assert officer.post("/console/log/verify", data={"csrf_token": token}).status_code == 200
    assert json.loads(console_events(app)[-1].details)["view"] == "log_verify"

    response = officer.get(f"/console/export?format=csv&brand={brand['brand_id']}")
    response.get_data()
    [exported] = console_events(app, EventType.CONSOLE_EXPORTED)
    assert exported.actor == f"officer:{pseudonym}"
    assert json.loads(exported.details) == {
        "format": "csv",
        "filters": {"brand": brand["brand_id"]},
    }


def test_console_events_keep_the_log_intact(app, officer):
    officer.get("/console")
    officer.get("/console/log")
    integrate(app)
    with app.app_context():
        result = LogVerifier(db.session, app.extensions["sayso_ledger_key"]).verify()
    assert result.ok and result.size == len(ledger_rows(app)), result


def test_the_old_chain_page_leads_to_the_log(officer):
    response = officer.get("/console/chain")
    assert response.status_code == 301 and response.headers["Location"] == "/console/log"


# Search ----------------------------------------------------------------------------------


@pytest.fixture
def long_ledger(app):
    """120 events in January 2026, seq 1 to 120 (see ledger_helpers.insert_events: event n
    happens at 2026-01-01T00:00:00Z + n seconds), then an officer."""
    with app.app_context():
        insert_events(db.session, 120, start=1)
        db.session.commit()
    return officer_client(app)


def test_search_is_newest_first_and_paginates_by_cursor(app, long_ledger):
    first = long_ledger.get("/console?own_views=yes")
    rows = seqs(first)
    assert len(rows) == 50 and rows == sorted(rows, reverse=True)
    assert rows[0] == head(app)  # the view itself is recorded before the search runs
    every = all_pages(long_ledger, "")
    assert len(every) == len(set(every))
    # Views appended while paging do not shift the pages: the cursor is a seq.
    assert set(range(1, 121)) <= set(every)
    assert every == sorted(every, reverse=True)


def test_search_filters_by_type_brand_subject_and_time(app, long_ledger):
    grants = all_pages(long_ledger, "type=consent:grant:created")
    assert grants == [s for s in range(120, 0, -1) if s % 3 == 0]

    brand = f"br_{3:016x}"
    assert all_pages(long_ledger, f"brand={brand}") == [s for s in range(120, 0, -1) if s % 7 == 3]

    subject = f"{5:032x}"
    assert all_pages(long_ledger, f"subject={subject}") == [105, 5]

    # The events happen at 2026-01-01T00:00:00Z + seq seconds; "until" is exclusive.
    window = "since=2026-01-01T00:00:10Z&until=2026-01-01T00:00:20Z"
    assert all_pages(long_ledger, window) == list(range(19, 9, -1))
    assert all_pages(long_ledger, window + "&type=consent:grant:created") == [18, 15, 12]
    # A date alone as "until" includes that whole day; the officer's events are later.
    assert all_pages(long_ledger, "since=2026-01-01&until=2026-01-01") == list(range(120, 0, -1))
    # The officer's own page views are left out unless asked for.
    assert all_pages(long_ledger, "since=2026-01-02") == [
        e.seq
        for e in reversed(ledger_rows(app, AuditEvent.seq > 120))
        if e.type != EventType.CONSOLE_VIEWED
    ]
    assert all_pages(long_ledger, "since=2026-01-02&own_views=yes") == [
        e.seq for e in reversed(ledger_rows(app, AuditEvent.seq > 120))
    ]
    # The largest cursor a seq can be is fine on both databases (seq is a 32-bit integer).
    assert seqs(long_ledger.get("/console?cursor=2147483647&own_views=yes"))[0] == head(app)
    # Blank boxes, as the filter form sends them, mean "no filter".
    blank = long_ledger.get("/console?type=&brand=&subject=&since=&until=")
    assert blank.status_code == 200 and len(seqs(blank)) == 50


def test_search_page_shows_columns_but_no_values(app, officer, runner, client):
    brand = make_brand(runner)
    sign_up(client, "ada@example.org")
    client.put("/api/v1/me/disclosures", json=DISCLOSURES, headers=api_headers(client))
    token = connect(client, brand, ["interests"])["access_token"]
    assert client.get("/api/v1/profile", headers=bearer(token)).status_code == 200
    html = officer.get(f"/console?brand={brand['brand_id']}").get_data(as_text=True)
    assert "api:profile:read" in html and "consent:grant:created" in html
    assert "recommend books by authors you like" in html  # the declared purpose
    assert "Bookshop" in html
    # Officers cannot see disclosed values: on no page, in no export.
    read = ledger_rows(app, AuditEvent.type == "api:profile:read")[-1]
    for path in [
        f"/console?brand={brand['brand_id']}",
        f"/console/events/{read.seq}",
        f"/console/brands/{brand['brand_id']}",
        "/console/export?format=jsonl",
        "/console/export?format=csv",
    ]:
        assert "crime fiction" not in officer.get(path).get_data(as_text=True), path


@pytest.mark.parametrize(
    "path",
    [
        "/console?type=DROP%20TABLE",
        "/console?type=" + "a" * 100,
        "/console?since=yesterday",
        "/console?since=2026-13-01",
        "/console?until=9999-12-31",
        "/console?since=0001-01-01T00:00:00%2B05:00",
        "/console?since=2026-02-01&until=2026-01-01",
        "/console?cursor=abc",
        "/console?cursor=0",
        "/console?cursor=-3",
        "/console?cursor=1.5",
        "/console?cursor=9223372036854775808",
        "/console?cursor=99999999999999999999999999",
        "/console?subject=has%20spaces",
        "/console?brand=" + "b" * 65,
        "/console?brnad=br_typo",
        "/console/export?format=xml",
        "/console/export?format=csv&since=nope",
        "/console/activity?since=2020-01-01&until=2026-01-01",
        "/console/activity?since=2026-02-01&until=2026-01-01",
        "/console/activity?since=garbage",
        "/console/activity?until=0001-01-01",
        "/console/activity?days=3",
        "/console/erasures?cursor=x",
        "/console/brands/br_x?since=junk",
    ],
)
def test_bad_query_parameters_are_a_readable_422(app, officer, path):
    before = len(console_events(app))
    response = officer.get(path)
    assert response.status_code == 422, response.get_data(as_text=True)
    html = response.get_data(as_text=True)
    assert "Those filters cannot be used" in html and '<li id="error-1">' in html
    assert len(console_events(app)) == before  # nothing was viewed


def test_a_bad_filter_comes_back_with_the_others_as_typed(app, officer):
    # One bad value must not cost the officer the rest: the form comes back filled in,
    # the bad box marked and tied to its error, and no results.
    query = {
        "type": "consent:grant:created",
        "brand": "br_0123456789abcdef",
        "since": "2026-03-1",
        "until": "2026-03-31",
    }
    response = officer.get("/console", query_string=query)
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert '<option value="consent:grant:created" selected>' in html
    # A brand nobody registers stays chosen, by its id.
    assert '<option value="br_0123456789abcdef" selected>' in html
    assert 'name="until" value="2026-03-31"' in html
    assert re.search(r'<li id="error-1">(since|From): ', html)  # named as the form names it
    assert 'name="since" value="2026-03-1" aria-invalid="true" aria-describedby="error-1"' in html
    assert 'name="until" value="2026-03-31" aria-invalid' not in html
    assert "<table" not in html


@pytest.mark.parametrize("path", ["/console/activity", "/console/brands/br_x"])
def test_a_bad_chart_range_comes_back_as_typed(officer, path):
    response = officer.get(path, query_string={"since": "2026-03-1", "until": "2026-03-31"})
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert f'<form method="get" action="{path}"' in html
    assert 'name="until" value="2026-03-31"' in html
    assert 'name="since" value="2026-03-1" aria-invalid="true"' in html


@pytest.mark.parametrize(
    "path",
    [
        "/console/events/0",
        "/console/events/999999",
        "/console/events/9223372036854775808",
        "/console/events/99999999999999999999999",
        "/console/events/abc",
        "/console/brands/br_nobody",
        "/console/brands/%3Cscript%3E",
    ],
)
def test_missing_events_and_brands_are_404(officer, path):
    response = officer.get(path)
    assert response.status_code == 404


# Event detail ----------------------------------------------------------------------------


def inclusion_check(officer, seq: int) -> str:
    html = officer.get(f"/console/events/{seq}").get_data(as_text=True)
    return re.search(r'id="inclusion-check">([^<]*)<', html).group(1)


def test_event_detail_shows_every_column_its_place_and_its_inclusion(app, officer):
    row = ledger_rows(app)[0]  # account:officer:created
    html = officer.get(f"/console/events/{row.seq}").get_data(as_text=True)
    for value in (row.actor, row.subject, row.type, row.salt.hex()):
        assert value in html
    canonical = row.canonical.decode().replace('"', "&#34;")
    assert canonical in html
    leaf_hash = hashlib.sha256(b"\x00" + row.salt + row.canonical).hexdigest()
    assert f'id="leaf-hash">{leaf_hash}<' in html
    # Not integrated yet: no place, and it says so.
    assert 'id="leaf-index">waiting for the sequencer<' in html
    assert inclusion_check(officer, row.seq).startswith("Waiting for the sequencer")

    integrate(app)
    html = officer.get(f"/console/events/{row.seq}").get_data(as_text=True)
    assert 'id="leaf-index">0<' in html
    assert re.search(
        r'class="good" id="inclusion-check">Its inclusion proof \(\d+ hashes\) verifies against '
        r"the newest checkpoint \(size \d+\)",
        html,
    )
    # A later event, integrated after the newest checkpoint was signed? Not yet: it waits.
    newest = head(app)
    assert inclusion_check(officer, newest).startswith("Waiting for the sequencer")


def test_event_detail_shows_an_event_changed_after_it_was_signed(app, officer):
    integrate(app)
    row = ledger_rows(app)[0]
    tamper(app, row.seq, actor="officer:someone-else")
    html = officer.get(f"/console/events/{row.seq}").get_data(as_text=True)
    assert "officer:someone-else" in html  # the columns say what the canonical bytes say
    assert 'class="bad" id="inclusion-check">Its inclusion proof does NOT verify' in html


def test_event_detail_shows_tiles_changed_after_they_were_signed(app, officer):
    integrate(app)
    with app.app_context():
        tile = db.session.scalar(select(LedgerTile).where(LedgerTile.level == 0))
        db.session.execute(
            update(LedgerTile)
            .where(LedgerTile.level == 0, LedgerTile.tile_index == 0)
            .values(hashes=bytes(32) + bytes(tile.hashes)[32:])
        )
        db.session.commit()
    # Leaf 1's proof holds leaf 0's hash, which no longer makes the signed root.
    row = ledger_rows(app)[1]
    assert inclusion_check(officer, row.seq).startswith("Its inclusion proof does NOT verify")


def carry_over_one_chain_event(app) -> str:
    """A log as migration 0009 leaves a one-event hash chain: the chain's event (canonical
    version 1, its chain columns kept), then the entry naming the chain's head, both queued
    for the tree. The chain event's hash."""
    chain_event = {
        "v": 1, "seq": 1, "occurred_at": "2026-01-01T00:00:00.000000Z",
        "type": "api:profile:read", "actor": "system", "subject": None, "brand": "br_old",
        "fields": ["interests"], "purpose": None, "details": {},
    }  # fmt: skip
    canonical = dumps(chain_event).encode()
    head = chain_hash(GENESIS_HASH, canonical)
    anchor = {
        "v": 2, "occurred_at": "2026-01-02T00:00:00.000000Z", "type": "ledger:log:carried_over",
        "actor": "system", "subject": None, "brand": None, "fields": [], "purpose": None,
        "details": {"events": 1, "head_seq": 1, "head_hash": head},
    }  # fmt: skip
    rows = [
        {"seq": 1, "canonical": canonical, "salt": b"\x01" * 16, "prev_hash": GENESIS_HASH,
         "hash": head},
        {"seq": 2, "canonical": dumps(anchor).encode(), "salt": b"\x02" * 16},
    ]  # fmt: skip
    with app.app_context():
        postgresql = db.engine.dialect.name == "postgresql"
        for row, event in zip(rows, (chain_event, anchor), strict=True):
            if postgresql:  # PostgreSQL stores the searchable columns (held to canonical)
                row.update(
                    {key: event[key] for key in ("type", "actor", "subject", "brand", "purpose")},
                    occurred_at=datetime.fromisoformat(event["occurred_at"]),
                    fields=dumps(event["fields"]),
                    details=dumps(event["details"]),
                )
            db.session.execute(insert(AuditEvent.__table__), row)
            if postgresql:  # SQLite's trigger queues it
                db.session.execute(insert(LedgerPending.__table__), {"seq": row["seq"]})
        if postgresql:  # the identity goes on after the rows given their seq here
            db.session.execute(
                text("SELECT setval(pg_get_serial_sequence('audit_events', 'seq'), 2)")
            )
        db.session.commit()
    return head


def test_an_event_carried_over_from_the_hash_chain_shows_its_chain_columns(app):
    head = carry_over_one_chain_event(app)
    officer = officer_client(app)
    integrate(app)
    html = officer.get("/console/events/1").get_data(as_text=True)
    assert "Carried over from the hash chain" in html
    assert 'class="good" id="chain-check">SHA-256(prev_hash ‖ canonical) equals hash: yes' in html
    assert head in html and GENESIS_HASH in html
    assert 'id="leaf-index">0<' in html
    assert inclusion_check(officer, 1).startswith("Its inclusion proof")
    assert "Carried over" not in officer.get("/console/events/2").get_data(as_text=True)
    assert 'id="full-verification">Intact' in full_check(officer)


# Log status ------------------------------------------------------------------------------


def cell(html: str, name: str) -> str:
    return re.search(rf'id="{name}">(.*?)</td>', html, re.S).group(1)


def test_log_status_shows_the_tree_what_waits_and_the_newest_checkpoint(app):
    officer = officer_client(app)  # seq 1 and 2: created, signed in
    append(app, *[Event(EventType.PROFILE_READ, actor="system") for _ in range(4)])
    html = officer.get("/console/log").get_data(as_text=True)
    assert cell(html, "tree-size") == "0"
    assert cell(html, "pending").startswith("7 (committed, not yet given a place")  # and the view
    assert 'id="newest-checkpoint">No checkpoint has been signed yet' in html
    assert 'id="witnesses">No witness is configured' in html

    integrate(app)
    append(app, Event(EventType.PROFILE_READ, actor="system"))
    html = officer.get("/console/log").get_data(as_text=True)
    assert cell(html, "tree-size") == "7"
    assert cell(html, "pending").startswith("2 (")  # the event, and this view
    with app.app_context():
        checkpoint = db.session.scalar(select(LedgerCheckpoint))
    table = html[html.index('id="newest-checkpoint"') :]
    assert "<td>7 entries</td>" in table
    assert checkpoint.signed_at.strftime("%Y-%m-%d %H:%M:%S") in table
    assert "verifies with this log's key" in table
    assert cell(html, "cosignatures") == "0"
    assert bytes(checkpoint.root).hex() in table
    assert app.extensions["sayso_ledger_key"].verifier_key in html


def test_log_status_says_when_the_newest_checkpoint_does_not_verify(app, officer):
    integrate(app)
    with app.app_context():
        db.session.execute(update(LedgerCheckpoint).values(root=bytes(32)))
        db.session.commit()
    html = officer.get("/console/log").get_data(as_text=True)
    assert "does NOT verify with this log's key" in html


@pytest.fixture
def witnessed(app_factory, tmp_path):
    """An app with two real witnesses (HTTP servers of their own), following its log."""
    running = [RunningWitness(tmp_path / f"w{n}", f"witness{n}.example") for n in (1, 2)]
    app = app_factory(WITNESSES=", ".join(w.config for w in running))
    key = app.extensions["sayso_ledger_key"]
    for witness in running:
        witness.follow(key.origin, key.verifier_key)
    yield app, running
    for witness in running:
        if witness.thread.is_alive():
            witness.stop()


def witness_rows(html: str) -> dict[str, tuple[str, str]]:
    table = html[
        html.index('id="witnesses"') : html.index("</table>", html.index('id="witnesses"'))
    ]
    rows = re.findall(
        r'<tr data-state="(\w+)">\s*<td><span class="mono">([^<]+)</span>(.*?)</tr>', table, re.S
    )
    return {name: (state, re.sub(r"<[^>]+>", "", rest)) for state, name, rest in rows}


def test_log_status_shows_each_witness_in_plain_words(witnessed):
    app, (_, second) = witnessed
    officer = officer_client(app)
    integrate(app)  # checkpoint of size 2 (officer created, signed in), cosigned by both
    html = officer.get("/console/log").get_data(as_text=True)
    assert cell(html, "cosignatures") == "2 (witness1.example, witness2.example)"
    rows = witness_rows(html)
    assert rows["witness1.example"][0] == rows["witness2.example"][0] == "current"
    assert re.search(r"size 2, \d+ s ago", rows["witness1.example"][1])
    assert "Up to date: it has cosigned the newest checkpoint." in rows["witness2.example"][1]
    assert "longer than 1 min 5 s" in html  # 5 rounds of 1 s, and a minute

    # One witness goes away: the log goes on, signed and cosigned by the other.
    second.stop()
    integrate(app)
    html = officer.get("/console/log").get_data(as_text=True)
    assert cell(html, "cosignatures") == "1 (witness1.example)"
    rows = witness_rows(html)
    assert rows["witness1.example"][0] == "current"
    state, words = rows["witness2.example"]
    assert state == "refusing"
    assert "Refusing: its last answer" in words and "could not reach it" in words
    assert "size 2, " in words  # what it last cosigned

    # Long enough behind, it is stale too; and a witness that answers but never cosigns.
    with app.app_context():
        db.session.execute(
            update(LedgerCheckpoint)
            .where(LedgerCheckpoint.size > 2)
            .values(signed_at=datetime.now(UTC) - timedelta(minutes=10))
        )
        db.session.commit()
    rows = witness_rows(officer.get("/console/log").get_data(as_text=True))
    assert "It has cosigned nothing for 10 min" in rows["witness2.example"][1]


def test_a_witness_behind_for_long_without_an_error_is_stale(witnessed):
    app, _ = witnessed
    officer = officer_client(app)
    integrate(app)
    append(app, Event(EventType.PROFILE_READ, actor="system"))
    with app.app_context():
        # As if the sequencer had signed a newer checkpoint an hour ago that no witness
        # was asked to cosign (a sequencer that stopped asking, a witness left out).
        from sayso.ledger.sequencer import Sequencer

        Sequencer(db.session, app.extensions["sayso_ledger_key"]).integrate_all()
        checkpoint = Sequencer(db.session, app.extensions["sayso_ledger_key"]).checkpoint()
        db.session.execute(
            update(LedgerCheckpoint)
            .where(LedgerCheckpoint.size == checkpoint.size)
            .values(signed_at=datetime.now(UTC) - timedelta(hours=1))
        )
        db.session.commit()
    rows = witness_rows(officer.get("/console/log").get_data(as_text=True))
    state, words = rows["witness1.example"]
    assert state == "stale"
    assert "Stale: the log grew past size 2, the last it cosigned, 1 h ago" in words
    assert "has cosigned nothing since" in words


def test_full_check_reports_a_changed_entry_and_links_to_it(app):
    officer = officer_client(app)
    append(app, *[Event(EventType.PROFILE_READ, actor="system", brand="br_a") for _ in range(6)])
    integrate(app)
    tamper(app, 3, actor="system:forged")
    html = full_check(officer)
    assert 'id="full-verification">Broken at leaf 2: ' in html
    assert '<a href="/console/events/3">Look at the event at leaf 2 (seq 3)</a>' in html


def test_full_check_of_an_intact_log(app, officer):
    integrate(app)
    html = full_check(officer)
    size = len(ledger_rows(app)) - 2  # the log page's view and the check's are waiting
    assert f'id="full-verification">Intact: the tree rebuilt from its {size} entr' in html
    assert "1 signed checkpoint;" in html and "(2 waiting for the sequencer)" in html


def test_post_without_csrf_is_refused(app, officer):
    response = officer.post("/console/log/verify")
    assert response.status_code == 400
    assert "This form has expired" in response.get_data(as_text=True)
    assert console_events(app) == []


def test_get_cannot_run_the_full_check(officer):
    assert officer.get("/console/log/verify").status_code == 405


# Export ----------------------------------------------------------------------------------


def test_export_jsonl_streams_an_attachment_that_verifies_offline(app):
    officer = officer_client(app)
    append(
        app,
        *[
            Event(EventType.PROFILE_READ, actor="system", brand="br_a" if i % 2 else "br_b")
            for i in range(9)
        ],
    )
    integrate(app)
    response = officer.get("/console/export?format=jsonl")
    assert response.status_code == 200 and response.is_streamed
    assert response.mimetype == "application/x-ndjson"
    today = datetime.now(UTC).strftime("%Y-%m-%d")
    assert response.headers["Content-Disposition"] == (
        f'attachment; filename="sayso-ledger-{today}.jsonl"'
    )
    lines = response.get_data(as_text=True).splitlines()
    header = json.loads(lines[0])
    assert header["kind"] == "log" and header["complete"] is True
    entries = [json.loads(line) for line in lines if json.loads(line)["kind"] == "entry"]
    # The export's own event was committed before the download began, so it is in it,
    # waiting for the sequencer.
    assert entries[-1]["event"]["type"] == "console:events:exported"
    assert entries[-1]["leaf_index"] is None
    assert len(entries) == head(app)
    assert json.loads(lines[-1])["kind"] == "checkpoint"
    ok, message = verify_lines(lines, key(app))
    assert ok, message
    assert message.startswith("the 11 entries the signed checkpoint covers rebuild its tree")

    filtered = officer.get("/console/export?format=jsonl&brand=br_a").get_data(as_text=True)
    lines = filtered.splitlines()
    assert json.loads(lines[0])["complete"] is False
    assert json.loads(lines[0])["filters"]["brand"] == "br_a"
    entries = [json.loads(line) for line in lines[1:-1]]
    assert {e["event"]["brand"] for e in entries} == {"br_a"} and len(entries) == 4
    assert all(e["inclusion_proof"] for e in entries)
    ok, message = verify_lines(lines, key(app), complete=False)
    assert ok and message.startswith("4 entries proven"), message
    # A proof altered in the file is caught.
    forged = json.loads(lines[2])
    forged["inclusion_proof"] = forged["inclusion_proof"][::-1]
    ok, why = verify_lines([lines[0], lines[1], json.dumps(forged), *lines[3:]], key(app), False)
    assert not ok and "does not verify against the checkpoint" in why, why


def test_export_csv_has_the_filtered_rows(app, officer):
    append(
        app,
        Event(EventType.PROFILE_READ, actor="system", brand="br_a", fields=("interests",)),
        Event(EventType.CONSENT_REVOKED, actor="system", brand="br_a", fields=("channels",)),
        Event(EventType.PROFILE_READ, actor="system", brand="br_b"),
    )
    integrate(app)
    response = officer.get("/console/export?format=csv&brand=br_a&type=api:profile:read")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert response.headers["Content-Disposition"].endswith('.csv"')
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True))))
    assert rows[0] == CSV_COLUMNS
    assert len(rows) == 2
    record = dict(zip(CSV_COLUMNS, rows[1], strict=True))
    assert record["brand"] == "br_a" and record["fields"] == "interests"
    [row] = ledger_rows(app, AuditEvent.brand == "br_a", AuditEvent.type == "api:profile:read")
    assert record["seq"] == str(row.seq) and record["leaf_index"].isdigit()
    assert record["leaf_hash"] == hashlib.sha256(b"\x00" + row.salt + row.canonical).hexdigest()


def test_export_download_is_offered_with_the_search_filters(officer):
    html = officer.get("/console?type=api:profile:read&brand=br_a").get_data(as_text=True)
    form = html[html.index('action="/console/export"') :]
    form = form[: form.index("</form>")]
    assert 'name="type" value="api:profile:read"' in form
    assert 'name="brand" value="br_a"' in form


# Charts and the per-brand view -----------------------------------------------------------


@pytest.fixture
def bookshop(app, runner, client):
    """A normal flow: grant two fields, read twice, revoke one, read the other again."""
    brand = make_brand(runner, name='<Books & "Co">')
    sign_up(client, "ada@example.org")
    client.put("/api/v1/me/disclosures", json=DISCLOSURES, headers=api_headers(client))
    token = connect(client, brand, ["interests", "channels"])["access_token"]
    for _ in range(2):
        assert client.get("/api/v1/profile", headers=bearer(token)).status_code == 200
    revoked = client.delete(
        f"/api/v1/me/grants/{brand['brand_id']}/channels", headers=api_headers(client)
    )
    assert revoked.status_code == 200
    body = client.get("/api/v1/profile", headers=bearer(token)).get_json()
    assert set(body) == {"sub", "interests"}
    return brand


def test_activity_charts_draw_a_bar_for_a_brand_with_reads(app, officer, bookshop):
    response = officer.get("/console/activity")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "<svg" in html and "viewBox" in html
    today = datetime.now(UTC).date().isoformat()
    assert f"<title>{today}: 3 reads</title>" in html
    assert f"<title>{today}: 1 grant</title>" in html
    assert f"<title>{today}: 1 revoke</title>" in html
    assert re.search(r'<rect class="bar bar-reads" data-kind="reads"[^>]* height="[1-9]', html)
    # Labels are escaped; nothing is inline style or script, and nothing comes from elsewhere.
    assert "&lt;Books &amp; &#34;Co&#34;&gt;" in html and '<Books & "Co">' not in html
    assert "style=" not in html and "https://" not in html
    assert not re.search(r"<script(?![^>]*\bsrc=)", html)  # scripts only from files
    assert "style-src 'self'" in response.headers["Content-Security-Policy"]


def test_activity_range_outside_the_events_has_no_chart(officer, bookshop):
    html = officer.get("/console/activity?since=2020-01-01&until=2020-01-31").get_data(as_text=True)
    assert "No brand granted, revoked or read anything in this range." in html
    assert "bar-reads" not in html


def test_per_brand_check_is_zero_for_a_normal_flow(app, officer, bookshop):
    response = officer.get(f"/console/brands/{bookshop['brand_id']}")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert 'id="check-result">3 reads checked (5 field reads), 0 flagged.' in html
    assert "<th>Grants</th><td>1</td>" in html and "<th>Reads</th><td>3</td>" in html
    assert "bar-reads" in html


def test_per_brand_check_flags_reads_without_a_live_grant(app, officer, bookshop):
    brand = bookshop["brand_id"]
    consumer = ledger_rows(app, AuditEvent.type == "api:profile:read")[0].subject
    past = (datetime.now(UTC) - timedelta(seconds=1)).isoformat()
    append(
        app,
        # The consumer revoked channels in the normal flow: reading it now is flagged.
        Event(
            EventType.PROFILE_READ,
            actor="client:x",
            subject=consumer,
            brand=brand,
            fields=("channels",),
        ),
        # A grant that had already expired when it was read.
        Event(
            EventType.CONSENT_GRANTED,
            actor="consumer:s2",
            subject="s2",
            brand=brand,
            fields=("interests",),
            details={"expires_at": past},
        ),
        Event(
            EventType.PROFILE_READ,
            actor="client:x",
            subject="s2",
            brand=brand,
            fields=("interests",),
        ),
    )
    html = officer.get(f"/console/brands/{brand}").get_data(as_text=True)
    assert 'id="check-result">5 reads checked (7 field reads), 2 flagged.' in html
    flagged = html[html.index('id="flagged-reads"') :]
    assert "was revoked at seq" in flagged and "expired at" in flagged
    assert flagged.count('<a href="/console/events/') == 2


def test_brand_known_only_from_the_ledger_has_a_view(app, officer):
    append(app, Event(EventType.PROFILE_READ, actor="system", subject="s", brand="br_gone"))
    html = officer.get("/console/brands/br_gone").get_data(as_text=True)
    assert "Unregistered brand" in html
    assert 'id="check-result">1 read checked (0 field reads), 0 flagged.' in html


# Erasures --------------------------------------------------------------------------------


def test_erasures_lists_account_erased_events(app, officer):
    append(
        app,
        Event(EventType.ACCOUNT_ERASED, actor="consumer:abc", subject="abc"),
        Event(EventType.PROFILE_READ, actor="system", subject="def"),
    )
    response = officer.get("/console/erasures")
    rows = seqs(response)
    [erased] = ledger_rows(app, AuditEvent.type == "account:consumer:erased")
    assert rows == [erased.seq]
    assert "account:consumer:erased" in response.get_data(as_text=True)


# Finding events: own views hidden, brands by name, types grouped in plain words ----------


def test_the_officers_own_page_views_are_hidden_unless_asked_for(app, officer):
    other = officer_client(app, "otto@sayso.example")
    other.get("/console/brands")  # another officer's view stays visible
    officer.get("/console/log")
    officer.get("/console/log")
    html = officer.get("/console").get_data(as_text=True)
    mine = {e.seq for e in console_events(app) if e.actor == console_events(app)[-1].actor}
    theirs = {e.seq for e in console_events(app)} - mine
    shown = set(seqs_of(html))
    assert not shown & mine and theirs <= shown
    assert 'id="own-views-hidden"' in html and "Show my own page views" in html
    assert 'name="own_views" value="yes">' in html  # not ticked

    everything = officer.get("/console?own_views=yes").get_data(as_text=True)
    assert mine - {head(app)} <= set(seqs_of(everything))
    assert 'name="own_views" value="yes" checked' in everything
    assert 'id="own-views-hidden"' not in everything
    # The search that asked for them is recorded as such; a bad value is refused in words.
    assert json.loads(console_events(app)[-1].details)["filters"] == {"own_views": True}
    bad = officer.get("/console?own_views=maybe")
    assert bad.status_code == 422 and "Tick the box, or leave it empty." in bad.get_data(
        as_text=True
    )


def seqs_of(html: str) -> list[int]:
    return [int(s) for s in ROW_SEQ.findall(html)]


def test_the_brand_filter_lists_brands_by_name_with_their_ids(app, runner, officer):
    shop = make_brand(runner, name="Bookshop", domain="bookshop.example")
    garden = make_brand(runner, name="Garden centre", domain="garden.example")
    html = officer.get("/console").get_data(as_text=True)
    select_html = re.search(r'<select name="brand">(.*?)</select>', html, re.S).group(1)
    options = re.findall(r'<option value="([^"]*)"[^>]*>([^<]*)</option>', select_html)
    assert options == [
        ("", "any brand"),
        (shop["brand_id"], f"Bookshop ({shop['brand_id']})"),
        (garden["brand_id"], f"Garden centre ({garden['brand_id']})"),
    ]
    chosen = officer.get(f"/console?brand={garden['brand_id']}").get_data(as_text=True)
    assert f'<option value="{garden["brand_id"]}" selected>' in chosen
    rows = ledger_rows(app, AuditEvent.brand == garden["brand_id"])
    assert seqs_of(chosen) == sorted((e.seq for e in rows), reverse=True)


def test_the_type_filter_groups_types_under_plain_names(app, officer):
    html = officer.get("/console?type=consent:grant:revoked").get_data(as_text=True)
    select_html = re.search(r'<select name="type">(.*?)</select>', html, re.S).group(1)
    groups = re.findall(r'<optgroup label="([^"]+)">', select_html)
    assert groups[:3] == ["Consent", "Reads and contacts by brands", "Consumers&#39; data"]
    assert "Other" not in groups  # every type has a plain name
    values = re.findall(r'<option value="([^"]+)"', select_html)
    assert sorted(values) == sorted(str(t) for t in EventType)
    assert '<option value="consent:grant:revoked" selected>Consent withdrawn</option>' in html
    assert '<option value="api:profile:read">Brand read a profile</option>' in html
    # No raw type is shown as an option's text.
    assert not re.search(r"<option[^>]*>[a-z_]+:[a-z_]+:[a-z_]+</option>", select_html)


def test_the_table_names_events_plainly_and_the_detail_keeps_the_raw_type(app, officer):
    append(app, Event(EventType.CONSENT_GRANTED, actor="consumer:x", subject="x", brand="br_a"))
    seq = head(app)
    html = officer.get("/console?type=consent:grant:created").get_data(as_text=True)
    row = re.search(
        rf'<tr>\s*<td data-label="Seq"><a href="/console/events/{seq}".*?</tr>', html, re.S
    )
    assert '<td data-label="Event">Consent given</td>' in row.group(0)
    assert "consent:grant:created" not in row.group(0)
    assert 'class="ledger responsive events-table"' in html
    detail = officer.get(f"/console/events/{seq}").get_data(as_text=True)
    assert f"<h1>Event {seq}: Consent given</h1>" in detail
    assert 'id="raw-type"><code>consent:grant:created</code>' in detail
