"""The ledger as a transparency log, as witnesses, auditors and attackers meet it.

What the server publishes (checkpoints, tiles, proofs) is checked here with a verifier
written in the tests from RFC 9162 (tests/rfc9162.py), never with the server's own. The
attacks are carried out as someone holding the database, the instance folder and every
key: each must be caught against a checkpoint that a witness (a separate server with its own
key and database) holds.
"""

from __future__ import annotations

import base64
import json
import os
import signal
import subprocess
import sys
import time

import pytest
from sqlalchemy import delete, func, insert, select, text, update

from sayso import services
from sayso.extensions import db
from sayso.ledger import Event, EventType
from sayso.ledger.encoding import entry_leaf_hash
from sayso.ledger.keys import LedgerKey
from sayso.ledger.verify import Broken, LogVerifier, read_trusted
from sayso.models import (
    AuditEvent,
    LedgerCheckpoint,
    LedgerCosignature,
    LedgerLeaf,
    LedgerPending,
    LedgerState,
    LedgerTile,
    LedgerWitness,
)
from tests import rfc9162
from tests.ledger_helpers import event_values, insert_events, integrate, rewrite_event
from tests.witness_helpers import RunningWitness

ORIGIN = "sayso.localhost/ledger"


def _append(app, n: int, type_=EventType.DISCLOSURE_UPDATED, tag: str = "e") -> None:
    with app.app_context():
        ledger = services.ledger()
        for i in range(n):
            ledger.append(Event(type_, actor="system", subject=f"{tag}{i}", fields=("interests",)))
        db.session.commit()


def _verify(app, *held: str, witness_keys=()):
    with app.app_context():
        key = app.extensions["sayso_ledger_key"]
        trusted = [
            read_trusted(note, key, witness_keys, f"checkpoint {n}") for n, note in enumerate(held)
        ]
        return LogVerifier(db.session, key).verify(trusted)


def _get(client):
    def get(path: str) -> bytes:
        response = client.get(path)
        assert response.status_code == 200, (path, response.get_data(as_text=True))
        return response.get_data()

    return get


def _checkpoint(client) -> tuple[str, int, bytes]:
    vkey = client.get("/ledger/key").get_json()["verifier_key"]
    return rfc9162.read_checkpoint(client.get("/ledger/checkpoint").get_data(as_text=True), vkey)


# --- what anyone can check -------------------------------------------------------------------


def test_anyone_rebuilds_the_tree_from_its_tiles_and_checks_the_checkpoint(app, client):
    assert client.get("/ledger/checkpoint").status_code == 404  # nothing yet
    _append(app, 300)
    integrate(app)
    origin, size, root = _checkpoint(client)
    assert (origin, size) == (ORIGIN, 300)
    leaves = rfc9162.leaf_hashes(_get(client), size)
    assert rfc9162.mth(leaves) == root
    with app.app_context():  # ... and the leaves are the stored entries, in written order
        rows = db.session.execute(
            select(AuditEvent.salt, AuditEvent.canonical).order_by(AuditEvent.seq)
        ).all()
    assert leaves == [entry_leaf_hash(salt, canonical) for salt, canonical in rows]
    # The level-1 tile holds the root of each full level-0 tile.
    assert client.get(rfc9162.tile_url(1, 0, 1)).get_data() == rfc9162.mth(leaves[:256])
    full = client.get(rfc9162.tile_url(0, 0, 256))
    assert "immutable" in full.headers["Cache-Control"]
    assert client.get("/ledger/checkpoint").headers["Cache-Control"] == "no-cache"


@pytest.mark.parametrize(
    "path",
    [
        "/ledger/tile/0/001",
        "/ledger/tile/0/000.p/45",
        "/ledger/tile/entries/000.p/3",
        "/ledger/tile/0/x000/000",
        "/ledger/tile/0/00",
        "/ledger/tile/../key",
    ],
)
def test_missing_tiles_and_entry_bundles_are_not_served(app, client, path):
    _append(app, 44)
    integrate(app)
    assert client.get(path).status_code == 404
    assert client.get("/ledger/tile/0/000.p/44").status_code == 200


