"""``Ledger.verify``'s fast path against its definition.

The database renders each row's canonical JSON from its columns in SQL and says whether it
equals the stored bytes; Python then checks links and hashes a batch at a time. These tests
hold that to ``row_canonical_bytes``, the definition: the SQL must vouch for ordinary rows
(or the fast path is dead code), must never vouch for a row the definition rejects (a forger
who writes the SQL's rendering into ``canonical`` and re-chains the hashes is still caught),
and a row only the SQL cannot vouch for must still verify. Every test runs on SQLite, and on
PostgreSQL when SAYSO_TEST_POSTGRES_URL is set.
"""

from __future__ import annotations

import random
import sys
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest
from sqlalchemy import delete, select, text, update
from sqlalchemy.exc import OperationalError

from sayso import services
from sayso.extensions import db
from sayso.models import AuditEvent, LedgerCheckpoint
from sayso.services.ledger import (
    GENESIS_HASH,
    Event,
    EventType,
    LedgerKey,
    Verification,
    chain_hash,
    checkpoint_message,
    row_canonical_bytes,
    signature_valid,
)

LEDGER = sys.modules["sayso.services.ledger"]
TABLE = AuditEvent.__table__

# Strings Python writes with escapes (quotes, backslashes, control characters) and strings
# it writes as they are (non-ASCII, U+2028, DEL).
AWKWARD = [
    Event(EventType.PROFILE_READ, actor="system", subject="a" * 32, brand="br_1", fields=("x",)),
    Event(EventType.LOGIN_FAILED, actor="anonymous"),  # NULL subject, brand and purpose
    Event(EventType.DISCLOSURE_UPDATED, actor="système 中文 🙂", subject="\u2028\u2029", fields=()),
    Event(EventType.PROFILE_READ, actor='say "hi"', brand="br_é", purpose="p"),
    Event(EventType.PROFILE_READ, actor="back\\slash", fields=("zeta", "alpha", "mu")),
    Event(EventType.PROFILE_READ, actor="tab\there", subject="new\nline", brand="del\x7f"),
    Event(EventType.PROFILE_READ, actor="ctl\x01\x1f", purpose='recommend "staff picks"'),
    Event(EventType.PROFILE_READ, actor="", subject="", brand="", purpose=""),
    Event(
        EventType.CONSENT_GRANTED,
        actor="system",
        details={
            "quote": 'a"b',
            "slash": "c\\d",
            "ctl": "\n\x00\x1f",
            "uni": "é🙂\u2028",
            "nested": {"z": [1, None, True, 2.5], "a": "x"},
            "": "",
        },
    ),
    Event(EventType.CONSENT_REVOKED, actor="system", details={"purposes": {"b": "y", "a": "x"}}),
]


def _skip_unless_sqlite(app, why: str) -> None:
    with app.app_context():
        if db.engine.dialect.name != "sqlite":
            pytest.skip(why)


def _escaped(value: str | None) -> bool:
    """Whether JSON writes ``value`` with an escape."""
    return value is not None and any(c in '"\\' or ord(c) < 0x20 for c in value)


def _append(app, events):
    with app.app_context():
        ledger = services.ledger()
        for event in events:
            ledger.append(event)
            db.session.commit()


def _plain_events(n):
    return [
        Event(
            EventType.PROFILE_READ,
            actor="system",
            subject=f"{i:032x}",
            brand="br_a",
            fields=("interests", "channels"),
            purpose="p",
            details={"n": i},
        )
        for i in range(n)
    ]


def _sql_flags(ledger) -> list:
    check = LEDGER._column_check_sql(db.engine.dialect)
    return [bool(flag) for rows in ledger.raw_batches(f"seq, ({check})") for _seq, flag in rows]


