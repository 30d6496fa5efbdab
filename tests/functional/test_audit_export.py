"""`sayso audit export` and the standalone offline verifier, fed real exports (from the CLI)
and tampered copies of them, real consent receipts (over HTTP), and a hash-chain export of
the format that came before the log."""

from __future__ import annotations

import base64
import copy
import hashlib
import json
import subprocess
import sys
import tracemalloc
from datetime import datetime

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import delete, insert

from sayso.extensions import db
from sayso.ledger import Event, EventType, Ledger, LedgerKey
from sayso.ledger.encoding import dumps, entry_leaf_hash
from sayso.ledger.legacy import GENESIS_HASH, chain_hash
from sayso.ledger.tree import root_of
from sayso.models import AuditEvent, LedgerPending
from sayso.offline_verify import load_trusted_key, verify_lines, verify_receipt
from sayso.services.ledger_export import CSV_COLUMNS, ExportFilter, export_jsonl
from sayso.services.receipts import receipt_bytes
from tests.helpers import api_headers, sign_up
from tests.ledger_helpers import insert_events, integrate
from tests.oauth_helpers import connect, make_brand

KINDS = [EventType.CONSENT_GRANTED, EventType.PROFILE_READ]


def _event(i: int) -> Event:
    return Event(
        KINDS[i % 2],
        actor="system",
        subject=f"{i % 4:032x}",
        brand="br_a" if i % 3 else "br_b",
        fields=("interests",),
        details={"n": i},
    )


def append(app, *events: Event) -> None:
    with app.app_context():
        ledger = Ledger(db.session)
        for event in events:
            ledger.append(event)
        db.session.commit()


@pytest.fixture
def ledger_app(app):
    """Ten events, integrated into the tree and signed in a checkpoint of size 10."""
    append(app, *(_event(i) for i in range(10)))
    assert integrate(app) == 10
    return app


def _export(app, *args) -> str:
    result = app.test_cli_runner().invoke(args=["audit", "export", *args])
    assert result.exit_code == 0, result.output
    return result.output


def _key(app):
    return load_trusted_key(json.dumps(app.extensions["sayso_ledger_key"].public_document()))


def _records(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines()]


def _lines(records: list[dict]) -> list[str]:
    return [json.dumps(r, ensure_ascii=False) for r in records]


def _verify(app, records, **options):
    return verify_lines(_lines(records), _key(app), **options)


def _run(*args):
    """The verifier as an auditor runs it: a process of its own."""
    return subprocess.run(
        [sys.executable, "-m", "sayso.offline_verify", *map(str, args)],
        capture_output=True,
        text=True,
        check=False,
    )


def _key_file(app, tmp_path):
    path = tmp_path / "key.json"
    path.write_text(app.test_cli_runner().invoke(args=["audit", "public-key"]).output)
    return path


# A full export -------------------------------------------------------------------------


def test_full_export_rebuilds_the_tree_offline(ledger_app, tmp_path):
    text = _export(ledger_app, "--format", "jsonl")
    records = _records(text)
    header, *entries, checkpoint = records
    key = ledger_app.extensions["sayso_ledger_key"]
    assert header["kind"] == "log" and header["format"] == "sayso-ledger-export/v2"
    assert header["complete"] is True and not any(header["filters"].values())
    assert header["origin"] == key.origin and header["verifier_key"] == key.verifier_key
    assert header["public_key"] == key.public_document()["public_key"]
    assert [e["kind"] for e in entries] == ["entry"] * 10
    assert [e["leaf_index"] for e in entries] == list(range(10))
    assert all("inclusion_proof" not in e for e in entries)
    # The event is the canonical JSON itself: with the salt, it gives back the leaf hash.
    with ledger_app.app_context():
        stored = db.session.get(AuditEvent, entries[3]["seq"])
        assert dumps(entries[3]["event"]).encode() == stored.canonical
        assert bytes.fromhex(entries[3]["salt"]) == stored.salt
    assert checkpoint["kind"] == "checkpoint"
    assert checkpoint["note"].startswith(f"{key.origin}\n10\n")
    ok, message = verify_lines(text.splitlines(), _key(ledger_app))
    assert ok, message
    assert message == (
        "the 10 entries the signed checkpoint covers rebuild its tree; 0 more came after it "
        "(not proven)"
    )

    export = tmp_path / "export.jsonl"
    export.write_text(text)
    run = _run(export, "--public-key", _key_file(ledger_app, tmp_path))
    assert run.returncode == 0, run.stdout + run.stderr
    assert run.stdout.startswith("OK: the 10 entries the signed checkpoint covers rebuild its tree")


