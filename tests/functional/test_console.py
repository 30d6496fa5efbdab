"""The officer console through HTTP, with CSRF on: access, search, detail, chain, export,
charts, the per-brand check, and the console's own ledger events."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from sayso import services
from sayso.extensions import db
from sayso.models import AuditEvent
from sayso.offline_verify import load_public_key, verify_lines
from sayso.services.ledger import Event, EventType
from sayso.services.ledger_export import CSV_COLUMNS
from tests.helpers import PASSWORD, api_headers, csrf_token, log_in, sign_up
from tests.ledger_helpers import bulk_chain, rewrite_event
from tests.oauth_helpers import bearer, connect, make_brand

OFFICER = "olive@sayso.example"
DISCLOSURES = {
    "interests": [{"topic_id": 100}, {"text": "crime fiction"}],
    "channels": [{"channel": "email", "max_per_week": 1}],
}
PAGES = [
    "/console",
    "/console/events/1",
    "/console/chain",
    "/console/activity",
    "/console/brands",
    "/console/erasures",
    "/console/export?format=jsonl",
]
ROW_SEQ = re.compile(r'<td><a href="/console/events/(\d+)">')


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
        ledger = services.ledger()
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
    return load_public_key(json.dumps(app.extensions["sayso_ledger_key"].public_document()))


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
        assert who.post("/console/chain/verify", data={"csrf_token": token}).status_code == 403
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
        ("/console/chain", "chain"),
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

    token = csrf_token(officer, "/console/chain")
    assert officer.post("/console/chain/verify", data={"csrf_token": token}).status_code == 200
    assert json.loads(console_events(app)[-1].details)["view"] == "chain_verify"

    response = officer.get(f"/console/export?format=csv&brand={brand['brand_id']}")
    response.get_data()
    [exported] = console_events(app, EventType.CONSOLE_EXPORTED)
    assert exported.actor == f"officer:{pseudonym}"
    assert json.loads(exported.details) == {
        "format": "csv",
        "filters": {"brand": brand["brand_id"]},
    }


def test_console_events_keep_the_chain_intact(app, officer):
    officer.get("/console")
    officer.get("/console/chain")
    with app.app_context():
        assert services.ledger().verify().ok


# Search ----------------------------------------------------------------------------------


@pytest.fixture
def long_ledger(app):
    """120 events in January 2026 (see ledger_helpers.bulk_chain), then an officer."""
    bulk_chain(app, 120)
    return officer_client(app)


def test_search_is_newest_first_and_paginates_by_cursor(app, long_ledger):
    first = long_ledger.get("/console")
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

    # bulk_chain's events happen at 2026-01-01T00:00:00Z + seq seconds; "until" is exclusive.
    window = "since=2026-01-01T00:00:10Z&until=2026-01-01T00:00:20Z"
    assert all_pages(long_ledger, window) == list(range(19, 9, -1))
    assert all_pages(long_ledger, window + "&type=consent:grant:created") == [18, 15, 12]
    # A date alone as "until" includes that whole day; the officer's events are later.
    assert all_pages(long_ledger, "since=2026-01-01&until=2026-01-01") == list(range(120, 0, -1))
    assert all_pages(long_ledger, "since=2026-01-02") == [
        e.seq for e in reversed(ledger_rows(app, AuditEvent.seq > 120))
    ]
    # The largest cursor a seq can be is fine on both databases (seq is a 32-bit integer).
    assert seqs(long_ledger.get("/console?cursor=2147483647"))[0] == head(app)
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
    assert 'name="brand" value="br_0123456789abcdef"' in html
    assert 'name="until" value="2026-03-31"' in html
    assert '<li id="error-1">since: ' in html
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


def test_event_detail_shows_every_column_and_the_hash_check(app, officer):
    row = ledger_rows(app)[0]  # account:officer:created
    html = officer.get(f"/console/events/{row.seq}").get_data(as_text=True)
    assert 'id="hash-check">This row checks out' in html
    for value in (row.hash, row.prev_hash, row.actor, row.subject, row.type):
        assert value in html
    canonical = row.canonical.decode().replace('"', "&#34;")
    assert canonical in html

    tamper(app, row.seq, actor="officer:someone-else")
    html = officer.get(f"/console/events/{row.seq}").get_data(as_text=True)
    assert "This row does NOT check out" in html
    assert "officer:someone-else" in html  # the columns say what the canonical bytes say
    assert "equals hash: no" in html


# Chain status ----------------------------------------------------------------------------


def test_chain_status_shows_verified_seq_and_last_checkpoint(app_factory):
    app = app_factory(LEDGER_CHECKPOINT_INTERVAL=4)
    officer = officer_client(app)  # seq 1 and 2: created, signed in
    append(app, *[Event(EventType.PROFILE_READ, actor="system") for _ in range(4)])
    html = officer.get("/console/chain").get_data(as_text=True)
    last = head(app)
    assert last == 7  # the view itself
    assert f'id="chain-status">Verified up to seq {last}.' in html
    # The cheap check starts after the newest checkpoint (seq 4).
    assert "Walked 3 events from seq 5" in html
    with app.app_context():
        checkpoint = services.ledger().checkpoints()[-1]
        key_id = app.extensions["sayso_ledger_key"].key_id
    assert f'<a href="/console/events/{checkpoint.seq}">{checkpoint.seq}</a>' in html
    assert key_id in html and checkpoint.signed_at.strftime("%Y-%m-%d %H:%M:%S") in html


def test_chain_status_without_a_checkpoint_says_so(officer):
    html = officer.get("/console/chain").get_data(as_text=True)
    assert "Verified up to seq" in html and "No checkpoint has been signed yet" in html


def test_full_verification_reports_a_tampered_row(app_factory):
    app = app_factory(LEDGER_CHECKPOINT_INTERVAL=4)
    officer = officer_client(app)
    append(app, *[Event(EventType.PROFILE_READ, actor="system", brand="br_a") for _ in range(6)])
    tamper(app, 3, actor="system:forged")

    # The cheap status starts after the newest good checkpoint, so it does not see seq 3 ...
    status = officer.get("/console/chain").get_data(as_text=True)
    assert 'id="chain-status">Verified up to seq' in status
    # ... the full walk does.
    token = csrf_token(officer, "/console/chain")
    html = officer.post("/console/chain/verify", data={"csrf_token": token}).get_data(as_text=True)
    assert 'id="full-verification">Broken at seq 3: hash does not match the canonical bytes' in (
        html
    )


def test_full_verification_of_an_intact_chain(officer, app):
    token = csrf_token(officer, "/console/chain")
    html = officer.post("/console/chain/verify", data={"csrf_token": token}).get_data(as_text=True)
    assert f'id="full-verification">Intact: {head(app)} events from seq 1' in html


def test_post_without_csrf_is_refused(app, officer):
    response = officer.post("/console/chain/verify")
    assert response.status_code == 400
    assert "CSRF" in response.get_data(as_text=True)
    assert console_events(app) == []


def test_get_cannot_run_the_full_verification(officer):
    assert officer.get("/console/chain/verify").status_code == 405


# Export ----------------------------------------------------------------------------------


def test_export_jsonl_streams_an_attachment_that_verifies_offline(app_factory):
    app = app_factory(LEDGER_CHECKPOINT_INTERVAL=4)
    officer = officer_client(app)
    append(
        app,
        *[
            Event(EventType.PROFILE_READ, actor="system", brand="br_a" if i % 2 else "br_b")
            for i in range(9)
        ],
    )
    response = officer.get("/console/export?format=jsonl")
    assert response.status_code == 200 and response.is_streamed
    assert response.mimetype == "application/x-ndjson"
    today = datetime.now(UTC).strftime("%Y-%m-%d")
    assert response.headers["Content-Disposition"] == (
        f'attachment; filename="sayso-ledger-{today}.jsonl"'
    )
    lines = response.get_data(as_text=True).splitlines()
    header = json.loads(lines[0])
    assert header["complete"] is True
    events = [json.loads(line) for line in lines if json.loads(line)["kind"] == "event"]
    # The export's own event was committed before the download began, so it is in it.
    assert events[-1]["event"]["type"] == "console:events:exported"
    assert len(events) == head(app)
    ok, message = verify_lines(lines, key(app))
    assert ok, message

    filtered = officer.get("/console/export?format=jsonl&brand=br_a").get_data(as_text=True)
    lines = filtered.splitlines()
    assert json.loads(lines[0])["complete"] is False
    assert json.loads(lines[0])["filters"]["brand"] == "br_a"
    brands = {json.loads(line)["event"]["brand"] for line in lines[1:] if '"kind":"event"' in line}
    assert brands == {"br_a"}
    ok, message = verify_lines(lines, key(app), complete=False)
    assert ok, message


def test_export_csv_has_the_filtered_rows(app, officer):
    append(
        app,
        Event(EventType.PROFILE_READ, actor="system", brand="br_a", fields=("interests",)),
        Event(EventType.CONSENT_REVOKED, actor="system", brand="br_a", fields=("channels",)),
        Event(EventType.PROFILE_READ, actor="system", brand="br_b"),
    )
    response = officer.get("/console/export?format=csv&brand=br_a&type=api:profile:read")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert response.headers["Content-Disposition"].endswith('.csv"')
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True))))
    assert rows[0] == CSV_COLUMNS
    assert len(rows) == 2
    record = dict(zip(CSV_COLUMNS, rows[1], strict=True))
    assert record["brand"] == "br_a" and record["fields"] == "interests"


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
    assert "style=" not in html and "<script" not in html and "https://" not in html
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