def test_proofs_verify_with_a_verifier_written_from_the_rfc(app, client):
    _append(app, 40)
    integrate(app)
    _, old_size, old_root = _checkpoint(client)
    _append(app, 25, tag="f")
    integrate(app)
    _, size, root = _checkpoint(client)
    leaves = rfc9162.leaf_hashes(_get(client), size)
    assert old_size == 40 and size == 65 and rfc9162.mth(leaves[:40]) == old_root

    def hashes(response):
        assert response.status_code == 200, response.get_json()
        return [base64.b64decode(h) for h in response.get_json()["hashes"]]

    for index in (0, 1, 31, 32, 39, 40, 63, 64):
        proof = hashes(client.get(f"/ledger/proof/inclusion?index={index}&size=65"))
        assert rfc9162.verify_inclusion(leaves[index], index, 65, proof, root)
        assert not rfc9162.verify_inclusion(leaves[index - 1], index, 65, proof, root)
        if index < 40:
            proof = hashes(client.get(f"/ledger/proof/inclusion?index={index}&size=40"))
            assert rfc9162.verify_inclusion(leaves[index], index, 40, proof, old_root)
    for first in (1, 2, 7, 32, 40, 64):
        proof = hashes(client.get(f"/ledger/proof/consistency?from={first}&to=65"))
        first_root = rfc9162.mth(leaves[:first])
        assert rfc9162.verify_consistency(first, 65, first_root, root, proof)
        assert not rfc9162.verify_consistency(first, 65, first_root, old_root, proof)
    for bad in ("index=65&size=65", "index=0&size=66", "index=x", "size=3"):
        assert client.get(f"/ledger/proof/inclusion?{bad}").status_code == 400
    for bad in ("from=0&to=5", "from=6&to=5", "from=1&to=66", "from=a&to=2"):
        assert client.get(f"/ledger/proof/consistency?{bad}").status_code == 400


def test_a_checkpoint_is_signed_when_the_tree_grew_and_only_then(app, client):
    _append(app, 3)
    integrate(app)
    integrate(app)
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(LedgerCheckpoint)) == 1
    _append(app, 1)
    integrate(app)
    with app.app_context():
        sizes = db.session.scalars(select(LedgerCheckpoint.size)).all()
    assert sorted(sizes) == [3, 4]


# --- tampering the stored log alone catches ------------------------------------------------


def _first_seq(session) -> int:
    return session.scalar(select(func.min(AuditEvent.seq)))


TAMPERING = {
    "an entry changed": lambda s: rewrite_event(s, _first_seq(s) + 3, actor="forger"),
    "an entry deleted": lambda s: s.execute(
        delete(AuditEvent).where(AuditEvent.seq == _first_seq(s) + 3)
    ),
    "a leaf removed": lambda s: s.execute(delete(LedgerLeaf).where(LedgerLeaf.leaf_index == 3)),
    "a served tile changed": lambda s: s.execute(
        update(LedgerTile).where(LedgerTile.level == 0).values(hashes=b"\x01" * 32 * 10)
    ),
    "an event written around the log": lambda s: _written_around(s),
    "a checkpoint's root changed": lambda s: s.execute(
        update(LedgerCheckpoint).values(root=b"\x02" * 32)
    ),
    "the tree's state changed": lambda s: s.execute(update(LedgerState).values(size=9)),
}


def _written_around(session) -> None:
    """An event inserted into the table, and taken off the queue (on SQLite its trigger
    queues it; dropping the trigger is reported as a changed table)."""
    values = event_values(
        Event(EventType.PROFILE_READ, actor="x"), _now(), session.get_bind().dialect
    )
    seq = session.execute(insert(AuditEvent).values(values).returning(AuditEvent.seq)).scalar()
    session.execute(delete(LedgerPending).where(LedgerPending.seq == seq))


def _now():
    from sayso.shared.clock import utcnow

    return utcnow()