def test_entries_past_the_checkpoint_are_exported_but_not_proven(ledger_app):
    append(ledger_app, _event(10), _event(11))
    records = _records(_export(ledger_app))
    assert [r.get("leaf_index") for r in records[-3:-1]] == [None, None]
    ok, message = _verify(ledger_app, records)
    assert ok and "10 entries the signed checkpoint covers" in message
    assert "2 more came after it (not proven)" in message
    # Integrated, but after the newest checkpoint was read: still exported, still unproven.
    integrate(ledger_app)
    records = _records(_export(ledger_app))
    assert records[-1]["note"].split("\n")[1] == "12"


def test_an_export_of_a_log_without_a_checkpoint_proves_nothing(app):
    append(app, _event(0))
    records = _records(_export(app))
    assert records[-1]["kind"] == "entry" and records[-1]["leaf_index"] is None
    ok, why = _verify(app, records)
    assert not ok and "ends without a checkpoint line" in why


def _change_actor(records):
    records[3]["event"]["actor"] = "forger"


def _change_details(records):
    records[3]["event"]["details"]["n"] = 99


def _change_salt(records):
    records[3]["salt"] = "00" * 16


def _add_a_key(records):
    records[3]["event"]["note"] = "inserted"


def _remove_an_entry(records):
    del records[4]


def _insert_an_entry(records):
    # A forged entry at leaf 4, the later ones moved up one place, as a forger would.
    forged = copy.deepcopy(records[5])
    forged["event"]["actor"] = "forger"
    for record in records[5:-1]:
        record["seq"] += 1
        record["leaf_index"] += 1
    records.insert(5, forged)


def _duplicate_an_entry(records):
    copied = copy.deepcopy(records[3])
    copied["seq"] = records[-2]["seq"] + 1
    records.insert(-1, copied)


def _swap_two_places(records):
    records[3]["leaf_index"], records[4]["leaf_index"] = 3, 2


def _reorder_lines(records):
    records[3], records[4] = records[4], records[3]


def _cut_the_tail(records):
    del records[8:11]


def _edit_the_checkpoint(records):
    records[-1]["note"] = records[-1]["note"].replace("\n10\n", "\n9\n")


def _drop_the_checkpoint(records):
    del records[-1]


def _checkpoint_not_last(records):
    records.insert(5, records.pop())


def _second_header(records):
    records.insert(5, records[0])


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (_change_actor, "the entries do not make the tree the checkpoint signs (size 10)"),
        (_change_details, "the entries do not make the tree the checkpoint signs"),
        (_change_salt, "the entries do not make the tree the checkpoint signs"),
        (_add_a_key, "line 4: seq 3 is not a version 1 or 2 event"),
        (_remove_an_entry, "leaf 3 is missing from the export"),
        (_insert_an_entry, "the entries do not make the tree the checkpoint signs"),
        (_duplicate_an_entry, "leaf 2 appears twice in the export"),
        (_swap_two_places, "the entries do not make the tree the checkpoint signs"),
        (_reorder_lines, "line 5: seq 3 is out of order (after seq 4)"),
        (_cut_the_tail, "leaf 7 is missing from the export"),
        (_edit_the_checkpoint, "the checkpoint's signature does not verify"),
        (_drop_the_checkpoint, "ends without a checkpoint line"),
        (_checkpoint_not_last, "ends without a checkpoint line"),
        (_second_header, "line 6: a header may only be the first line"),
    ],
)
def test_a_tampered_full_export_is_refused(ledger_app, change, message):
    records = _records(_export(ledger_app))
    change(records)
    ok, why = _verify(ledger_app, records)
    assert not ok and message in why, why