def _rechain(from_seq: int) -> None:
    """Recompute every hash from ``from_seq`` on, as a forger who rewrote a row would."""
    rows = db.session.execute(
        select(TABLE.c.seq, TABLE.c.canonical).where(TABLE.c.seq >= from_seq).order_by("seq")
    ).all()
    prev = db.session.scalar(select(TABLE.c.hash).where(TABLE.c.seq == from_seq - 1))
    prev = prev or GENESIS_HASH
    for seq, canonical in rows:
        digest = chain_hash(prev, canonical)
        db.session.execute(
            update(AuditEvent).where(AuditEvent.seq == seq).values(prev_hash=prev, hash=digest)
        )
        prev = digest


def _verbatim(seq: int) -> bytes:
    """Row ``seq`` rendered the way the SQL renders it: strings copied between quotes,
    ``details`` and ``fields`` as stored, the timestamp's digits as they are."""
    row = db.session.execute(
        select(*TABLE.c, TABLE.c.occurred_at.cast(db.String).label("raw_time")).where(
            TABLE.c.seq == seq
        )
    ).one()
    moment = row.raw_time.replace(" ", "T")
    if db.engine.dialect.name == "postgresql":
        moment = f"{moment}.000000"[:26] if "." not in moment else moment.ljust(26, "0")

    def quoted(value):
        return "null" if value is None else f'"{value}"'

    return (
        f'{{"actor":{quoted(row.actor)},"brand":{quoted(row.brand)},"details":{row.details},'
        f'"fields":{row.fields},"occurred_at":"{moment}Z","purpose":{quoted(row.purpose)},'
        f'"seq":{row.seq},"subject":{quoted(row.subject)},"type":{quoted(row.type)},"v":1}}'
    ).encode()


def _canonical_at(seq: int, moment: datetime) -> bytes:
    """Row ``seq``'s canonical bytes as if it had occurred at ``moment``."""
    row = db.session.execute(select(TABLE).where(TABLE.c.seq == seq)).one()
    return row_canonical_bytes(SimpleNamespace(**{**row._asdict(), "occurred_at": moment}))


def _reference_match(seq: int) -> bool:
    """``row_canonical_bytes`` on the row as SQLAlchemy reads it (an error: no match)."""
    try:
        row = db.session.execute(select(TABLE).where(TABLE.c.seq == seq)).one()
        return row_canonical_bytes(row) == row.canonical
    except (ValueError, TypeError):
        return False


@pytest.fixture
def spy(monkeypatch):
    """Counts the rows the SQL did not vouch for (checked by ``row_canonical_bytes``)."""
    calls = []
    original = LEDGER.Ledger._columns_match

    def columns_match(self, seq, canonical):
        calls.append(seq)
        return original(self, seq, canonical)

    monkeypatch.setattr(LEDGER.Ledger, "_columns_match", columns_match)
    return calls


# --- good rows ---------------------------------------------------------------------------


def test_awkward_events_verify_and_the_sql_vouches_for_every_plain_one(app, spy):
    _append(app, AWKWARD)
    with app.app_context():
        ledger = services.ledger()
        result = ledger.verify()
        assert result.ok and result.checked == len(AWKWARD), result
        flags = _sql_flags(ledger)
    # A wrong rendering (a key, a separator, NULL, the timestamp) would say no to the
    # plain rows; an escape-needing string must never be vouched for.
    expected = [
        not any(_escaped(s) for s in (e.actor, e.subject, e.brand, e.purpose)) for e in AWKWARD
    ]
    assert flags == expected
    assert len(spy) == expected.count(False)


def test_a_long_plain_chain_is_checked_without_python_rebuilding_rows(app, spy, monkeypatch):
    monkeypatch.setattr(LEDGER, "VERIFY_BATCH", 7)
    _append(app, _plain_events(30))
    with app.app_context():
        result = services.ledger().verify()
    assert result == Verification(True, 30, 30, None, None, 0, 1)
    assert spy == []