@pytest.mark.parametrize("tampering", sorted(TAMPERING))
def test_tampering_with_the_stored_log_is_detected(app, tampering):
    _append(app, 10)
    integrate(app)
    assert _verify(app).ok
    with app.app_context():
        TAMPERING[tampering](db.session)
        db.session.commit()
    result = _verify(app)
    assert not result.ok, tampering
    assert result.reason


def test_a_checkpoint_signed_by_another_key_is_refused(app):
    _append(app, 5)
    integrate(app)
    impostor = LedgerKey(os.urandom(32), ORIGIN)
    with app.app_context():
        row = db.session.scalars(select(LedgerCheckpoint)).one()
        text_ = row.note.split("\n\n")[0] + "\n"
        row.note = impostor.sign_note(text_)
        db.session.commit()
    result = _verify(app)
    assert not result.ok and "signature" in result.reason
    with app.app_context(), pytest.raises(Broken, match="not signed by this log"):
        read_trusted(impostor.sign_note(text_), app.extensions["sayso_ledger_key"])


# --- an operator holding every key, caught by the witnesses --------------------------------


@pytest.fixture
def witnesses(tmp_path):
    running = [RunningWitness(tmp_path / f"w{n}", f"witness{n}.example") for n in (1, 2)]
    yield running
    for witness in running:
        witness.stop()


def _witnessed(app_factory, *witnesses, signing_key=None):
    app = app_factory(
        WITNESSES=", ".join(w.config for w in witnesses),
        **({"SIGNING_KEY": signing_key} if signing_key else {}),
    )
    for witness in witnesses:
        witness.follow(ORIGIN, app.extensions["sayso_ledger_key"].verifier_key)
    return app


def forge(app, keep=lambda row: True, changes=None) -> None:
    """Rebuild the whole log as its operator could: events removed or changed at will, every
    tile, the state and the checkpoints made anew from them, signed with the log's own key
    (the sequencer, running as usual, does the signing)."""
    with app.app_context():
        session = db.session
        for seq, change in (changes or {}).items():
            rewrite_event(session, seq, **change)
        for row in session.execute(select(AuditEvent.seq, AuditEvent.type)).all():
            if not keep(row):
                session.execute(delete(AuditEvent).where(AuditEvent.seq == row.seq))
        for model in (
            LedgerLeaf,
            LedgerTile,
            LedgerState,
            LedgerCheckpoint,
            LedgerCosignature,
            LedgerPending,
            LedgerWitness,
        ):
            session.execute(delete(model))
        session.execute(
            text("INSERT INTO ledger_pending (seq) SELECT seq FROM audit_events ORDER BY seq")
        )
        session.commit()
    integrate(app)


ATTACKS = {
    "a forged entry": lambda app, first: forge(app, changes={first + 5: {"actor": "forger"}}),
    "a truncated tail": lambda app, first: forge(app, keep=lambda row: row.seq < first + 20),
    "every read deleted, the rest re-hashed and re-signed": lambda app, first: forge(
        app, keep=lambda row: row.type != str(EventType.PROFILE_READ)
    ),
}


@pytest.mark.parametrize("attack", sorted(ATTACKS))
def test_an_operator_holding_every_key_is_caught_against_a_witness(app_factory, witnesses, attack):
    witness = witnesses[0]
    app = _witnessed(app_factory, witness)
    _append(app, 15)
    _append(app, 15, type_=EventType.PROFILE_READ, tag="r")
    integrate(app)  # integrated, signed, and cosigned by the witness
    held = witness.held(ORIGIN)
    assert held.splitlines()[1] == "30"
    assert _verify(app, held, witness_keys=[witness.vkey]).ok
    with app.app_context():
        first = db.session.scalar(select(func.min(AuditEvent.seq)))
    ATTACKS[attack](app, first)
    # The rewritten log is consistent with itself, signed by the real key...
    assert _verify(app).ok
    # ...but not with what the witness holds, and the witness refused to cosign it.
    caught = _verify(app, held, witness_keys=[witness.vkey])
    assert not caught.ok and "checkpoint 0" in caught.reason, caught
    with app.app_context():
        status = db.session.get(LedgerWitness, "witness1.example")
        assert status.last_error and "answered" in status.last_error
        assert not db.session.scalars(select(LedgerCosignature)).all()
    assert witness.held(ORIGIN) == held