def _resigned(records, key: LedgerKey, leaves=None):
    """The export's checkpoint signed again by ``key`` over the tree its entries make now
    (or over ``leaves``), as whoever holds ``key`` could."""
    if leaves is None:
        leaves = [
            entry_leaf_hash(bytes.fromhex(r["salt"]), dumps(r["event"]).encode())
            for r in sorted(records[1:-1], key=lambda r: r["leaf_index"])
        ]
    root = base64.b64encode(root_of(leaves)).decode()
    records[-1]["note"] = key.sign_note(f"{key.origin}\n{len(leaves)}\n{root}\n")


def test_a_checkpoint_signed_by_another_key_is_refused(ledger_app, tmp_path):
    records = _records(_export(ledger_app))
    records[3]["event"]["actor"] = "forger"
    origin = ledger_app.extensions["sayso_ledger_key"].origin
    other = LedgerKey(b"\x01" * 32, origin)
    _resigned(records, other)
    ok, why = _verify(ledger_app, records)
    assert not ok and "the checkpoint is not signed by the key you trust" in why, why
    # The header's key changed to match gives it away first.
    records[0]["public_key"] = other.public_document()["public_key"]
    records[0]["verifier_key"] = other.verifier_key
    ok, why = _verify(ledger_app, records)
    assert not ok and "names another public key than the one you trust" in why, why
    export = tmp_path / "forged.jsonl"
    export.write_text("\n".join(_lines(records)) + "\n")
    run = _run(export, "--public-key", _key_file(ledger_app, tmp_path))
    assert run.returncode == 1
    assert run.stdout.startswith("FAILED: the export names another public key")


def test_an_export_checked_with_a_key_we_do_not_trust_fails(ledger_app):
    other = LedgerKey(b"\x02" * 32, "elsewhere.example/ledger")
    trusted = load_trusted_key(json.dumps(other.public_document()))
    ok, why = verify_lines(_export(ledger_app).splitlines(), trusted)
    assert not ok and "another public key than the one you trust" in why


# Filtered exports ----------------------------------------------------------------------


def test_a_filtered_export_proves_each_entry(ledger_app, tmp_path):
    append(ledger_app, _event(12))  # waits for the sequencer: exported without a proof
    text = _export(ledger_app, "--brand", "br_b", "--type", "consent:grant:created")
    header, *entries, checkpoint = _records(text)
    assert header["complete"] is False
    assert header["filters"]["brand"] == "br_b"
    assert [e["event"]["details"]["n"] for e in entries] == [0, 6, 12]
    assert all(len(e["inclusion_proof"]) == 4 for e in entries[:2])  # a tree of 10 leaves
    assert entries[2]["leaf_index"] is None and entries[2]["inclusion_proof"] is None
    assert checkpoint["note"].split("\n")[1] == "10"
    ok, message = verify_lines(text.splitlines(), _key(ledger_app))
    assert not ok and "--partial" in message  # the auditor, not the file, says it is partial
    ok, message = verify_lines(text.splitlines(), _key(ledger_app), complete=False)
    assert ok, message
    assert message.startswith("2 entries proven in the tree of the signed checkpoint (size 10)")
    assert "1 more came after it (not proven)" in message

    export = tmp_path / "filtered.jsonl"
    export.write_text(text)
    key = _key_file(ledger_app, tmp_path)
    assert _run(export, "--public-key", key).returncode == 1
    run = _run(export, "--public-key", key, "--partial")
    assert run.returncode == 0, run.stdout + run.stderr
    assert run.stdout.startswith("OK: 2 entries proven")


