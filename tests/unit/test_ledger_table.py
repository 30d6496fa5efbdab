"""The ``audit_events`` table that the log's verification trusts for searching.

The searchable columns of ``audit_events`` are kept equal to ``canonical`` by the database
(SQLite computes them from it, PostgreSQL's CHECK constraint holds them to it), so the log
commits to ``salt ‖ canonical`` alone and the console can search the columns. These tests
hold the database to that: awkward events read back exactly from their columns, a column
cannot be changed apart from ``canonical``, and a loosened table is reported. Every test
runs on SQLite, and on PostgreSQL when SAYSO_TEST_POSTGRES_URL is set.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, text, update

from sayso import services
from sayso.extensions import db
from sayso.ledger.encoding import canonical_bytes, recordable
from sayso.ledger.events import Event, EventType
from sayso.ledger.verify import LogVerifier
from sayso.models import AuditEvent
from sayso.models.ledger import POSTGRESQL_CHECK, POSTGRESQL_CHECK_NAME, SQLITE_TABLE
from tests.ledger_helpers import integrate, rewrite_event

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
    integrate(app)


def _verify(app):
    """The log verified, in a context of its own."""
    with app.app_context():
        return LogVerifier(db.session, app.extensions["sayso_ledger_key"]).verify()


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
            cleaned = recordable(event, canonical_bytes(event, row.occurred_at))
            assert json.loads(row.details) == cleaned.details
            assert row.occurred_at.strftime("%Y-%m-%dT%H:%M:%S.%fZ") == said["occurred_at"]
    result = _verify(app)
    assert result.ok and result.size == len(AWKWARD)


def test_u0000_is_recorded_as_the_replacement_character_on_both_databases(app):
    # PostgreSQL keeps no U+0000 in text or jsonb; a backslash followed by "u0000" is text.
    _append(app, [Event(EventType.LOGIN_FAILED, actor="a\x00", details={"q": "\x00\\u0000"})])
    with app.app_context():
        row = db.session.execute(select(TABLE)).one()
        assert row.actor == "a\ufffd"
        assert json.loads(row.details) == {"q": "\ufffd\\u0000"}
    assert _verify(app).ok


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
        rewrite_event(db.session, 1, occurred_at=moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ"))
        db.session.commit()
        assert db.session.scalar(select(TABLE.c.occurred_at).where(TABLE.c.seq == 1)) == moment
    # The row still reads back, and the log, which committed to its old bytes, says so.
    result = _verify(app)
    assert not result.ok and result.first_bad_index == 0


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
    ],
    ids=lambda change: next(iter(change)),
)
def test_a_column_cannot_be_changed_apart_from_canonical(app, change):
    _append(app, _plain_events(3))
    with app.app_context():
        with pytest.raises(Exception, match=r"generated column|check constraint|CHECK constraint"):
            db.session.execute(update(AuditEvent).where(AuditEvent.seq == 2).values(**change))
        db.session.rollback()
    assert _verify(app).ok


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
        "the queue's trigger dropped": lambda s: s.execute(
            text("DROP TRIGGER audit_events_queued")
        ),
        "no unique salt": lambda s: _rebuild_sqlite(
            s, SQLITE_TABLE.replace(",\n    CONSTRAINT uq_audit_events_salt UNIQUE (salt)", "")
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
            result = LogVerifier(db.session, app.extensions["sayso_ledger_key"]).verify()
        finally:
            db.session.rollback()
            if dialect == "postgresql":  # the database outlives the test: put it back
                _restore_postgresql(db.session)
    assert not result.ok
    assert "audit_events table" in result.reason
    assert _verify(app).ok or dialect == "sqlite"


def _restore_postgresql(session) -> None:
    session.execute(
        text(f"ALTER TABLE audit_events DROP CONSTRAINT IF EXISTS {POSTGRESQL_CHECK_NAME}")
    )
    session.execute(text("ALTER TABLE audit_events ALTER COLUMN actor TYPE varchar(96)"))
    session.execute(
        text(f"ALTER TABLE audit_events ADD CONSTRAINT {POSTGRESQL_CHECK_NAME} {POSTGRESQL_CHECK}")
    )
    session.commit()
