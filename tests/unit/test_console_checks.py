"""The per-brand check (every field read had a live grant) and the console's chart layout.

The check is fed ledger events appended directly, so each case says exactly what the
ledger holds; the boundary cases use plain rows with chosen times.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from types import SimpleNamespace

import pytest

from sayso import services
from sayso.charts import daily_chart, nice_ceiling
from sayso.extensions import db
from sayso.ledger import Event, EventType, Ledger
from sayso.services.audit_console import BrandActivity
from sayso.services.read_check import MAX_FLAGGED_LISTED, check_reads
from tests.ledger_helpers import integrate

BRAND = "br_bookshop"
ALICE = "a" * 32
BOB = "b" * 32


def grant(subject=ALICE, fields=("interests", "channels"), expires_at="future", brand=BRAND):
    """A consent:grant:created as ConsentService writes it (expiry in details)."""
    if expires_at == "future":
        expires_at = (datetime.now(UTC) + timedelta(days=365)).isoformat()
    elif expires_at == "past":
        expires_at = (datetime.now(UTC) - timedelta(seconds=1)).isoformat()
    return Event(
        EventType.CONSENT_GRANTED,
        actor=f"consumer:{subject}",
        subject=subject,
        brand=brand,
        fields=fields,
        details={"client_id": "c1", "purposes": {}, "expires_at": expires_at},
    )


def revoke(subject=ALICE, fields=("interests",), brand=BRAND):
    return Event(
        EventType.CONSENT_REVOKED,
        actor=f"consumer:{subject}",
        subject=subject,
        brand=brand,
        fields=fields,
    )


def read(subject=ALICE, fields=("interests",), brand=BRAND):
    return Event(
        EventType.PROFILE_READ,
        actor="client:c1",
        subject=subject,
        brand=brand,
        fields=fields,
        details={"purposes": {}},
    )


def check(app, *events, brand=BRAND):
    """Append ``events`` to the ledger, then run the check for ``brand``."""
    with app.app_context():
        ledger = Ledger(db.session)
        seqs = [ledger.append(event).seq for event in events]
        db.session.commit()
        return seqs, services.audit_console().check_brand_reads(brand)


def test_reads_within_a_live_grant_are_not_flagged(app):
    _, result = check(app, grant(), read(), read(fields=("interests", "channels")), read())
    assert result.ok
    assert (result.reads_checked, result.fields_checked, result.flagged_total) == (3, 4, 0)


def test_a_read_after_a_revoke_is_flagged(app):
    seqs, result = check(app, grant(), read(), revoke(), read())
    assert result.flagged_total == 1 and result.reads_checked == 2
    [flag] = result.flagged
    assert flag.seq == seqs[3] and flag.subject == ALICE and flag.field == "interests"
    assert flag.reason == f"the grant at seq {seqs[0]} was revoked at seq {seqs[2]}"


def test_a_revoke_of_one_field_leaves_the_others_live(app):
    _, result = check(app, grant(), revoke(fields=("interests",)), read(fields=("channels",)))
    assert result.ok


def test_a_read_after_expiry_is_flagged(app):
    seqs, result = check(app, grant(expires_at="past"), read())
    [flag] = result.flagged
    assert flag.seq == seqs[1]
    assert flag.reason.startswith(f"the grant at seq {seqs[0]} expired at ")


def test_a_grant_that_never_expires_stays_live(app):
    _, result = check(app, grant(expires_at=None), read())
    assert result.ok


def test_a_read_with_no_grant_at_all_is_flagged(app):
    _, result = check(app, read())
    assert [f.reason for f in result.flagged] == ["no grant of this field before the read"]


def test_a_grant_after_the_read_does_not_cover_it(app):
    _, result = check(app, read(), grant())
    assert result.flagged_total == 1


def test_granting_again_after_a_revoke_makes_the_field_live_again(app):
    _, result = check(app, grant(), revoke(), grant(fields=("interests",)), read())
    assert result.ok


def test_a_new_grant_replaces_the_expiry_of_the_old_one(app):
    # Re-granting with an expiry in the past (as a shorter expiry would, later) wins.
    _, result = check(app, grant(), grant(expires_at="past"), read())
    assert result.flagged_total == 1


def test_grants_belong_to_one_subject_and_one_brand(app):
    _, result = check(
        app,
        grant(subject=BOB),
        grant(brand="br_other"),
        read(subject=ALICE),
        read(subject=BOB),
    )
    assert [(f.subject, f.field) for f in result.flagged] == [(ALICE, "interests")]


def test_other_brands_reads_are_not_checked_here(app):
    _, result = check(app, read(brand="br_other"), grant(), read())
    assert result.ok and result.reads_checked == 1


def test_the_check_replays_events_in_seq_order_whether_integrated_or_not(app):
    # The check reads the events in the order they were written (seq), which keeps every
    # read after the grants it relied on and before the revokes that followed it
    # (ledger/ordering.py): it needs no place in the tree, and gives the same answer before
    # and after the sequencer has run.
    seqs, before = check(app, grant(), read(), revoke(), read())
    integrate(app)
    with app.app_context():
        after = services.audit_console().check_brand_reads(BRAND)
    assert before == after and after.flagged_total == 1
    assert after.flagged[0].seq == seqs[3]


def test_other_event_types_are_ignored(app):
    _, result = check(
        app,
        Event(EventType.ACCOUNT_CREATED, actor="consumer:x", subject=ALICE),
        Event(EventType.CLIENT_CREATED, actor="cli", brand=BRAND, details={"client_id": "c"}),
        grant(),
        read(),
    )
    assert result.ok and result.reads_checked == 1


# The replay itself, on plain rows with chosen times -----------------------------------------

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def row(seq, type_, at, fields=("interests",), subject=ALICE, details=None):
    return SimpleNamespace(
        seq=seq,
        type=str(type_),
        occurred_at=at,
        subject=subject,
        fields=json.dumps(sorted(fields)),
        details=json.dumps(details or {}),
    )


@pytest.mark.parametrize(
    ("read_at", "flagged"),
    [
        (T0 + timedelta(hours=1) - timedelta(microseconds=1), 0),
        (T0 + timedelta(hours=1), 1),  # a grant is live while expires_at > now
        (T0 + timedelta(days=2), 1),
    ],
)
def test_expiry_boundary(read_at, flagged):
    expires = (T0 + timedelta(hours=1)).isoformat()
    rows = [
        row(1, EventType.CONSENT_GRANTED, T0, details={"expires_at": expires}),
        row(2, EventType.PROFILE_READ, read_at),
    ]
    assert check_reads(rows).flagged_total == flagged


def test_the_flagged_list_is_bounded_but_every_flag_is_counted():
    rows = [row(i, EventType.PROFILE_READ, T0) for i in range(1, MAX_FLAGGED_LISTED + 11)]
    result = check_reads(rows)
    assert result.flagged_total == MAX_FLAGGED_LISTED + 10
    assert len(result.flagged) == MAX_FLAGGED_LISTED


def test_the_check_reads_events_as_a_stream():
    def events():
        yield row(1, EventType.CONSENT_GRANTED, T0, details={"expires_at": None})
        for seq in range(2, 1002):
            yield row(seq, EventType.PROFILE_READ, T0 + timedelta(seconds=seq))

    result = check_reads(events())
    assert result.ok and result.reads_checked == 1000


# Chart layout --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "ceiling"),
    [(0, 1), (1, 1), (2, 2), (3, 5), (7, 10), (10, 10), (11, 20), (99, 100), (101, 200)],
)
def test_nice_ceiling(value, ceiling):
    assert nice_ceiling(value) == ceiling


def test_daily_chart_draws_one_bar_per_nonzero_count_scaled_to_the_highest():
    days = [date(2026, 3, 1) + timedelta(days=i) for i in range(30)]
    activity = BrandActivity(
        "br_x",
        "Bookshop",
        {days[0]: {"reads": 10, "grants": 1}, days[29]: {"reads": 5, "revokes": 2}},
    )
    chart = daily_chart(activity, days)
    assert [(b.kind, b.title) for b in chart.bars] == [
        ("grants", "2026-03-01: 1 grant"),
        ("reads", "2026-03-01: 10 reads"),
        ("revokes", "2026-03-30: 2 revokes"),
        ("reads", "2026-03-30: 5 reads"),
    ]
    tallest = max(b.height for b in chart.bars)
    assert [b.height / tallest for b in chart.bars] == pytest.approx([0.1, 1.0, 0.2, 0.5])
    assert all(b.y + b.height == pytest.approx(chart.bottom) for b in chart.bars)
    assert all(chart.left <= b.x and b.x + b.width <= chart.right for b in chart.bars)
    assert [label.text for label in chart.y_labels] == ["0", "5", "10"]
    assert len(chart.x_labels) == 10 and chart.x_labels[0].text == "03-01"


def test_daily_chart_of_a_quiet_brand_has_no_bars():
    chart = daily_chart(BrandActivity("br_x", None), [date(2026, 3, 1)])
    assert chart.bars == [] and chart.title.startswith("br_x")