def _alter_a_proof(records):
    proof = records[1]["inclusion_proof"]
    proof[1] = base64.b64encode(bytes(32)).decode()


def _shorten_a_proof(records):
    records[1]["inclusion_proof"].pop()


def _drop_a_proof(records):
    records[2]["inclusion_proof"] = None


def _move_an_entry(records):
    records[1]["leaf_index"] += 1


def _claim_completeness(records):
    records[0]["complete"] = True
    records[0]["filters"] = dict.fromkeys(records[0]["filters"])


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (_change_actor, "the inclusion proof of seq"),
        (_alter_a_proof, "line 2: the inclusion proof of seq 2 (leaf 1) does not verify"),
        (_shorten_a_proof, "does not verify against the checkpoint (size 10)"),
        (_drop_a_proof, "line 3: an entry the checkpoint covers needs an inclusion_proof"),
        (_move_an_entry, "the inclusion proof of seq 2 (leaf 2) does not verify"),
        (_duplicate_an_entry, "appears twice in the export"),
        (_claim_completeness, "is missing from the export"),
    ],
)
def test_a_tampered_filtered_export_is_refused(ledger_app, change, message):
    records = _records(_export(ledger_app, "--brand", "br_a"))
    assert len(records) == 8  # header, 6 entries of br_a, checkpoint
    change(records)
    ok, why = _verify(ledger_app, records, complete=False)
    assert not ok and message in why, why


# Checkpoints held outside Sayso --------------------------------------------------------


def _held(app, tmp_path, name="held.checkpoint"):
    """What `sayso audit checkpoint` prints, kept in a file."""
    result = app.test_cli_runner().invoke(args=["audit", "checkpoint"])
    assert result.exit_code == 0, result.output
    path = tmp_path / name
    path.write_text(result.output)
    return path


def test_the_log_extends_a_checkpoint_held_outside(ledger_app, tmp_path):
    held = _held(ledger_app, tmp_path)
    assert held.read_text().split("\n")[:2] == [
        ledger_app.extensions["sayso_ledger_key"].origin,
        "10",
    ]
    append(ledger_app, _event(10), _event(11))
    integrate(ledger_app)
    text = _export(ledger_app)
    ok, message = verify_lines(
        text.splitlines(), _key(ledger_app), trusted_checkpoints=[(held.read_text(), "held")]
    )
    assert ok, message
    assert "the 12 entries the signed checkpoint covers rebuild its tree, which extends 1 " in (
        message
    )
    export = tmp_path / "export.jsonl"
    export.write_text(text)
    key = _key_file(ledger_app, tmp_path)
    run = _run(export, "--public-key", key, "--trusted-checkpoint", held)
    assert run.returncode == 0, run.stdout + run.stderr

    # History rewritten by whoever holds the key: the export is consistent with its own
    # re-signed checkpoint, and only the checkpoint kept elsewhere tells.
    records = _records(text)
    records[3]["event"]["actor"] = "forger"
    _resigned(records, ledger_app.extensions["sayso_ledger_key"])
    ok, why = _verify(ledger_app, records)
    assert ok, why
    ok, why = _verify(ledger_app, records, trusted_checkpoints=[(held.read_text(), "held")])
    assert not ok and "does not extend a trusted checkpoint (size 10)" in why, why
    export.write_text("\n".join(_lines(records)) + "\n")
    run = _run(export, "--public-key", key, "--trusted-checkpoint", held)
    assert run.returncode == 1 and "does not extend a trusted checkpoint" in run.stdout