@pytest.mark.parametrize(
    "change",
    [
        pytest.param({"details": '{"n": 2}'}, id="details-with-a-space"),
        pytest.param({"fields": '["interests","channels"]'}, id="fields-unsorted"),
        pytest.param({"fields": '[ "channels", "interests" ]'}, id="fields-with-spaces"),
    ],
)
def test_columns_stored_differently_but_meaning_the_same_still_verify(app, spy, change):
    # canonical_bytes parses the JSON columns, so these rows match their canonical bytes;
    # the SQL splices the stored text and cannot vouch for them (except an identical text).
    _append(app, _plain_events(3))
    with app.app_context():
        db.session.execute(update(AuditEvent).where(AuditEvent.seq == 3).values(**change))
        db.session.commit()
        assert _reference_match(3)
        result = services.ledger().verify()
    assert result.ok and result.checked == 3, result


@pytest.mark.parametrize("stored", ["2026-01-02T03:04:05.000006", "2026-01-02 03:04:05"])
def test_a_timestamp_sqlite_holds_in_another_shape_still_verifies(app, spy, stored):
    _skip_unless_sqlite(app, "SQLite stores timestamps as text")
    _append(app, _plain_events(2))
    moment = datetime.fromisoformat(stored).replace(tzinfo=UTC)
    with app.app_context():
        canonical = _canonical_at(2, moment)
        db.session.execute(
            text("UPDATE audit_events SET occurred_at = :t, canonical = :c WHERE seq = 2"),
            {"t": stored, "c": canonical},
        )
        _rechain(2)
        db.session.commit()
        assert _reference_match(2)
        result = services.ledger().verify()
    assert result.ok and result.checked == 2, result
    assert spy == [2]


# --- tampering ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "values",
    [
        {"occurred_at": datetime(2030, 1, 1, tzinfo=UTC)},
        {"type": "consent:grant:created"},
        {"actor": "forger"},
        {"actor": "systèm"},
        {"subject": None},
        {"brand": "evil"},
        {"brand": None},
        {"fields": '["channels"]'},
        {"fields": "[]"},
        {"purpose": None},
        {"purpose": "another purpose"},
        {"details": '{"n":9}'},
        {"details": "{}"},
    ],
    ids=lambda values: "-".join(f"{k}={v!r}" for k, v in values.items()),
)
def test_a_changed_column_is_detected(app, values):
    _append(app, _plain_events(5))
    with app.app_context():
        db.session.execute(update(AuditEvent).where(AuditEvent.seq == 3).values(**values))
        db.session.commit()
        result = services.ledger().verify()
    assert not result.ok and result.first_bad_seq == 3, result
    assert result.reason == "columns do not match the canonical bytes"
    assert result.checked == 2 and result.last_seq == 2


# Rewrites of row 3 whose ``canonical`` is then set to what the SQL renders from the new
# columns, every later hash recomputed: only the column check can notice, and the SQL's
# rendering agrees, so it must refuse to vouch (or Python must refuse its verdict).
FORGERIES = {
    "quote-in-actor": {"actor": 'a"b'},
    "quote-in-purpose": {"purpose": '","purpose":"x'},
    "backslash-in-subject": {"subject": "a\\b"},
    "backslash-u-in-brand": {"brand": "\\u0041"},
    "control-character-in-brand": {"brand": "a\x01b"},
    "newline-in-purpose": {"purpose": "x\ny"},
    "tab-in-type": {"type": "a\tb"},
    "details-unsorted": {"details": '{"z":1,"a":2}'},
    "details-with-spaces": {"details": '{"n": 2}'},
    "details-a-list-of-pairs": {"details": '[["n",2]]'},
    "details-float-spelled-out": {"details": '{"n":1e5}'},
    "details-duplicate-key": {"details": '{"n":1,"n":2}'},
    "details-ascii-escaped": {"details": '{"n":"\\u00e9"}'},
    "fields-unsorted": {"fields": '["z","a"]'},
    "fields-a-string": {"fields": '"za"'},
    "fields-an-object": {"fields": '{"a":1}'},
    "fields-with-spaces": {"fields": '["a", "z"]'},
    "year-before-1000": {"occurred_at": datetime(999, 1, 2, 3, 4, 5, 6, tzinfo=UTC)},
}


