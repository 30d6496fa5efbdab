"""``Ledger.verify`` and the table it trusts.

The searchable columns of ``audit_events`` are kept equal to ``canonical`` by the database
(SQLite computes them from it, PostgreSQL's CHECK constraint holds them to it), so ``verify``
hashes ``canonical`` alone after checking the table's definition. These tests hold the
database to that: awkward events read back exactly from their columns, a column cannot be
changed apart from ``canonical``, a loosened table is reported, and the batched walk names
the same first bad seq as a plain row-by-row walk whatever is tampered with. Every test runs
on SQLite, and on PostgreSQL when SAYSO_TEST_POSTGRES_URL is set.
"""

from __future__ import annotations

import json
import random
import sys
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import delete, select, text, update

from sayso import services
from sayso.extensions import db
from sayso.models import AuditEvent, LedgerCheckpoint
from sayso.models.ledger import POSTGRESQL_CHECK, POSTGRESQL_CHECK_NAME, SQLITE_TABLE
from sayso.services.ledger import (
    GENESIS_HASH,
    Event,
    EventType,
    LedgerKey,
    Verification,
    _without_nul,
    chain_hash,
    checkpoint_message,
    signature_valid,
)
from tests.ledger_helpers import rechain, rewrite_event

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


def _dialect(app) -> str:
    with app.app_context():
        return db.engine.dialect.name


def _skip_unless_sqlite(app, why: str) -> None:
    if _dialect(app) != "sqlite":
        pytest.skip(why)


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


# --- the columns are what canonical says ------------------------------------------------


def test_awkward_events_read_back_exactly_from_their_columns(app):
    _append(app, AWKWARD)
    with app.app_context():
        rows = db.session.execute(select(TABLE).order_by(TABLE.c.seq)).all()
        for event, row in zip(AWKWARD, rows, strict=True):
            said = json.loads(row.canonical)
            assert (row.type, row.actor, row.subject, row.brand, row.purpose) == (
                str(event.type),
                event.actor,
                event.subject,
                event.brand,
                event.purpose,
            )
            assert json.loads(row.fields) == sorted(event.fields)
            assert json.loads(row.details) == _without_nul(event).details
            assert row.occurred_at.strftime("%Y-%m-%dT%H:%M:%S.%fZ") == said["occurred_at"]
        assert services.ledger().verify() == Verification(True, len(AWKWARD), len(AWKWARD))


def test_u0000_is_recorded_as_the_replacement_character_on_both_databases(app):
    # PostgreSQL keeps no U+0000 in text or jsonb; a backslash followed by "u0000" is text.
    _append(app, [Event(EventType.LOGIN_FAILED, actor="a\x00", details={"q": "\x00\\u0000"})])
    with app.app_context():
        row = db.session.execute(select(TABLE)).one()
        assert row.actor == "a\ufffd"
        assert json.loads(row.details) == {"q": "\ufffd\\u0000"}
        assert services.ledger().verify().ok


@pytest.mark.parametrize(
    "moment",
    [
        datetime(2026, 1, 2, 3, 4, 5, 500000, tzinfo=UTC),  # trailing zeros in microseconds
        datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),  # none at all
        datetime(1000, 1, 1, tzinfo=UTC),
        datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
        datetime(2024, 2, 29, 12, tzinfo=UTC) - timedelta(microseconds=1),
    ],
)
def test_any_moment_reads_back_from_the_occurred_at_column(app, moment):
    _append(app, _plain_events(2))
    with app.app_context():
        rewrite_event(db.session, 1, occurred_at=moment)
        rechain(db.session, 1)
        db.session.commit()
        assert db.session.scalar(select(TABLE.c.occurred_at).where(TABLE.c.seq == 1)) == moment
        assert services.ledger().verify().ok


@pytest.mark.parametrize(
    "change",
    [
        {"actor": "x"},
        {"subject": None},
        {"brand": "br_other"},
        {"purpose": "other"},
        {"type": "api:profile:other"},
        {"fields": '["a"]'},
        {"details": '{"n":99}'},
        {"occurred_at": datetime(2020, 1, 1, tzinfo=UTC)},
        {"seq": 99},
    ],
    ids=lambda change: next(iter(change)),
)
def test_a_column_cannot_be_changed_apart_from_canonical(app, change):
    _append(app, _plain_events(3))
    with app.app_context():
        with pytest.raises(Exception, match=r"generated column|check constraint|CHECK constraint"):
            db.session.execute(update(AuditEvent).where(AuditEvent.seq == 2).values(**change))
        db.session.rollback()
        assert services.ledger().verify().ok