def test_a_tail_cut_off_since_a_held_checkpoint_is_found(ledger_app, tmp_path):
    held = _held(ledger_app, tmp_path)
    records = _records(_export(ledger_app))
    # The last three entries gone, and a checkpoint of what is left signed with the key.
    del records[8:11]
    _resigned(records, ledger_app.extensions["sayso_ledger_key"])
    assert _verify(ledger_app, records)[0]
    ok, why = _verify(ledger_app, records, trusted_checkpoints=[(held.read_text(), "held")])
    assert not ok and "holds no leaf 7, but a trusted checkpoint covers 10 entries" in why, why


def test_a_held_checkpoint_must_be_signed_by_the_key(ledger_app, tmp_path):
    held = _held(ledger_app, tmp_path).read_text()
    other = LedgerKey(b"\x03" * 32, ledger_app.extensions["sayso_ledger_key"].origin)
    forged = other.sign_note(held.split("\n\n")[0] + "\n")
    ok, why = _verify(
        ledger_app, _records(_export(ledger_app)), trusted_checkpoints=[(forged, "x")]
    )
    assert not ok and "the checkpoint in x is not signed by the key you trust" in why, why


def test_a_filtered_export_against_a_held_checkpoint(ledger_app, tmp_path):
    held = _held(ledger_app, tmp_path).read_text()
    records = _records(_export(ledger_app, "--brand", "br_a"))
    assert _verify(ledger_app, records, complete=False, trusted_checkpoints=[(held, "held")])[0]
    append(ledger_app, _event(10))
    integrate(ledger_app)
    records = _records(_export(ledger_app, "--brand", "br_a"))
    ok, why = _verify(ledger_app, records, complete=False, trusted_checkpoints=[(held, "held")])
    assert not ok and "of its own size (11, not 10): verify an unfiltered export" in why, why


# Consent receipts ----------------------------------------------------------------------


@pytest.fixture
def receipts(app, client, runner):
    """A consumer's receipts, over HTTP, after a grant and a revoke were integrated."""
    brand = make_brand(runner)
    sign_up(client, "ada@example.org")
    client.put(
        "/api/v1/me/disclosures",
        json={"interests": [{"text": "crime fiction"}]},
        headers=api_headers(client),
    )
    connect(client, brand, ["interests"])
    client.delete(f"/api/v1/me/grants/{brand['brand_id']}", headers=api_headers(client))
    integrate(app)
    found = client.get("/api/v1/me/receipts").get_json()
    assert [r["event"]["type"] for r in found] == ["given", "withdrawn"]
    return found


def test_receipts_verify_offline_with_their_inclusion_proofs(app, receipts, tmp_path):
    for receipt in receipts:
        ok, message = verify_receipt(receipt, _key(app))
        assert ok, message
        assert message.startswith(f"leaf {receipt['ledger']['leaf_index']} is in the tree")
    path = tmp_path / "receipts.json"
    path.write_text(json.dumps(receipts))
    export = tmp_path / "export.jsonl"
    export.write_text(_export(app))
    run = _run(export, "--public-key", _key_file(app, tmp_path), "--receipt", path)
    assert run.returncode == 0, run.stdout + run.stderr
    lines = run.stdout.splitlines()
    assert len(lines) == 3 and all(line.startswith("OK: ") for line in lines)
    assert "the export's entry at leaf" in lines[1] and "is its event" in lines[1]


def _forge(app, receipt, change):
    """``receipt`` changed, and signed again with the log's key, as only Sayso could."""
    forged = copy.deepcopy(receipt)
    change(forged)
    forged.pop("signature")
    key = app.extensions["sayso_ledger_key"]
    value = key.sign(receipt_bytes(forged))
    return {**forged, "signature": {"alg": "Ed25519", "key_id": key.key_id, "value": value}}


