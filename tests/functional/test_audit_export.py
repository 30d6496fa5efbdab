"""`sayso audit export` and the standalone offline verifier."""

import hashlib
import json
import subprocess
import sys
import tracemalloc

import pytest
from sqlalchemy import delete, select

from sayso import services
from sayso.extensions import db
from sayso.models import AuditEvent, LedgerCheckpoint
from sayso.offline_verify import load_public_key, verify_lines
from sayso.services.ledger import Event, EventType
from sayso.services.ledger_export import ExportFilter, export_jsonl
from tests.ledger_helpers import bulk_chain


@pytest.fixture
def ledger_app(app_factory):
    app = app_factory(LEDGER_CHECKPOINT_INTERVAL=4)
    with app.app_context():
        ledger = services.ledger()
        for i in range(10):
            ledger.append(
                Event(
                    EventType.CONSENT_GRANTED if i % 2 else EventType.PROFILE_READ,
                    actor="system",
                    brand="br_a" if i % 3 else "br_b",
                    fields=("interests",),
                    details={"n": i},
                )
            )
            db.session.commit()
    return app


def _export(app, *args):
    result = app.test_cli_runner().invoke(args=["audit", "export", *args])
    assert result.exit_code == 0, result.output
    return result.output


def _key(app):
    return load_public_key(json.dumps(app.extensions["sayso_ledger_key"].public_document()))


def test_full_jsonl_export_verifies_offline(ledger_app, tmp_path):
    text = _export(ledger_app, "--format", "jsonl")
    lines = text.splitlines()
    header = json.loads(lines[0])
    assert header["format"] == "sayso-ledger-export/v1" and header["complete"] is True
    kinds = [json.loads(line)["kind"] for line in lines[1:]]
    assert kinds.count("event") == 10 and kinds.count("checkpoint") == 2
    ok, message = verify_lines(lines, _key(ledger_app))
    assert ok, message

    # The same through the standalone command, as an auditor would run it.
    export = tmp_path / "export.jsonl"
    export.write_text(text)
    key = tmp_path / "key.json"
    key.write_text(ledger_app.test_cli_runner().invoke(args=["audit", "public-key"]).output)
    run = subprocess.run(
        [sys.executable, "-m", "sayso.offline_verify", str(export), "--public-key", str(key)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "10 events and 2 signed checkpoints verified" in run.stdout


def _tampered(lines, index, change):
    records = [json.loads(line) for line in lines]
    change(records, index)
    return [json.dumps(r) for r in records]


def _set_actor(records, i):
    records[i]["event"]["actor"] = "forger"


def _edit_details(records, i):
    records[i]["event"]["details"]["n"] = 99


def _add_key(records, i):
    records[i]["event"]["note"] = "inserted"


def _drop(records, i):
    del records[i]


def _swap(records, i):
    records[i], records[i + 1] = records[i + 1], records[i]


def _truncate_events(records, i):
    # Remove the tail (seq 7 to 10) but keep the checkpoint at seq 8 that covers part of it.
    del records[7:11]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (_set_actor, "hash does not match"),
        (_edit_details, "hash does not match"),
        (_add_key, "not a version 1 event"),
        (_drop, "missing"),
        (_swap, "missing"),
        (_truncate_events, "missing"),
    ],
)
def test_tampered_exports_fail_offline(ledger_app, change, message):
    lines = _export(ledger_app).splitlines()
    ok, why = verify_lines(_tampered(lines, 3, change), _key(ledger_app))
    assert not ok
    assert message in why


def test_forged_checkpoint_signature_fails_offline(ledger_app):
    lines = _export(ledger_app).splitlines()
    records = [json.loads(line) for line in lines]
    cp = next(r for r in records if r["kind"] == "checkpoint")
    cp["hash"] = "0" * 64
    ok, why = verify_lines([json.dumps(r) for r in records], _key(ledger_app))
    assert not ok and "bad signature" in why


def test_export_with_a_key_we_do_not_trust_fails(ledger_app):
    from sayso.services.ledger import LedgerKey

    other = load_public_key(json.dumps(LedgerKey(b"\x01" * 32).public_document()))
    ok, why = verify_lines(_export(ledger_app).splitlines(), other)
    assert not ok and "bad signature" in why


def test_filtered_export_and_csv(ledger_app):
    lines = _export(ledger_app, "--brand", "br_b", "--type", "api:profile:read").splitlines()
    events = [
        json.loads(line)["event"] for line in lines[1:] if json.loads(line)["kind"] == "event"
    ]
    assert events and all(e["brand"] == "br_b" and e["type"] == "api:profile:read" for e in events)
    assert json.loads(lines[0])["complete"] is False
    ok, message = verify_lines(lines, _key(ledger_app))
    assert not ok and "--partial" in message  # the auditor, not the file, says it is partial
    ok, message = verify_lines(lines, _key(ledger_app), complete=False)
    assert ok and "partial" in message, message
    csv_text = _export(ledger_app, "--format", "csv", "--since", "2000-01-01")
    rows = csv_text.strip().splitlines()
    assert rows[0].startswith("seq,occurred_at,type") and len(rows) == 11