@pytest.mark.parametrize("values", list(FORGERIES.values()), ids=list(FORGERIES))
def test_a_forged_row_rendered_like_the_sql_is_still_caught(app, values):
    _append(app, _plain_events(5))
    with app.app_context():
        db.session.execute(update(AuditEvent).where(AuditEvent.seq == 3).values(**values))
        db.session.execute(
            update(AuditEvent).where(AuditEvent.seq == 3).values(canonical=_verbatim(3))
        )
        _rechain(3)
        db.session.commit()
        assert not _reference_match(3)
        result = services.ledger().verify()
    assert not result.ok and result.first_bad_seq == 3, result
    assert result.reason == "columns do not match the canonical bytes"


SQLITE_FORGERIES = {
    # Stored as text by raw SQL: shapes SQLAlchemy never writes.
    "impossible-date": ("occurred_at", "2026-02-30 00:00:00.000000"),
    "hour-24": ("occurred_at", "2026-01-01 24:00:00.000000"),
    "no-microseconds": ("occurred_at", "2026-01-01 00:00:01"),
    "offset": ("occurred_at", "2026-01-01 00:00:01.000000+05:00"),
    "nul-after-the-time": ("occurred_at", "2026-01-01 00:00:01.000000\x00x"),
    "nul-in-actor": ("actor", "a\x00b"),
    "blob-actor": ("actor", b"system"),
    "blob-subject": ("subject", b"s"),
}


@pytest.mark.parametrize(
    "column, value", list(SQLITE_FORGERIES.values()), ids=list(SQLITE_FORGERIES)
)
def test_a_forged_sqlite_row_rendered_like_the_sql_is_still_caught(app, column, value):
    _skip_unless_sqlite(app, "SQLite stores any value in any column")
    _append(app, _plain_events(5))
    with app.app_context():
        db.session.execute(
            text(f"UPDATE audit_events SET {column} = :v WHERE seq = 3"), {"v": value}
        )
        raw = db.session.execute(
            text(
                "SELECT CAST(actor AS BLOB), CAST(subject AS BLOB), CAST(brand AS BLOB), "
                "CAST(details AS BLOB), CAST(occurred_at AS BLOB), fields, type, purpose "
                "FROM audit_events WHERE seq = 3"
            )
        ).one()
        actor, subject, brand, details, moment, fields, type_, purpose = raw
        forged = (
            b'{"actor":"' + actor + b'","brand":"' + brand + b'","details":' + details
            + b',"fields":' + fields.encode() + b',"occurred_at":"'
            + moment.replace(b" ", b"T", 1) + b'Z","purpose":"' + purpose.encode()
            + b'","seq":3,"subject":"' + subject + b'","type":"' + type_.encode() + b'","v":1}'
        )  # fmt: skip
        db.session.execute(
            text("UPDATE audit_events SET canonical = :c WHERE seq = 3"), {"c": forged}
        )
        _rechain(3)
        db.session.commit()
        result = services.ledger().verify()
    assert not result.ok and result.first_bad_seq == 3, result
    assert result.reason == "columns do not match the canonical bytes"


def test_a_blob_python_reads_as_the_same_json_still_verifies(app, spy):
    # SQLite keeps a BLOB in a TEXT column; json.loads reads bytes as well as text, so
    # the definition accepts the row, though the SQL cannot vouch for it.
    _skip_unless_sqlite(app, "SQLite stores any value in any column")
    _append(app, _plain_events(3))
    with app.app_context():
        db.session.execute(
            text("UPDATE audit_events SET details = CAST(details AS BLOB) WHERE seq = 2")
        )
        db.session.commit()
        result = services.ledger().verify()
    assert result.ok and result.checked == 3, result
    assert spy == [2]