def test_tampered_receipts_are_refused(app, receipts, tmp_path):
    receipt = receipts[0]
    changed = copy.deepcopy(receipt)
    changed["data_categories"] = ["channels"]
    ok, why = verify_receipt(changed, _key(app))
    assert not ok and "the receipt's signature does not verify" in why

    def bad_proof(r):
        r["ledger"]["inclusion_proof"][0] = base64.b64encode(bytes(32)).decode()

    ok, why = verify_receipt(_forge(app, receipt, bad_proof), _key(app))
    assert not ok and "inclusion proof of leaf" in why and "does not verify" in why, why

    def other_leaf(r):
        r["ledger"]["leaf_hash"] = r["record_id"] = "ab" * 32

    ok, why = verify_receipt(_forge(app, receipt, other_leaf), _key(app))
    assert not ok and "does not verify against its checkpoint" in why, why

    other = LedgerKey(b"\x04" * 32, app.extensions["sayso_ledger_key"].origin)

    def other_checkpoint(r):
        text = r["ledger"]["checkpoint"].split("\n\n")[0] + "\n"
        r["ledger"]["checkpoint"] = other.sign_note(text)

    ok, why = verify_receipt(_forge(app, receipt, other_checkpoint), _key(app))
    assert not ok and "the receipt's checkpoint is not signed by the key you trust" in why, why

    # Signed and proven, but saying something other than the event at its leaf.
    def other_fields(r):
        r["data_categories"] = ["channels"]

    forged = _forge(app, receipt, other_fields)
    assert verify_receipt(forged, _key(app))[0]
    ok, why = verify_receipt(forged, _key(app), export_lines=_export(app).splitlines())
    assert not ok and "is not the receipt's event" in why, why

    path = tmp_path / "receipt.json"
    path.write_text(json.dumps(changed))
    run = _run("--public-key", _key_file(app, tmp_path), "--receipt", path)
    assert run.returncode == 1
    assert "FAILED: receipt for seq" in run.stdout and "signature does not verify" in run.stdout


def test_a_receipt_without_a_proof_yet_is_not_taken_as_proven(app, client, runner):
    brand = make_brand(runner)
    sign_up(client, "ada@example.org")
    connect(client, brand, ["interests"])
    (receipt,) = client.get("/api/v1/me/receipts").get_json()
    assert receipt["ledger"]["inclusion_proof"] is None
    ok, why = verify_receipt(receipt, _key(app))
    assert not ok and "carries no inclusion proof" in why


# The carried-over hash chain -----------------------------------------------------------


def _carried_over_log(app, count: int = 3) -> None:
    """A log as migration 0009 leaves it: ``count`` hash-chain events (canonical version 1,
    with their chain columns), the carried-over entry naming the chain's head, both queued,
    then integrated."""
    with app.app_context():
        connection = db.session.connection()
        postgresql = connection.dialect.name == "postgresql"
        prev, rows = GENESIS_HASH, []
        for seq in range(1, count + 1):
            event = {
                "v": 1,
                "seq": seq,
                "occurred_at": f"2026-01-01T00:00:0{seq}.000000Z",
                "type": "api:profile:read",
                "actor": "system",
                "subject": None,
                "brand": "br_old",
                "fields": ["interests"],
                "purpose": None,
                "details": {},
            }
            rows.append((event, prev))
            prev = chain_hash(prev, dumps(event).encode())
        anchor = {
            "v": 2,
            "occurred_at": "2026-01-02T00:00:00.000000Z",
            "type": "ledger:log:carried_over",
            "actor": "system",
            "subject": None,
            "brand": None,
            "fields": [],
            "purpose": None,
            "details": {"events": count, "head_seq": count, "head_hash": prev},
        }
        rows.append((anchor, None))
        for seq, (event, prev_hash) in enumerate(rows, 1):
            canonical = dumps(event).encode()
            values = {"seq": seq, "canonical": canonical, "salt": bytes([seq]) * 16}
            if prev_hash is not None:
                values.update(prev_hash=prev_hash, hash=chain_hash(prev_hash, canonical))
            if postgresql:
                values.update(
                    {
                        name: event[name]
                        for name in ("type", "actor", "subject", "brand", "purpose")
                    },
                    occurred_at=datetime.fromisoformat(event["occurred_at"]),
                    fields=dumps(event["fields"]),
                    details=dumps(event["details"]),
                )
            connection.execute(insert(AuditEvent.__table__), values)
            if postgresql:  # SQLite's trigger queues it
                connection.execute(insert(LedgerPending.__table__), {"seq": seq})
        if postgresql:  # the identity continues after the rows given their seq here
            connection.exec_driver_sql(
                "SELECT setval(pg_get_serial_sequence('audit_events', 'seq'), 100)"
            )
        db.session.commit()
    integrate(app)