def test_a_split_view_is_caught(app_factory, witnesses):
    first_witness, second_witness = witnesses
    app = _witnessed(app_factory, first_witness, second_witness)
    _append(app, 10)
    integrate(app)
    key = app.config["SIGNING_KEY"]
    # One history shown to the first witness only...
    only_first = _witnessed(app_factory, first_witness, signing_key=key)
    _append(only_first, 5, tag="a")
    integrate(only_first)
    seen_by_first = first_witness.held(ORIGIN)
    # ...then rolled back, and another shown to the second only.
    with app.app_context():
        cut = db.session.scalar(select(func.min(AuditEvent.seq))) + 10
    forge(app, keep=lambda row: row.seq < cut)
    only_second = _witnessed(app_factory, second_witness, signing_key=key)
    _append(only_second, 5, tag="b")
    integrate(only_second)
    seen_by_second = second_witness.held(ORIGIN)
    assert seen_by_first.splitlines()[1] == seen_by_second.splitlines()[1] == "15"
    assert seen_by_first.splitlines()[2] != seen_by_second.splitlines()[2]
    # Each witness alone is satisfied; together they prove the split.
    assert _verify(only_second, seen_by_second).ok
    result = _verify(only_second, seen_by_first, seen_by_second)
    assert not result.ok and "another history" in result.reason
    # And the first witness refuses the second history outright.
    integrate(app_factory(WITNESSES=first_witness.config, SIGNING_KEY=key))
    assert first_witness.held(ORIGIN) == seen_by_first


def test_a_witness_that_is_down_is_reported_and_catches_up(app_factory, witnesses, tmp_path):
    witness = witnesses[0]
    app = _witnessed(app_factory, witness)
    _append(app, 3)
    integrate(app)
    assert witness.held(ORIGIN).splitlines()[1] == "3"
    witness.stop()
    _append(app, 3)
    integrate(app)
    with app.app_context():
        status = db.session.get(LedgerWitness, "witness1.example")
        assert status.last_size == 3 and "could not reach" in status.last_error
    # The log went on without it (its checkpoint is signed, just not cosigned).
    assert _verify(app).ok
    witnesses[0] = RunningWitness(tmp_path / "w1", "witness1.example")  # same key and file
    restarted = witnesses[0]
    fixed = _witnessed(app_factory, restarted, signing_key=app.config["SIGNING_KEY"])
    _append(fixed, 1)
    integrate(fixed)
    assert restarted.held(ORIGIN).splitlines()[1] == "7"  # proved from 3 to 7
    with app.app_context():
        assert db.session.get(LedgerWitness, "witness1.example").last_error is None


# --- the sequencer ---------------------------------------------------------------------------


def _sequencer_env(app, database_url: str) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SAYSO_")}
    env.update(
        SAYSO_DATABASE_URL=database_url,
        SAYSO_INSTANCE_PATH=app.instance_path,
        SAYSO_SECRET_KEY=app.config["SECRET_KEY"],
        SAYSO_MASTER_KEY=app.config["MASTER_KEY"],
        SAYSO_SIGNING_KEY=app.config["SIGNING_KEY"],
        SAYSO_LEDGER_CHECKPOINT_SECONDS="0.05",
        SAYSO_LEDGER_BATCH="400",
        SAYSO_LOG_LEVEL="WARNING",
    )
    return env


def _count(app, model) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model))