def test_canonical_cannot_be_changed_apart_from_the_columns_on_postgresql(app):
    # On SQLite the columns simply follow canonical; the hash then no longer matches.
    if _dialect(app) != "postgresql":
        pytest.skip("PostgreSQL stores the columns")
    _append(app, _plain_events(3))
    with app.app_context():
        canonical = db.session.scalar(select(TABLE.c.canonical).where(TABLE.c.seq == 2))
        forged = canonical.replace(b'"actor":"system"', b'"actor":"forger"')
        with pytest.raises(Exception, match="check constraint"):
            db.session.execute(
                update(AuditEvent).where(AuditEvent.seq == 2).values(canonical=forged)
            )
        db.session.rollback()


# --- a loosened table is reported ----------------------------------------------------------


def _rebuild_sqlite(session, table_sql: str) -> None:
    """Recreate SQLite's table from ``table_sql`` with the same rows (plain columns filled
    from the generated ones), as someone who wants to edit the columns freely would."""
    session.execute(text("ALTER TABLE audit_events RENAME TO audit_events_old"))
    session.execute(text(table_sql))
    # table_xinfo's "hidden" is 2 or 3 for a generated column, which takes no value.
    info = session.execute(text("PRAGMA table_xinfo(audit_events)")).all()
    columns = ", ".join(row.name for row in info if row.hidden == 0)
    session.execute(
        text(f"INSERT INTO audit_events ({columns}) SELECT {columns} FROM audit_events_old")
    )
    session.execute(text("DROP TABLE audit_events_old"))


_PLAIN = SQLITE_TABLE
for _column in ("occurred_at", "type", "actor", "subject", "brand", "fields", "purpose", "details"):
    _start = _PLAIN.index(f"    {_column} ")
    _type = _PLAIN[_start:].split()[1]
    _PLAIN = _PLAIN[:_start] + f"    {_column} {_type}," + _PLAIN[_PLAIN.index("\n", _start) :]

LOOSENINGS = {
    "sqlite": {
        "plain columns": lambda s: _rebuild_sqlite(s, _PLAIN),
        "an expression changed": lambda s: _rebuild_sqlite(
            s, SQLITE_TABLE.replace("'$.actor'", "'$.type'")
        ),
        "no check on seq": lambda s: _rebuild_sqlite(
            s, SQLITE_TABLE.replace(SQLITE_TABLE.split("\n")[1], "    seq INTEGER NOT NULL,")
        ),
    },
    "postgresql": {
        "constraint dropped": lambda s: s.execute(
            text(f"ALTER TABLE audit_events DROP CONSTRAINT {POSTGRESQL_CHECK_NAME}")
        ),
        "constraint added back not valid": lambda s: (
            s.execute(text(f"ALTER TABLE audit_events DROP CONSTRAINT {POSTGRESQL_CHECK_NAME}")),
            s.execute(
                text(
                    f"ALTER TABLE audit_events ADD CONSTRAINT {POSTGRESQL_CHECK_NAME} "
                    f"{POSTGRESQL_CHECK} NOT VALID"
                )
            ),
        ),
        "constraint replaced": lambda s: (
            s.execute(text(f"ALTER TABLE audit_events DROP CONSTRAINT {POSTGRESQL_CHECK_NAME}")),
            s.execute(
                text(
                    f"ALTER TABLE audit_events ADD CONSTRAINT {POSTGRESQL_CHECK_NAME} "
                    "CHECK (seq > 0)"
                )
            ),
        ),
        "a column retyped": lambda s: s.execute(
            text("ALTER TABLE audit_events ALTER COLUMN actor TYPE text")
        ),
    },
}


@pytest.mark.parametrize(
    "loosening", sorted({name for names in LOOSENINGS.values() for name in names})
)
def test_a_loosened_table_is_reported(app, loosening):
    dialect = _dialect(app)
    if loosening not in LOOSENINGS[dialect]:
        pytest.skip(f"not a {dialect} table")
    _append(app, _plain_events(4))
    with app.app_context():
        try:
            LOOSENINGS[dialect][loosening](db.session)
            db.session.commit()
            result = services.ledger().verify()
        finally:
            db.session.rollback()
            if dialect == "postgresql":  # the database outlives the test: put it back
                _restore_postgresql(db.session)
    assert not result.ok and result.first_bad_seq == 1
    assert "audit_events table" in result.reason
    with app.app_context():
        assert services.ledger().verify().ok or dialect == "sqlite"


def _restore_postgresql(session) -> None:
    session.execute(
        text(f"ALTER TABLE audit_events DROP CONSTRAINT IF EXISTS {POSTGRESQL_CHECK_NAME}")
    )
    session.execute(text("ALTER TABLE audit_events ALTER COLUMN actor TYPE varchar(96)"))
    session.execute(
        text(f"ALTER TABLE audit_events ADD CONSTRAINT {POSTGRESQL_CHECK_NAME} {POSTGRESQL_CHECK}")
    )
    session.commit()


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


