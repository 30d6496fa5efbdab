"""The ledger's hash chain: appends, canonical bytes, and every kind of tampering."""

import itertools
import json
import threading
from datetime import UTC, datetime

import pytest
from sqlalchemy import delete, select, update
from sqlalchemy.exc import DBAPIError

from sayso import services
from sayso.extensions import db
from sayso.models import AuditEvent
from sayso.services.ledger import (
    GENESIS_HASH,
    Event,
    EventType,
    canonical_bytes,
    chain_hash,
)
from tests.ledger_helpers import rewrite_event


def _append(app, n, actor="system"):
    with app.app_context():
        ledger = services.ledger()
        for i in range(n):
            ledger.append(
                Event(
                    EventType.DISCLOSURE_UPDATED,
                    actor=actor,
                    subject=f"{i:032x}",
                    fields=("interests", "channels"),
                    details={"n": i},
                )
            )
            db.session.commit()


def _verify(app):
    with app.app_context():
        return services.ledger().verify()


def test_canonical_bytes_are_sorted_compact_utf8():
    moment = datetime(2026, 1, 2, 3, 4, 5, 6, tzinfo=UTC)
    raw = canonical_bytes(
        7, moment, "a:b:c", "system", None, "brand-1", ["z", "a"], "pûrpose", {"k": 1}
    )
    assert (
        raw
        == (
            '{"actor":"system","brand":"brand-1","details":{"k":1},"fields":["a","z"],'
            '"occurred_at":"2026-01-02T03:04:05.000006Z","purpose":"pûrpose","seq":7,'
            '"subject":null,"type":"a:b:c","v":1}'
        ).encode()
    )


def test_chain_hash_covers_previous_hash_and_bytes():
    import hashlib

    assert chain_hash(GENESIS_HASH, b"x") == hashlib.sha256(b"\x00" * 32 + b"x").hexdigest()


def test_appends_form_a_gap_free_chain(app):
    _append(app, 5)
    with app.app_context():
        rows = db.session.scalars(select(AuditEvent).order_by(AuditEvent.seq)).all()
        assert [r.seq for r in rows] == [1, 2, 3, 4, 5]
        assert rows[0].prev_hash == GENESIS_HASH
        for before, after in itertools.pairwise(rows):
            assert after.prev_hash == before.hash
        assert json.loads(rows[0].fields) == ["channels", "interests"]
    result = _verify(app)
    assert result.ok and result.checked == 5 and result.last_seq == 5


def test_an_event_rolled_back_with_its_change_leaves_no_trace(app):
    _append(app, 2)
    with app.app_context():
        services.ledger().append(Event(EventType.LOGIN_FAILED, actor="anonymous"))
        db.session.rollback()
        assert db.session.scalar(select(db.func.count()).select_from(AuditEvent)) == 2
    _append(app, 1)
    assert _verify(app).ok


def test_empty_ledger_verifies(app):
    assert _verify(app).ok


def test_changed_canonical_bytes_are_detected(app):
    _append(app, 5)
    with app.app_context():
        rewrite_event(db.session, 3, details={"n": 9})
        db.session.commit()
    result = _verify(app)
    assert not result.ok and result.first_bad_seq == 3
    assert result.reason == "hash does not match the canonical bytes"


@pytest.mark.parametrize("column", ["brand", "actor", "details", "occurred_at", "seq"])
def test_the_database_refuses_a_column_changed_apart_from_canonical(app, column):
    # SQLite computes the columns from canonical (and checks seq against it); PostgreSQL's
    # CHECK constraint holds them to it. What the columns say is what the hash covers.
    _append(app, 5)
    value = {"seq": 40, "occurred_at": datetime(2020, 1, 1, tzinfo=UTC)}.get(column, "evil")
    with app.app_context(), pytest.raises(DBAPIError):
        db.session.execute(update(AuditEvent).where(AuditEvent.seq == 4).values({column: value}))
    assert _verify(app).ok


def test_deleted_row_is_detected(app):
    _append(app, 5)
    with app.app_context():
        db.session.execute(delete(AuditEvent).where(AuditEvent.seq == 2))
        db.session.commit()
    result = _verify(app)
    assert not result.ok and result.first_bad_seq == 2
    assert "missing" in result.reason


def test_rewritten_row_with_recomputed_own_hash_breaks_the_next_link(app):
    _append(app, 5)
    with app.app_context():
        rewrite_event(db.session, 3, actor="forger", rehash=True)
        db.session.commit()
    result = _verify(app)
    assert not result.ok and result.first_bad_seq == 4


def test_two_threads_appending_at_once_leave_one_unbroken_chain(app):
    errors = []

    def worker(actor):
        try:
            _append(app, 40, actor=actor)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(f"worker-{i}",)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    result = _verify(app)
    assert result.ok and result.checked == 80 and result.last_seq == 80
    with app.app_context():
        actors = db.session.scalars(select(AuditEvent.actor)).all()
        assert actors.count("worker-0") == actors.count("worker-1") == 40


@pytest.mark.parametrize("event_type", list(EventType))
def test_event_types_are_source_subject_action(event_type):
    parts = event_type.value.split(":")
    assert len(parts) == 3 and all(parts)