def test_text_that_is_not_utf8_is_not_vouched_for(app):
    # The SQL would copy the bytes into its rendering and agree; Python cannot even read
    # the column, as before the fast path, so verify does not say the chain is intact.
    _skip_unless_sqlite(app, "only raw SQL on SQLite stores text that is not UTF-8")
    _append(app, _plain_events(3))
    with app.app_context():
        db.session.execute(text("UPDATE audit_events SET brand = CAST(x'ff' AS TEXT)"))
        db.session.execute(
            text(
                "UPDATE audit_events SET canonical = CAST(replace(CAST(canonical AS TEXT), "
                "'br_a', CAST(x'ff' AS TEXT)) AS BLOB)"
            )
        )
        _rechain(1)
        db.session.commit()
        check = LEDGER._column_check_sql(db.engine.dialect)
        flags = [
            flag for rows in services.ledger().raw_batches(f"seq, {check}") for _, flag in rows
        ]
        assert flags == [1, 1, 1]  # the SQL alone would have passed them
        with pytest.raises(OperationalError, match="UTF-8"):
            services.ledger().verify()


def test_the_python_only_walk_for_other_drivers_catches_the_same(app, monkeypatch):
    monkeypatch.setattr(LEDGER, "_column_check_sql", lambda dialect: None)
    monkeypatch.setattr(LEDGER, "VERIFY_BATCH", 4)
    _append(app, _plain_events(9))
    with app.app_context():
        assert services.ledger().verify() == Verification(True, 9, 9, None, None, 0, 1)
        db.session.execute(update(AuditEvent).where(AuditEvent.seq == 6).values(actor="x"))
        db.session.commit()
        result = services.ledger().verify()
    assert not result.ok and result.first_bad_seq == 6 and "columns" in result.reason


def test_hashes_that_only_join_up_are_caught(app):
    # Row 2's hash gives its last character to row 3's, the links follow: the hashes
    # written one after another still spell the right chain, but row 2's is wrong.
    _skip_unless_sqlite(app, "PostgreSQL keeps hash to 64 characters")
    _append(app, _plain_events(4))
    with app.app_context():
        h2, h3 = db.session.scalars(
            select(TABLE.c.hash).where(TABLE.c.seq.in_([2, 3])).order_by(TABLE.c.seq)
        ).all()
        moved = h2[63] + h3
        for seq, values in [
            (2, {"hash": h2[:63]}),
            (3, {"prev_hash": h2[:63], "hash": moved}),
            (4, {"prev_hash": moved}),
        ]:
            db.session.execute(update(AuditEvent).where(AuditEvent.seq == seq).values(**values))
        db.session.commit()
        result = services.ledger().verify()
    assert not result.ok and result.first_bad_seq == 2, result
    assert result.reason == "hash does not match the canonical bytes"


def test_a_gap_wider_than_a_batch_is_named(app, monkeypatch):
    monkeypatch.setattr(LEDGER, "VERIFY_BATCH", 5)
    _append(app, _plain_events(40))
    with app.app_context():
        db.session.execute(delete(AuditEvent).where(AuditEvent.seq.between(3, 30)))
        db.session.commit()
        result = services.ledger().verify()
    assert result == Verification(False, 2, 2, 3, "sequence 3 is missing (next row is 31)", 0, 1), (
        result
    )


def test_since_checkpoint_skips_a_newest_checkpoint_that_does_not_verify(app_factory):
    app = app_factory(LEDGER_CHECKPOINT_INTERVAL=5)
    _append(app, _plain_events(22))
    other = LedgerKey(b"\x07" * 32)
    with app.app_context():
        cp = db.session.get(LedgerCheckpoint, 20)
        bad = other.sign(checkpoint_message(cp.seq, cp.hash, cp.signed_at, cp.key_id))
        db.session.execute(
            update(LedgerCheckpoint).where(LedgerCheckpoint.seq == 20).values(signature=bad)
        )
        db.session.commit()
        result = services.ledger().verify(since_checkpoint=True)
    # It starts after 15, the newest good one, and the walk meets the bad signature at 20.
    assert result.started_at_seq == 16 and result.first_bad_seq == 20
    assert "invalid signature" in result.reason