def test_a_changed_canonical_after_a_checkpoint_is_found_since_that_checkpoint(app_factory):
    app = app_factory(LEDGER_CHECKPOINT_INTERVAL=5)
    _append(app, _plain_events(9))
    with app.app_context():
        assert services.ledger().verify() == Verification(True, 9, 9, None, None, 1, 1)
        rewrite_event(db.session, 6, actor="x")
        db.session.commit()
        result = services.ledger().verify(since_checkpoint=True)
    assert not result.ok and result.first_bad_seq == 6
    assert result.reason == "hash does not match the canonical bytes"


def test_the_checkpointed_row_itself_is_checked_since_that_checkpoint(app_factory):
    # The walk starts after the checkpoint's row, so that row's bytes are hashed when the
    # checkpoint is chosen: changed under an unchanged hash column, the checkpoint is not
    # a start, and the walk from further back finds the row.
    app = app_factory(LEDGER_CHECKPOINT_INTERVAL=5)
    _append(app, _plain_events(9))
    with app.app_context():
        rewrite_event(db.session, 5, actor="forger")
        db.session.commit()
        result = services.ledger().verify(since_checkpoint=True)
    assert result.started_at_seq == 1
    assert not result.ok and result.first_bad_seq == 5
    assert result.reason == "hash does not match the canonical bytes"


# --- the batched walk against a plain walk -------------------------------------------------


def _reference_verify(ledger, public_key, since_checkpoint=False) -> Verification:
    """The simplest walk: every row in turn, every check spelled out."""
    start = None
    if since_checkpoint:
        for cp in reversed(ledger.checkpoints()):
            row = db.session.get(AuditEvent, cp.seq)
            message = checkpoint_message(cp.seq, cp.hash, cp.signed_at, cp.key_id)
            if (
                row
                and row.hash == cp.hash
                and chain_hash(row.prev_hash, row.canonical) == cp.hash
                and signature_valid(public_key, cp.signature, message)
            ):
                start = cp
                break
    expected, prev = (start.seq + 1, start.hash) if start else (1, GENESIS_HASH)
    first = expected
    pending = {cp.seq: cp for cp in ledger.checkpoints(after=expected - 1)}
    checked = cps = 0
    last_good = start.seq if start else 0

    def broken(seq, reason):
        return Verification(False, checked, expected - 1, seq, reason, cps, first)

    for row in ledger.rows(after=expected - 1):
        seq = row.seq
        if seq != expected:
            return broken(expected, f"sequence {expected} is missing (next row is {seq})")
        if row.prev_hash != prev:
            return broken(seq, "prev_hash does not match the previous row's hash")
        if chain_hash(prev, row.canonical) != row.hash:
            return broken(seq, "hash does not match the canonical bytes")
        cp = pending.pop(seq, None)
        if cp is not None:
            message = checkpoint_message(cp.seq, cp.hash, cp.signed_at, cp.key_id)
            if not signature_valid(public_key, cp.signature, message):
                return broken(cp.seq, f"checkpoint at seq {cp.seq} has an invalid signature")
            if cp.hash != row.hash:
                return broken(
                    last_good + 1,
                    f"chain differs from the signed checkpoint at seq {cp.seq}: "
                    f"rows after seq {last_good} were rewritten",
                )
            cps += 1
            last_good = cp.seq
        checked += 1
        expected, prev = seq + 1, row.hash
    if pending:
        return broken(
            expected,
            f"events from seq {expected} are missing: a checkpoint covers seq {max(pending)}",
        )
    return Verification(True, checked, expected - 1, None, None, cps, first)


VALUES = ['a"b', "a\\b", "x\ny", "é🙂", "", "plain", None, "\x01"]


def _tamper(rng: random.Random, count: int) -> str:
    """One random change someone with write access could make; returns what it was."""
    seq = rng.randint(1, count)
    kind = rng.choice(["rewrite", "forge", "forge", "delete", "tail", "hash", "prev", "signature"])
    if kind in ("rewrite", "forge"):
        if db.session.get(AuditEvent, seq) is None:
            return f"nothing ({seq} is gone)"
        column = rng.choice(["actor", "subject", "brand", "purpose", "details", "fields"])
        value = rng.choice(VALUES)
        if column == "details":
            value = rng.choice([{"n": 1}, {"b": 1, "a": 2}, {}])
        elif column == "fields":
            value = rng.choice([["z", "a"], ["a"], []])
        elif column == "actor" and value is None:
            value = "x"
        rewrite_event(db.session, seq, **{column: value})
        if kind == "forge":
            rechain(db.session, seq)
        return f"{kind} {column}={value!r} at {seq}"
    if kind == "delete":
        db.session.execute(delete(AuditEvent).where(AuditEvent.seq == seq))
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


def test_the_batched_walk_agrees_with_the_plain_walk(app_factory, monkeypatch):
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
                batched = ledger.verify(since_checkpoint=since)
                reference = _reference_verify(ledger, key, since_checkpoint=since)
                assert batched == reference, (changes, since)
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