def _header(complete):
    def change(records, _i):
        records[0]["complete"] = complete

    return change


def _no_header(records, _i):
    del records[0]


def _second_header(records, _i):
    records.insert(5, {**records[0], "complete": False})


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (_header(False), "the export says it is filtered"),
        (_no_header, "seq 6 is missing"),
        (_second_header, "a header may only be the first line"),
    ],
)
def test_an_export_cannot_switch_its_own_checks_off(ledger_app, change, message):
    # seq 6 deleted from the file, then its header edited so that gaps would not count:
    # completeness is the auditor's claim (the default), never the file's.
    records = [json.loads(line) for line in _export(ledger_app).splitlines()]
    del records[6]
    change(records, 0)
    ok, why = verify_lines([json.dumps(r) for r in records], _key(ledger_app))
    assert not ok and message in why, why


def test_a_partial_check_still_links_consecutive_events(ledger_app):
    # An invented seq 6 with a hash of its own over a made-up prev_hash: checked as a
    # filtered export, it is still refused, for seq 5 is right before it.
    records = [json.loads(line) for line in _export(ledger_app).splitlines()]
    forged = records[6]
    forged["event"]["actor"] = "forger"
    forged["prev_hash"] = "ab" * 32
    canonical = json.dumps(
        forged["event"], sort_keys=True, separators=(",", ":"), ensure_ascii=False
    ).encode()
    forged["hash"] = hashlib.sha256(bytes.fromhex(forged["prev_hash"]) + canonical).hexdigest()
    ok, why = verify_lines([json.dumps(r) for r in records], _key(ledger_app), complete=False)
    assert not ok and "seq 6: the chain is broken" in why, why


def test_a_held_checkpoint_line_pins_the_log(ledger_app):
    # What `sayso audit checkpoint` prints is an export's checkpoint line: kept elsewhere
    # and appended to a later export, it verifies, and it finds a tail cut off since.
    result = ledger_app.test_cli_runner().invoke(args=["audit", "checkpoint"])
    assert result.exit_code == 0, result.output
    held = result.output.strip()
    assert json.loads(held)["kind"] == "checkpoint" and json.loads(held)["seq"] == 10
    with ledger_app.app_context():
        services.ledger().append(Event(EventType.PROFILE_READ, actor="system"))
        db.session.commit()
    ok, why = verify_lines([*_export(ledger_app).splitlines(), held], _key(ledger_app))
    assert ok, why
    with ledger_app.app_context():
        db.session.execute(delete(AuditEvent).where(AuditEvent.seq >= 9))
        db.session.execute(delete(LedgerCheckpoint).where(LedgerCheckpoint.seq >= 9))
        db.session.commit()
    ok, why = verify_lines([*_export(ledger_app).splitlines(), held], _key(ledger_app))
    assert not ok and "checkpoint at seq 10: events up to it are missing" in why, why


def test_deleted_row_in_database_shows_in_the_export(ledger_app):
    with ledger_app.app_context():
        db.session.execute(delete(AuditEvent).where(AuditEvent.seq == 5))
        db.session.commit()
    ok, why = verify_lines(_export(ledger_app).splitlines(), _key(ledger_app))
    assert not ok and "seq 5 is missing" in why


def test_export_of_100k_events_runs_in_bounded_memory(app):
    bulk_chain(app, 100_000)
    with app.app_context():
        services.ledger().checkpoint()
        count = 0
        tracemalloc.start()
        for chunk in export_jsonl(services.ledger(), ExportFilter()):
            count += chunk.count("\n")
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        assert count == 1 + 100_000 + 100  # header, events, a checkpoint every 1,000
        # Batches of 5,000 rows: the peak is a few MB whatever the log's length
        # (holding 100k events at once would take well over 50 MB).
        assert peak < 25 * 1024 * 1024, peak
        assert db.session.scalar(select(db.func.count()).select_from(AuditEvent)) == 100_000


def test_forged_row_with_recomputed_hashes_fails_offline(ledger_app):
    """Rewrite an event and re-chain every later one: only the signed checkpoint can tell."""
    import hashlib

    lines = _export(ledger_app).splitlines()
    records = [json.loads(line) for line in lines]
    events = [r for r in records if r["kind"] == "event"]
    events[2]["event"]["actor"] = "forger"  # seq 3, before the checkpoint at seq 4
    prev = events[2]["prev_hash"]
    for record in events[2:]:
        canonical = json.dumps(
            record["event"], sort_keys=True, separators=(",", ":"), ensure_ascii=False
        ).encode()
        record["prev_hash"] = prev
        record["hash"] = hashlib.sha256(bytes.fromhex(prev) + canonical).hexdigest()
        prev = record["hash"]
    ok, why = verify_lines([json.dumps(r) for r in records], _key(ledger_app))
    assert not ok
    assert "checkpoint at seq 4: the events differ from what was signed" in why