# --- the fast walk against the reference walk --------------------------------------------


def _reference_verify(ledger, public_key, since_checkpoint=False) -> Verification:
    """The walk ``verify`` did before the fast path: every row rebuilt in Python."""
    start = None
    if since_checkpoint:
        for cp in reversed(ledger.checkpoints()):
            row = db.session.get(AuditEvent, cp.seq)
            message = checkpoint_message(cp.seq, cp.hash, cp.signed_at, cp.key_id)
            if row and row.hash == cp.hash and signature_valid(public_key, cp.signature, message):
                start = cp
                break
    expected, prev = (start.seq + 1, start.hash) if start else (1, GENESIS_HASH)
    first = expected
    pending = {cp.seq: cp for cp in ledger.checkpoints(after=expected - 1)}
    checked = cps = 0
    last_good = start.seq if start else 0

    def broken(seq, reason):
        return Verification(False, checked, expected - 1, seq, reason, cps, first)

    for seq, prev_hash, row_hash, canonical in (
        (r.seq, r.prev_hash, r.hash, r.canonical) for r in ledger.rows(after=expected - 1)
    ):
        if seq != expected:
            return broken(expected, f"sequence {expected} is missing (next row is {seq})")
        if prev_hash != prev:
            return broken(seq, "prev_hash does not match the previous row's hash")
        if not _reference_match(seq):
            return broken(seq, "columns do not match the canonical bytes")
        if chain_hash(prev, canonical) != row_hash:
            return broken(seq, "hash does not match the canonical bytes")
        cp = pending.pop(seq, None)
        if cp is not None:
            message = checkpoint_message(cp.seq, cp.hash, cp.signed_at, cp.key_id)
            if not signature_valid(public_key, cp.signature, message):
                return broken(cp.seq, f"checkpoint at seq {cp.seq} has an invalid signature")
            if cp.hash != row_hash:
                return broken(
                    last_good + 1,
                    f"chain differs from the signed checkpoint at seq {cp.seq}: "
                    f"rows after seq {last_good} were rewritten",
                )
            cps += 1
            last_good = cp.seq
        checked += 1
        expected, prev = seq + 1, row_hash
    if pending:
        return broken(
            expected,
            f"events from seq {expected} are missing: a checkpoint covers seq {max(pending)}",
        )
    return Verification(True, checked, expected - 1, None, None, cps, first)


VALUES = ['a"b', "a\\b", "x\ny", "é🙂", "", "plain", None, "\x01"]