def test_the_sequencer_survives_kill_9_anywhere_with_nothing_lost_and_no_fork(app, database_url):
    command = [sys.executable, "-c", "from sayso.cli import main; main()", "ledger", "sequence"]
    env = _sequencer_env(app, database_url)
    seen = []  # every checkpoint seen between kills: the final tree must extend them all
    written = 0
    for round_ in range(5):
        with app.app_context():
            insert_events(db.session, 12_000, start=written)
            db.session.commit()
        written += 12_000
        before = _count(app, LedgerLeaf)
        process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        # Killed once it has committed a batch, with more to go: in the next batch's
        # transaction, or signing, at a point that moves from round to round.
        while _count(app, LedgerLeaf) == before and time.monotonic() < deadline:
            time.sleep(0.005)
        time.sleep(0.01 * round_)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
        assert _count(app, LedgerPending) > 0, "killed mid-way"
        with app.app_context():
            note = db.session.scalar(
                select(LedgerCheckpoint.note).order_by(LedgerCheckpoint.size.desc()).limit(1)
            )
        if note:
            seen.append(note)
        assert _verify(app, *seen).ok  # whatever it left is whole
    integrate(app)
    assert (_count(app, LedgerLeaf), _count(app, LedgerPending)) == (written, 0)
    result = _verify(app, *seen)
    assert result.ok and result.size == written and result.trusted_checked == len(seen), result


# --- a hash-chain ledger carries over ------------------------------------------------------


def _chain_events(connection, count: int) -> str:
    """Write ``count`` events as the hash chain did (canonical version 1), at 0008."""
    import hashlib

    prev = "0" * 64
    for seq in range(1, count + 1):
        event = {
            "v": 1,
            "seq": seq,
            "occurred_at": f"2026-11-0{1 + seq % 9}T10:00:00.000000Z",
            "type": "consent:grant:created",
            "actor": "system",
            "subject": f"{seq:032x}",
            "brand": "br_0123456789abcdef",
            "fields": ["interests"],
            "purpose": "p",
            "details": {"n": seq},
        }
        canonical = json.dumps(event, sort_keys=True, separators=(",", ":")).encode()
        digest = hashlib.sha256(bytes.fromhex(prev) + canonical).hexdigest()
        values = {"seq": seq, "canonical": canonical, "prev_hash": prev, "hash": digest}
        if connection.dialect.name == "sqlite":
            connection.execute(
                text(
                    "INSERT INTO audit_events (seq, canonical, prev_hash, hash) "
                    "VALUES (:seq, :canonical, :prev_hash, :hash)"
                ),
                values,
            )
        else:
            connection.execute(
                text(
                    "INSERT INTO audit_events (seq, canonical, prev_hash, hash, occurred_at, "
                    "type, actor, subject, brand, fields, purpose, details) VALUES (:seq, "
                    ":canonical, :prev_hash, :hash, :at, 'consent:grant:created', 'system', "
                    ":subject, 'br_0123456789abcdef', '[\"interests\"]', 'p', :details)"
                ),
                {
                    **values,
                    "at": event["occurred_at"][:-1].replace("T", " "),
                    "subject": event["subject"],
                    "details": json.dumps(event["details"]),
                },
            )
        prev = digest
    return prev


def test_a_hash_chain_ledger_carries_over_into_the_log(app_factory, tmp_path):
    import flask_migrate

    app = app_factory()
    with app.app_context():
        db.drop_all()
        db.session.execute(text("DROP TABLE IF EXISTS alembic_version"))
        db.session.commit()
        flask_migrate.upgrade(revision="0008_webhook_sequence")
        with db.engine.begin() as connection:
            head = _chain_events(connection, 40)
        flask_migrate.upgrade()
    integrate(app)
    result = _verify(app)
    assert result.ok and result.size == 41, result
    with app.app_context():
        anchor = db.session.scalars(
            select(AuditEvent).where(AuditEvent.type == str(EventType.LOG_CARRIED_OVER))
        ).one()
        assert json.loads(anchor.details) == {"events": 40, "head_seq": 40, "head_hash": head}
        places = (
            db.session.execute(select(LedgerLeaf.seq).order_by(LedgerLeaf.leaf_index))
            .scalars()
            .all()
        )
        assert places == [*range(1, 41), anchor.seq]  # the chain first, in order
    _append(app, 2)  # new events follow
    integrate(app)
    assert _verify(app).ok
    with app.app_context():  # a carried-over event changed, and everything rebuilt, is caught
        rewrite_event(db.session, 7, actor="forger")
        db.session.commit()
    forge(app)
    result = _verify(app)
    assert not result.ok and "chain" in result.reason
