"""Signed checkpoints: what `verify` catches with them that the chain alone cannot."""

from sqlalchemy import delete, select, update

from sayso import services
from sayso.extensions import db
from sayso.models import AuditEvent, LedgerCheckpoint
from sayso.services.ledger import (
    Event,
    EventType,
    LedgerKey,
    checkpoint_message,
    signature_valid,
)
from tests.ledger_helpers import bulk_chain, rechain, rewrite_event


def _append(app, n):
    with app.app_context():
        ledger = services.ledger()
        for i in range(n):
            ledger.append(Event(EventType.LOGIN_FAILED, actor="anonymous", details={"n": i}))
            db.session.commit()


def _verify(app, **kwargs):
    with app.app_context():
        return services.ledger().verify(**kwargs)


def test_a_checkpoint_every_n_events(app_factory):
    app = app_factory(LEDGER_CHECKPOINT_INTERVAL=5)
    _append(app, 12)
    with app.app_context():
        cps = db.session.scalars(select(LedgerCheckpoint).order_by(LedgerCheckpoint.seq)).all()
        assert [cp.seq for cp in cps] == [5, 10]
        key = app.extensions["sayso_ledger_key"]
        for cp in cps:
            assert cp.hash == db.session.get(AuditEvent, cp.seq).hash
            message = checkpoint_message(cp.seq, cp.hash, cp.signed_at, cp.key_id)
            assert signature_valid(key.public_key, cp.signature, message)
    result = _verify(app)
    assert result.ok and result.checkpoints_checked == 2


def test_checkpoint_on_demand_signs_the_head_once(app):
    _append(app, 3)
    with app.app_context():
        first = services.ledger().checkpoint()
        again = services.ledger().checkpoint()
        assert first.seq == again.seq == 3


def test_published_key_matches_the_signatures(app, client):
    _append(app, 2)
    with app.app_context():
        services.ledger().checkpoint()
    document = client.get("/.well-known/sayso-ledger-key.json").get_json()
    assert document["alg"] == "Ed25519"
    with app.app_context():
        cp = db.session.scalars(select(LedgerCheckpoint)).one()
        assert cp.key_id == document["key_id"]


def test_truncated_tail_is_detected_against_the_last_checkpoint(app_factory):
    app = app_factory(LEDGER_CHECKPOINT_INTERVAL=5)
    _append(app, 10)
    with app.app_context():
        db.session.execute(delete(AuditEvent).where(AuditEvent.seq > 7))
        db.session.commit()
    result = _verify(app)
    assert not result.ok and result.first_bad_seq == 8
    assert "missing" in result.reason


def test_forged_row_with_recomputed_hashes_is_detected_by_the_signature(app_factory):
    app = app_factory(LEDGER_CHECKPOINT_INTERVAL=5)
    _append(app, 10)
    with app.app_context():
        # Rewrite row 7 and re-chain everything after it: the chain alone looks intact.
        rewrite_event(db.session, 7, actor="forger")
        rechain(db.session, 7)
        db.session.commit()
    result = _verify(app)
    assert not result.ok
    assert result.first_bad_seq == 6  # the first seq after the last good checkpoint (5)
    assert "checkpoint at seq 10" in result.reason


def test_a_checkpoint_signed_by_another_key_is_refused(app_factory):
    app = app_factory(LEDGER_CHECKPOINT_INTERVAL=5)
    _append(app, 5)
    other = LedgerKey(b"\x07" * 32)
    with app.app_context():
        cp = db.session.get(LedgerCheckpoint, 5)
        db.session.execute(
            update(LedgerCheckpoint)
            .where(LedgerCheckpoint.seq == 5)
            .values(
                signature=other.sign(checkpoint_message(cp.seq, cp.hash, cp.signed_at, cp.key_id))
            )
        )
        db.session.commit()
    result = _verify(app)
    assert not result.ok and result.first_bad_seq == 5
    assert "signature" in result.reason


def test_since_checkpoint_starts_at_the_newest_good_checkpoint(app_factory):
    app = app_factory(LEDGER_CHECKPOINT_INTERVAL=5)
    _append(app, 12)
    result = _verify(app, since_checkpoint=True)
    assert result.ok and result.started_at_seq == 11 and result.checked == 2
    # Damage after the checkpoint is still found.
    with app.app_context():
        rewrite_event(db.session, 12, actor="x")
        db.session.commit()
    result = _verify(app, since_checkpoint=True)
    assert not result.ok and result.first_bad_seq == 12


def test_since_checkpoint_cost_does_not_grow_with_the_log(app):
    tip = bulk_chain(app, 3000)
    with app.app_context():
        services.ledger().checkpoint()
    bulk_chain(app, 10, start_seq=3001, prev_hash=tip)
    result = _verify(app, since_checkpoint=True)
    assert result.ok and result.checked == 10 and result.last_seq == 3010
    assert _verify(app).checked == 3010


def test_deleted_checkpoints_are_reported(app_factory):
    # Every 4th event is signed as it is appended. Someone who can write to the database
    # deletes the checkpoints, then rewrites a row and rehashes the rest (or cuts the
    # tail): without the checkpoints' absence counting, both walks would say intact.
    app = app_factory(LEDGER_CHECKPOINT_INTERVAL=4)
    _append(app, 12)
    with app.app_context():
        db.session.execute(delete(LedgerCheckpoint).where(LedgerCheckpoint.seq >= 8))
        db.session.commit()
        for since in (False, True):
            result = services.ledger().verify(since_checkpoint=since)
            assert not result.ok and result.first_bad_seq == 5, result
            assert "no signed checkpoint in the 4 events after seq 4" in result.reason
        db.session.execute(delete(LedgerCheckpoint))
        db.session.commit()
        result = services.ledger().verify(since_checkpoint=True)
        assert not result.ok and result.first_bad_seq == 1, result
        # An on-demand checkpoint is an extra, never a gap.
        db.session.execute(delete(AuditEvent).where(AuditEvent.seq > 3))
        db.session.commit()
        services.ledger().checkpoint()
        assert services.ledger().verify().ok