def _tamper(rng: random.Random, count: int) -> str:
    """One random change an attacker could make; returns what it was, for the message."""
    seq = rng.randint(1, count)
    kind = rng.choice(
        ["column", "forge", "forge", "delete", "swap", "tail", "hash", "prev", "signature"]
    )
    if kind in ("column", "forge"):
        if db.session.get(AuditEvent, seq) is None:
            return f"nothing ({seq} is gone)"
        column = rng.choice(["actor", "subject", "brand", "purpose", "details", "fields"])
        value = rng.choice(VALUES)
        if column in ("details", "fields"):
            value = rng.choice(['{"n": 1}', '{"b":1,"a":2}', "{}", '["z","a"]', '["a"]', "[]"])
        elif column == "actor" and value is None:
            value = "x"
        db.session.execute(update(AuditEvent).where(AuditEvent.seq == seq).values({column: value}))
        if kind == "forge":
            db.session.execute(
                update(AuditEvent).where(AuditEvent.seq == seq).values(canonical=_verbatim(seq))
            )
            _rechain(seq)
        return f"{kind} {column}={value!r} at {seq}"
    if kind == "delete":
        db.session.execute(delete(AuditEvent).where(AuditEvent.seq == seq))
    elif kind == "swap" and seq < count:
        db.session.execute(update(AuditEvent).where(AuditEvent.seq == seq).values(seq=-1))
        db.session.execute(update(AuditEvent).where(AuditEvent.seq == seq + 1).values(seq=seq))
        db.session.execute(update(AuditEvent).where(AuditEvent.seq == -1).values(seq=seq + 1))
    elif kind == "tail":
        db.session.execute(delete(AuditEvent).where(AuditEvent.seq >= seq))
    elif kind == "hash":
        db.session.execute(update(AuditEvent).where(AuditEvent.seq == seq).values(hash="0" * 64))
    elif kind == "prev":
        db.session.execute(
            update(AuditEvent).where(AuditEvent.seq == seq).values(prev_hash="1" * 64)
        )
    elif kind == "signature":
        db.session.execute(
            update(LedgerCheckpoint)
            .where(LedgerCheckpoint.seq == rng.choice([5, 10, 15, 20, 25]))
            .values(signature="AAAA")
        )
    return f"{kind} at {seq}"


def test_the_fast_walk_agrees_with_the_reference_walk(app_factory, monkeypatch):
    monkeypatch.setattr(LEDGER, "VERIFY_BATCH", 6)  # batch edges fall all over the chain
    app = app_factory(LEDGER_CHECKPOINT_INTERVAL=5)
    events = (AWKWARD + _plain_events(20))[:28]
    _append(app, events)
    rng = random.Random(20261123)
    with app.app_context():
        key = app.extensions["sayso_ledger_key"].public_key
        for _ in range(60):
            changes = [_tamper(rng, len(events)) for _ in range(rng.choice([0, 1, 1, 2]))]
            ledger = services.ledger()
            for since in (False, True):
                fast = ledger.verify(since_checkpoint=since)
                reference = _reference_verify(ledger, key, since_checkpoint=since)
                assert fast == reference, (changes, since)
            db.session.rollback()
        assert services.ledger().verify().ok


def test_raw_batches_walk_every_row_in_order(app, monkeypatch):
    monkeypatch.setattr(LEDGER, "VERIFY_BATCH", 3)
    _append(app, _plain_events(10))
    with app.app_context():
        db.session.execute(delete(AuditEvent).where(AuditEvent.seq.in_([4, 5, 6, 7])))
        ledger = services.ledger()
        batches = list(ledger.raw_batches("seq, canonical"))
        rows = [row for batch in batches for row in batch]
        assert [seq for seq, _ in rows] == [1, 2, 3, 8, 9, 10]
        assert all(len(batch) <= 3 for batch in batches)
        assert [c for _, c in rows] == [r.canonical for r in ledger.rows()]
        assert list(ledger.raw_batches("seq", after=10)) == []
        db.session.rollback()


def test_a_timestamp_the_sql_renders_is_the_one_python_renders(app):
    # Microseconds with trailing zeros, and none at all: PostgreSQL's own text output
    # drops them, the rendering must not.
    moments = [
        datetime(2026, 1, 2, 3, 4, 5, 500000, tzinfo=UTC),
        datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
        datetime(1000, 1, 1, tzinfo=UTC),
        datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
        datetime(2024, 2, 29, 12, tzinfo=UTC) - timedelta(microseconds=1),
    ]
    _append(app, _plain_events(len(moments)))
    with app.app_context():
        for seq, moment in enumerate(moments, 1):
            canonical = _canonical_at(seq, moment)
            db.session.execute(
                update(AuditEvent)
                .where(AuditEvent.seq == seq)
                .values(occurred_at=moment, canonical=canonical)
            )
        _rechain(1)
        db.session.commit()
        ledger = services.ledger()
        assert ledger.verify().ok
        assert _sql_flags(ledger) == [True] * len(moments)