def test_a_log_carried_over_from_the_chain_verifies_up_to_its_head(app):
    _carried_over_log(app)
    append(app, _event(0))
    integrate(app)
    records = _records(_export(app))
    assert [r["event"]["v"] for r in records[1:-1]] == [1, 1, 1, 2, 2]
    ok, message = _verify(app, records)
    assert ok, message
    head = records[4]["event"]["details"]["head_hash"]
    assert f"the 3 events carried over from the hash chain end in {head}" in message

    # A chain event rewritten, and the tree signed again by whoever holds the key: the
    # chain's head, which old checkpoints held elsewhere name, no longer matches.
    records[2]["event"]["actor"] = "forger"
    _resigned(records, app.extensions["sayso_ledger_key"])
    ok, why = _verify(app, records)
    assert not ok and "the carried-over entry names 3 chain events ending in" in why, why


# CSV, and a long log -------------------------------------------------------------------


def test_csv_export_has_each_event_with_its_place_and_leaf_hash(ledger_app):
    append(ledger_app, _event(10))
    csv_text = _export(ledger_app, "--format", "csv", "--since", "2000-01-01")
    rows = [line.split(",") for line in csv_text.strip().splitlines()]
    assert rows[0] == CSV_COLUMNS
    assert CSV_COLUMNS[:2] == ["seq", "leaf_index"] and CSV_COLUMNS[-1] == "leaf_hash"
    assert len(rows) == 12
    assert rows[1][1] == "0" and rows[11][1] == ""  # the last one waits for the sequencer
    with ledger_app.app_context():
        first = db.session.get(AuditEvent, 1)
        assert rows[1][-1] == entry_leaf_hash(first.salt, first.canonical).hex()


def test_export_of_100k_events_runs_in_bounded_memory(app):
    with app.app_context():
        insert_events(db.session, 100_000)
        db.session.commit()
    integrate(app)
    with app.app_context():
        key = app.extensions["sayso_ledger_key"]
        lines = 0
        tracemalloc.start()
        for chunk in export_jsonl(Ledger(db.session), ExportFilter(), key):
            lines += chunk.count("\n")
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        assert lines == 1 + 100_000 + 1  # header, entries, the checkpoint
        # Batches of 5,000 rows: the peak is a few MB whatever the log's length
        # (holding 100k entries at once would take well over 50 MB).
        assert peak < 25 * 1024 * 1024, peak
        text = "".join(export_jsonl(Ledger(db.session), ExportFilter(brand=f"br_{3:016x}"), key))
    ok, message = verify_lines(text.splitlines(), _key(app), complete=False)
    assert ok and message.startswith("14286 entries proven"), message


def test_an_event_deleted_from_the_database_shows_in_the_export(ledger_app):
    with ledger_app.app_context():
        db.session.execute(delete(AuditEvent).where(AuditEvent.seq == 5))
        db.session.commit()
    ok, why = _verify(ledger_app, _records(_export(ledger_app)))
    assert not ok and "leaf 4 is missing from the export" in why


# Exports from before the log (sayso-ledger-export/v1) ----------------------------------


