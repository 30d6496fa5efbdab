"""Writing events: the bytes committed to, the queue for the tree, and what a rollback
leaves (nothing)."""

import hashlib
import json
import threading
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from sayso import services
from sayso.extensions import db
from sayso.ledger import Event, EventType
from sayso.ledger.encoding import canonical_bytes, entry_leaf_hash
from sayso.ledger.verify import LogVerifier
from sayso.models import AuditEvent, LedgerLeaf, LedgerPending
from tests.ledger_helpers import integrate


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


def _count(app, model) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model))


def test_canonical_bytes_are_sorted_compact_utf8_without_seq():
    moment = datetime(2026, 1, 2, 3, 4, 5, 6, tzinfo=UTC)
    event = Event(
        EventType.PROFILE_READ, "system", None, "brand-1", ("z", "a", "z"), "pûrpose", {"k": 1}
    )
    assert (
        canonical_bytes(event, moment)
        == (
            '{"actor":"system","brand":"brand-1","details":{"k":1},"fields":["a","z"],'
            '"occurred_at":"2026-01-02T03:04:05.000006Z","purpose":"pûrpose",'
            '"subject":null,"type":"api:profile:read","v":2}'
        ).encode()
    )


def test_the_leaf_hash_covers_salt_and_bytes_as_rfc_9162_says():
    salt, canonical = bytes(range(16)), b'{"v":2}'
    expected = hashlib.sha256(b"\x00" + salt + canonical).digest()
    assert entry_leaf_hash(salt, canonical) == expected


def test_an_event_is_queued_with_its_change_and_integrated_later(app):
    _append(app, 5)
    assert _count(app, LedgerPending) == 5 and _count(app, LedgerLeaf) == 0
    assert integrate(app) == 5
    assert _count(app, LedgerPending) == 0
    with app.app_context():
        leaves = db.session.execute(
            select(LedgerLeaf.leaf_index, LedgerLeaf.seq).order_by(LedgerLeaf.leaf_index)
        ).all()
        seqs = db.session.scalars(select(AuditEvent.seq).order_by(AuditEvent.seq)).all()
        assert [index for index, _ in leaves] == [0, 1, 2, 3, 4]
        assert [seq for _, seq in leaves] == seqs  # written order
        row = db.session.scalars(select(AuditEvent)).first()
        assert json.loads(row.fields) == ["channels", "interests"] and len(row.salt) == 16


def test_every_salt_differs(app):
    _append(app, 20, actor="same")
    with app.app_context():
        salts = db.session.scalars(select(AuditEvent.salt)).all()
    assert len(set(salts)) == 20


def test_an_event_rolled_back_with_its_change_leaves_no_trace(app):
    with app.app_context():
        services.ledger().append(Event(EventType.LOGIN_FAILED, actor="anonymous"))
        db.session.rollback()
    assert _count(app, AuditEvent) == 0 and _count(app, LedgerPending) == 0
    assert integrate(app) == 0


def test_an_empty_log_verifies(app):
    with app.app_context():
        result = LogVerifier(db.session, app.extensions["sayso_ledger_key"]).verify()
    assert result.ok and result.size == 0


def test_threads_appending_at_once_all_land_in_one_tree(app):
    errors = []

    def work(n):
        try:
            _append(app, 10, actor=f"thread-{n}")
        except Exception as error:
            errors.append(error)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    integrate(app)
    with app.app_context():
        result = LogVerifier(db.session, app.extensions["sayso_ledger_key"]).verify()
    assert result.ok and result.size == 40


@pytest.mark.parametrize("event_type", list(EventType))
def test_event_types_are_source_subject_action(event_type):
    source, subject, action = event_type.value.split(":")
    assert source and subject and action