def _v1_export(private: Ed25519PrivateKey, count: int = 6, every: int = 4) -> list[dict]:
    """A hash-chain export as Sayso wrote them before the log, made here from its spec."""
    public = private.public_key().public_bytes_raw()
    key_id = hashlib.sha256(public).hexdigest()[:32]

    def sign(message: dict) -> str:
        raw = private.sign(dumps(message).encode())
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    records = [{"kind": "header", "format": "sayso-ledger-export/v1", "complete": True}]
    prev = GENESIS_HASH
    for seq in range(1, count + 1):
        event = {
            "v": 1, "seq": seq, "occurred_at": f"2026-01-01T00:00:0{seq}.000000Z",
            "type": "api:profile:read", "actor": "system", "subject": None, "brand": "br_a",
            "fields": ["interests"], "purpose": None, "details": {},
        }  # fmt: skip
        digest = chain_hash(prev, dumps(event).encode())
        records.append({"kind": "event", "event": event, "prev_hash": prev, "hash": digest})
        prev = digest
        if seq % every == 0:
            signed = {"seq": seq, "hash": digest, "signed_at": "2026-01-01T00:01:00.000000Z"}
            message = {**signed, "key_id": key_id, "type": "sayso.ledger.checkpoint", "v": 1}
            signature = sign(message)
            records.append(
                {"kind": "checkpoint", **signed, "key_id": key_id, "signature": signature}
            )
    return records


def test_an_export_of_the_hash_chain_still_verifies(tmp_path):
    private = Ed25519PrivateKey.from_private_bytes(b"\x05" * 32)
    trusted = load_trusted_key(
        base64.urlsafe_b64encode(private.public_key().public_bytes_raw()).decode()
    )
    records = _v1_export(private)
    ok, message = verify_lines(_lines(records), trusted)
    assert ok, message
    assert message == "6 events and 1 signed checkpoints verified (the whole chain from seq 1)"
    export = tmp_path / "old.jsonl"
    export.write_text("\n".join(_lines(records)) + "\n")
    key = tmp_path / "key.txt"
    key.write_text(base64.urlsafe_b64encode(private.public_key().public_bytes_raw()).decode())
    run = _run(export, "--public-key", key)
    assert run.returncode == 0 and run.stdout.startswith("OK: 6 events"), run.stdout

    records[2]["event"]["actor"] = "forger"
    ok, why = verify_lines(_lines(records), trusted)
    assert not ok and "seq 2: the hash does not match" in why
    records = _v1_export(private)
    del records[3]
    ok, why = verify_lines(_lines(records), trusted)
    assert not ok and "seq 3 is missing" in why


# The verifier's tree math, against the server's, on every small shape -----------------


def test_the_verifiers_tree_math_agrees_with_the_logs_on_every_small_tree():
    # The two are written separately (the verifier from RFC 9162's text): every leaf of
    # every tree up to 70 leaves; a proof one hash short, for its neighbour's hash, or of a
    # leaf outside the tree, fails.
    from sayso import offline_verify
    from sayso.ledger.tree import inclusion_proof, leaf_hash

    class Leaves:
        def __init__(self, hashes):
            self.hashes = hashes

        def node(self, height, index):
            return root_of(self.hashes[index << height : (index + 1) << height])

    for size in range(1, 71):
        hashes = [leaf_hash(f"entry {i}".encode()) for i in range(size)]
        rebuilt = offline_verify._Tree()
        for h in hashes:
            rebuilt.append(h)
        root = root_of(hashes)
        assert rebuilt.root() == root, size
        for index in range(size):
            proof = inclusion_proof(Leaves(hashes), index, size)
            verify = offline_verify.verify_inclusion
            assert verify(hashes[index], index, size, proof, root), (index, size)
            assert not verify(hashes[index], size, size, proof, root)
            if size > 1:
                assert not verify(hashes[index - 1], index, size, proof, root)
                assert not verify(hashes[index], index, size, proof[:-1], root)
