"""The witness (sayso.witness) as a real HTTP server: c2sp.org/tlog-witness's add-checkpoint
and its refusals, the checkpoint it serves to monitors, its state across a restart, and the
``witness`` commands that set it up. Logs are built with sayso.ledger.tree and signed with
sayso.ledger.notes."""

from __future__ import annotations

import base64
import hashlib
import os
import sqlite3
import stat
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import quote

import pytest
import requests
from click.testing import CliRunner
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from werkzeug.serving import make_server

from sayso.ledger.notes import (
    Checkpoint,
    Cosigner,
    NoteSigner,
    NoteVerifier,
    open_note,
    verify_cosignature,
)
from sayso.ledger.tree import (
    EMPTY_ROOT,
    consistency_proof,
    leaf_hash,
    node_hash,
    subtree_hash,
)
from sayso.witness import create_witness_app
from sayso.witness.cli import witness as witness_cli
from sayso.witness.store import WitnessStore

ORIGIN = "sayso.example/ledger"
WITNESS_NAME = "witness.example/w1"


class MemoryLog:
    """A log in memory: leaf hashes, a NodeSource over them, and a key signing checkpoints."""

    def __init__(self, key: Ed25519PrivateKey, origin: str = ORIGIN, entries: int = 0):
        self.origin = origin
        self.key = key
        self.signer = NoteSigner(origin, key)
        self.leaves: list[bytes] = []
        self.grow(entries)

    def grow(self, count: int, tag: str = "event") -> MemoryLog:
        start = len(self.leaves)
        self.leaves += [leaf_hash(f"{tag} {i}".encode()) for i in range(start, start + count)]
        return self

    def fork(self, at: int) -> MemoryLog:
        """The same log (same key) with entry ``at`` rewritten: what a split view shows."""
        other = MemoryLog(self.key, self.origin)
        other.leaves = list(self.leaves)
        other.leaves[at] = leaf_hash(b"rewritten")
        return other

    def node(self, height: int, index: int) -> bytes:
        hashes = self.leaves[index << height : (index + 1) << height]
        assert len(hashes) == 1 << height, "asked for a subtree the log does not have"
        while len(hashes) > 1:
            hashes = [node_hash(a, b) for a, b in zip(hashes[::2], hashes[1::2], strict=True)]
        return hashes[0]

    def root(self, size: int) -> bytes:
        return subtree_hash(self, 0, size) if size else EMPTY_ROOT

    def text(self, size: int | None = None) -> str:
        size = len(self.leaves) if size is None else size
        return Checkpoint(self.origin, size, self.root(size)).body()

    def note(self, size: int | None = None) -> str:
        return self.signer.sign(self.text(size))

    def body(self, old: int, size: int | None = None, proof=None, note=None) -> bytes:
        size = len(self.leaves) if size is None else size
        proof = consistency_proof(self, old, size) if proof is None else proof
        lines = [f"old {old}", *(base64.b64encode(p).decode() for p in proof)]
        note = self.note(size) if note is None else note
        return ("\n".join(lines) + "\n\n" + note).encode()


class WitnessServer:
    """The witness app behind werkzeug's real HTTP server, on a free loopback port."""

    def __init__(self, files: dict):
        self.files = files
        self.app = create_witness_app(files["config"])
        self.server = make_server("127.0.0.1", 0, self.app, threaded=True)
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.session = requests.Session()

    def add(self, body: bytes) -> requests.Response:
        return self.session.post(f"{self.url}/add-checkpoint", data=body, timeout=10)

    def checkpoint(self, origin: str = ORIGIN) -> requests.Response:
        return self.session.get(f"{self.url}/checkpoints/{quote(origin, safe='')}", timeout=10)

    def stop(self) -> None:
        self.session.close()
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()


@pytest.fixture
def log_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


@pytest.fixture
def files(tmp_path, log_key) -> dict:
    """A witness set up with the CLI: its key and database, following ORIGIN."""
    database, key_file = tmp_path / "witness.sqlite3", tmp_path / "witness.key"
    runner = CliRunner()
    made = runner.invoke(
        witness_cli, ["init", "--db", str(database), "--key", str(key_file), "--name", WITNESS_NAME]
    )
    assert made.exit_code == 0, made.output
    vkey = made.output.strip()
    log_vkey = NoteSigner(ORIGIN, log_key).verifier_key()
    added = runner.invoke(witness_cli, ["add-log", "--db", str(database), ORIGIN, log_vkey])
    assert added.exit_code == 0, added.output
    config = {
        "WITNESS_DATABASE": str(database),
        "WITNESS_KEY_FILE": str(key_file),
        "WITNESS_NAME": WITNESS_NAME,
    }
    return {"database": database, "key": key_file, "vkey": vkey, "config": config}


@pytest.fixture
def witness(files):
    server = WitnessServer(files)
    yield server
    server.stop()


def _cosigned(response: requests.Response, files: dict, text: str) -> int:
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"] == "text/plain; charset=utf-8"
    lines = response.text.splitlines(keepends=True)
    assert len(lines) == 1 and lines[0].startswith("— " + WITNESS_NAME + " ")
    timestamp = verify_cosignature(files["vkey"], text, lines[0])
    assert timestamp is not None
    return timestamp


def _conflict(response: requests.Response, size: int) -> None:
    assert response.status_code == 409, response.text
    assert response.headers["Content-Type"] == "text/x.tlog.size"
    assert response.text == f"{size}\n"


# --- cosigning ---------------------------------------------------------------------------------


def test_first_checkpoint_is_cosigned(witness, files, log_key):
    log = MemoryLog(log_key, entries=5)
    timestamp = _cosigned(witness.add(log.body(0)), files, log.text())
    assert abs(timestamp - time.time()) < 60


def test_the_log_grows_with_consistency_proofs(witness, files, log_key):
    log = MemoryLog(log_key, entries=5)
    _cosigned(witness.add(log.body(0)), files, log.text())
    for grow in (7, 1, 256, 300):
        old = len(log.leaves)
        log.grow(grow)
        _cosigned(witness.add(log.body(old)), files, log.text())
    # The same checkpoint again (old size = its size, same root, no proof) is cosigned anew.
    size = len(log.leaves)
    _cosigned(witness.add(log.body(size)), files, log.text())


def test_an_empty_checkpoint_then_growth(witness, files, log_key):
    log = MemoryLog(log_key)
    _cosigned(witness.add(log.body(0)), files, log.text())
    log.grow(3)
    _cosigned(witness.add(log.body(0)), files, log.text())


def test_monitors_fetch_the_last_cosigned_checkpoint(witness, files, log_key):
    log = MemoryLog(log_key, entries=12)
    assert witness.checkpoint().status_code == 404  # followed, never cosigned
    stranger = Ed25519PrivateKey.generate()
    note = log.note() + NoteSigner("someone.else", stranger).signature_line(log.text())
    cosignature = witness.add(log.body(0, note=note)).text

    response = witness.checkpoint()
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/plain; charset=utf-8"
    # The checkpoint, the log signature the witness checked, its cosignature; not the stranger's.
    assert response.text == log.note() + cosignature
    opened = open_note(
        response.text, [log.signer.verifier(), NoteVerifier.from_vkey(files["vkey"])]
    )
    assert Checkpoint.parse(opened.text).size == 12
    assert len(opened.verified) == 2 and not opened.unknown

    hashed = hashlib.sha256(ORIGIN.encode()).hexdigest()
    by_hash = witness.session.get(f"{witness.url}/{hashed}/checkpoint", timeout=10)
    assert by_hash.status_code == 200 and by_hash.text == response.text
    unencoded = witness.session.get(f"{witness.url}/checkpoints/{ORIGIN}", timeout=10)
    assert unencoded.text == response.text


@pytest.mark.parametrize(
    "path",
    [
        "/checkpoints/unknown.example%2Flog",
        "/" + hashlib.sha256(b"unknown.example/log").hexdigest() + "/checkpoint",
        "/" + hashlib.sha256(ORIGIN.encode()).hexdigest().upper() + "/checkpoint",
        "/not-a-hash/checkpoint",
        "/checkpoints/",
    ],
)
def test_monitoring_paths_of_unknown_logs(witness, path):
    response = witness.session.get(witness.url + path, timeout=10)
    assert response.status_code == 404
    assert response.headers["Content-Type"] == "text/plain; charset=utf-8"


# --- refusals ----------------------------------------------------------------------------------


def test_a_stale_old_size_gets_409_with_the_witness_size(witness, log_key):
    log = MemoryLog(log_key, entries=5)
    assert witness.add(log.body(0)).status_code == 200
    log.grow(7)
    _conflict(witness.add(log.body(3)), 5)
    _conflict(witness.add(log.body(0)), 5)  # how a client without state learns the size
    _conflict(witness.add(log.body(8)), 5)


def test_a_rollback_is_refused(witness, log_key):
    log = MemoryLog(log_key, entries=12)
    assert witness.add(log.body(0)).status_code == 200
    assert witness.add(log.body(12, size=5, proof=[])).status_code == 400  # old > size
    _conflict(witness.add(log.body(5, size=5)), 12)
    assert witness.checkpoint().text.startswith(log.text())


def test_a_fork_at_the_same_size_is_refused_and_kept(witness, files, log_key):
    log = MemoryLog(log_key, entries=12)
    assert witness.add(log.body(0)).status_code == 200
    forked = log.fork(11)
    refused = witness.add(forked.body(12))
    assert refused.status_code == 422
    assert "root" in refused.text
    assert witness.checkpoint().text.startswith(log.text())
    kept = WitnessStore(files["database"]).refusals(ORIGIN)
    assert [request for _, _, request in kept] == [forked.body(12).decode()]


def test_a_bigger_tree_that_does_not_extend_is_refused(witness, log_key):
    log = MemoryLog(log_key, entries=12)
    assert witness.add(log.body(0)).status_code == 200
    forked = log.fork(3).grow(8)
    # The forked log's own proof from 12 to 20: it verifies for the fork, not for the witness.
    assert witness.add(forked.body(12)).status_code == 422
    assert witness.checkpoint().text.startswith(log.text())
    # The honest log still goes on.
    log.grow(8)
    assert witness.add(log.body(12)).status_code == 200


def test_a_proof_that_does_not_verify_is_refused(witness, log_key):
    log = MemoryLog(log_key, entries=12)
    assert witness.add(log.body(0)).status_code == 200
    log.grow(9)
    proof = consistency_proof(log, 12, 21)
    for i in range(len(proof)):
        tampered = list(proof)
        tampered[i] = bytes([tampered[i][0] ^ 1]) + tampered[i][1:]
        assert witness.add(log.body(12, proof=tampered)).status_code == 422
    assert witness.add(log.body(12, proof=proof[:-1])).status_code == 422
    assert witness.add(log.body(12, proof=[])).status_code == 422
    assert witness.add(log.body(12)).status_code == 200


def test_proof_rules_for_old_size_zero_and_empty_trees(witness, log_key):
    log = MemoryLog(log_key, entries=4)
    some = hashlib.sha256(b"x").digest()
    assert witness.add(log.body(0, proof=[some])).status_code == 422
    empty_with_a_root = Checkpoint(ORIGIN, 0, some).body()
    note = log.signer.sign(empty_with_a_root)
    assert witness.add(log.body(0, size=0, note=note)).status_code == 422
    assert witness.add(log.body(0)).status_code == 200


def test_signatures_other_than_the_log_key_are_refused(witness, log_key):
    log = MemoryLog(log_key, entries=5)
    impostor = MemoryLog(Ed25519PrivateKey.generate(), entries=5)  # same name, other key
    assert witness.add(impostor.body(0)).status_code == 403
    good = log.note()
    broken = good[:-10] + ("A" if good[-10] != "A" else "B") + good[-9:]
    assert witness.add(log.body(0, note=broken)).status_code == 403
    # A known key's failing signature condemns the note even beside a good one.
    bad_line = broken[len(log.text()) + 1 :]
    assert witness.add(log.body(0, note=good + bad_line)).status_code == 403
    unsigned_by_log = NoteSigner("someone.else", log_key).sign(log.text())
    assert witness.add(log.body(0, note=unsigned_by_log)).status_code == 403
    assert witness.add(log.body(0)).status_code == 200


def test_an_unknown_origin_is_404(witness, log_key):
    other = MemoryLog(log_key, origin="other.example/log", entries=3)
    response = witness.add(other.body(0))
    assert response.status_code == 404
    assert response.headers["Content-Type"] == "text/plain; charset=utf-8"


def _bodies(log: MemoryLog) -> list[bytes]:
    note, text = log.note(), log.text()
    hash_line = base64.b64encode(b"\x01" * 32).decode()
    return [
        b"",
        b"\n",
        b"old 0",
        b"old 0\n",
        ("old 0\n" + note).encode(),  # no empty line
        ("old\n\n" + note).encode(),
        ("old 01\n\n" + note).encode(),
        ("old -1\n\n" + note).encode(),
        ("old  0\n\n" + note).encode(),
        ("Old 0\n\n" + note).encode(),
        ("new 0\n\n" + note).encode(),
        ("old 0 \n\n" + note).encode(),
        ("old \u0660\n\n" + note).encode(),
        ("old 0\r\n\r\n" + note).encode(),
        ("old 0\nnot base64!\n\n" + note).encode(),
        ("old 0\n" + base64.b64encode(b"\x01" * 31).decode() + "\n\n" + note).encode(),
        ("old 0\n" + "\n".join([hash_line] * 64) + "\n\n" + note).encode(),
        b"old 0\n\n" + b"\xff\xfe" + note.encode(),
        ("old 0\n\n" + text).encode(),  # a checkpoint without signatures
        ("old 0\n\n" + text + "\n").encode(),
        ("old 0\n\n" + note[:-1]).encode(),
        ("old 0\n\n" + log.signer.sign("not\na checkpoint\n")).encode(),
        ("old 0\n\n" + log.signer.sign(f"{ORIGIN}\n05\n{text.split(chr(10))[2]}\n")).encode(),
        ("old 0\n\n\x00" + note).encode(),
        ("old 0\n\n" + note.replace("— ", "-- ")).encode(),
        ("old 9\n\n" + note).encode(),  # old size above the checkpoint's
    ]


def test_malformed_requests_are_400_never_500(witness, log_key):
    log = MemoryLog(log_key, entries=5)
    for body in _bodies(log):
        response = witness.add(body)
        assert response.status_code == 400, (body, response.status_code, response.text)
        assert response.headers["Content-Type"] == "text/plain; charset=utf-8"
        assert response.text.strip()
    assert witness.checkpoint().status_code == 404
    assert witness.add(log.body(0)).status_code == 200


def test_other_requests_are_4xx(witness, log_key):
    too_big = b"old 0\n\n" + b"x" * (128 * 1024)
    assert witness.add(too_big).status_code == 413
    get = witness.session.get(f"{witness.url}/add-checkpoint", timeout=10)
    assert get.status_code == 405 and get.headers["Content-Type"].startswith("text/plain")
    assert witness.session.get(f"{witness.url}/nothing/here", timeout=10).status_code == 404
    put = witness.session.put(f"{witness.url}/add-checkpoint", data=b"old 0\n\n", timeout=10)
    assert put.status_code == 405


# --- atomicity and persistence -------------------------------------------------------------------


def test_concurrent_requests_from_one_old_size_let_one_win(witness, log_key):
    log = MemoryLog(log_key, entries=10)
    assert witness.add(log.body(0)).status_code == 200
    log.grow(40)
    bodies = [log.body(10, size=size) for size in range(20, 50, 4)]
    with ThreadPoolExecutor(len(bodies)) as pool:
        answers = list(
            pool.map(
                lambda body: requests.post(f"{witness.url}/add-checkpoint", data=body, timeout=10),
                bodies,
            )
        )
    statuses = sorted(answer.status_code for answer in answers)
    assert statuses == [200] + [409] * (len(bodies) - 1), statuses
    winner = Checkpoint.parse(open_note(witness.checkpoint().text, [log.signer.verifier()]).text)
    assert {a.text for a in answers if a.status_code == 409} == {f"{winner.size}\n"}


class RacingStore(WitnessStore):
    """The witness's store, holding the first two reads of a log until both are done: two
    requests then check against the same state before either stores its checkpoint."""

    def __init__(self, path):
        super().__init__(path)
        self.barrier = threading.Barrier(2)
        self.held = 0
        self.lock = threading.Lock()

    def log(self, origin):
        state = super().log(origin)
        with self.lock:
            hold, self.held = self.held < 2, self.held + 1
        if hold:
            self.barrier.wait(timeout=10)
        return state


def test_two_requests_checked_against_the_same_state_cannot_both_win(witness, files, log_key):
    log = MemoryLog(log_key, entries=10)
    assert witness.add(log.body(0)).status_code == 200
    witness.app.extensions["sayso_witness"].store = RacingStore(files["database"])
    log.grow(20)
    bodies = [log.body(10, size=20), log.body(10, size=30)]
    with ThreadPoolExecutor(2) as pool:
        answers = list(
            pool.map(
                lambda body: requests.post(f"{witness.url}/add-checkpoint", data=body, timeout=20),
                bodies,
            )
        )
    assert sorted(a.status_code for a in answers) == [200, 409]
    won = next(size for size, a in zip((20, 30), answers, strict=True) if a.status_code == 200)
    lost = next(a for a in answers if a.status_code == 409)
    _conflict(lost, won)
    assert witness.checkpoint().text.startswith(log.text(won))


def test_the_store_advances_only_from_the_state_checked(files):
    store = WitnessStore(files["database"])
    first = {"size": 5, "root_hash": b"\x05" * 32, "note": "five", "now": 1}
    second = {"size": 3, "root_hash": b"\x03" * 32, "note": "three", "now": 2}
    assert store.advance(ORIGIN, old_size=0, old_root=None, **first)
    assert not store.advance(ORIGIN, old_size=0, old_root=None, **second)
    assert not store.advance(ORIGIN, old_size=5, old_root=b"\x00" * 32, **second)
    state = store.log(ORIGIN)
    assert (state.size, state.root_hash, state.note) == (5, b"\x05" * 32, "five")


def test_state_survives_a_restart(files, log_key):
    log = MemoryLog(log_key, entries=12)
    first = WitnessServer(files)
    try:
        assert first.add(log.body(0)).status_code == 200
        served = first.checkpoint().text
    finally:
        first.stop()

    second = WitnessServer(files)
    try:
        assert second.checkpoint().text == served
        _conflict(second.add(log.body(0)), 12)
        assert second.add(log.fork(2).body(12)).status_code == 422
        log.grow(4)
        _cosigned(second.add(log.body(12)), files, log.text())
    finally:
        second.stop()


# --- the commands --------------------------------------------------------------------------------


def test_init_makes_a_private_key_and_is_idempotent(files):
    key = Path(files["key"])
    assert len(key.read_bytes()) == 32
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    verifier = NoteVerifier.from_vkey(files["vkey"])
    assert verifier.name == WITNESS_NAME and verifier.signature_type == 0x04
    args = ["init", "--db", str(files["database"]), "--key", str(key), "--name", WITNESS_NAME]
    again = CliRunner().invoke(witness_cli, args)
    assert again.exit_code == 0 and again.output.strip() == files["vkey"]
    expected = Cosigner(WITNESS_NAME, Ed25519PrivateKey.from_private_bytes(key.read_bytes()))
    assert expected.verifier_key() == files["vkey"]


def test_a_database_is_bound_to_its_witness(files, tmp_path):
    renamed = ["init", "--db", str(files["database"]), "--key", str(files["key"]), "--name", "w2"]
    refused = CliRunner().invoke(witness_cli, renamed)
    assert refused.exit_code != 0 and "belongs to the witness" in refused.output
    with pytest.raises(Exception, match="belongs to the witness"):
        create_witness_app({**files["config"], "WITNESS_NAME": "w2"})
    other_key = tmp_path / "other.key"
    other_key.write_bytes(os.urandom(32))
    with pytest.raises(Exception, match="belongs to the witness"):
        create_witness_app({**files["config"], "WITNESS_KEY_FILE": str(other_key)})
    with pytest.raises(Exception, match="no witness key"):
        create_witness_app({**files["config"], "WITNESS_KEY_FILE": str(tmp_path / "missing")})
    with pytest.raises(Exception, match="no witness database"):
        create_witness_app({**files["config"], "WITNESS_DATABASE": str(tmp_path / "missing.db")})


@pytest.mark.parametrize(
    "args",
    [
        [ORIGIN, "not a vkey"],
        [ORIGIN, Cosigner("w", Ed25519PrivateKey.generate()).verifier_key()],  # a type-0x04 key
        [" padded", NoteSigner("padded", Ed25519PrivateKey.generate()).verifier_key()],
    ],
)
def test_add_log_refuses_bad_arguments(files, args):
    result = CliRunner().invoke(witness_cli, ["add-log", "--db", str(files["database"]), *args])
    assert result.exit_code == 2, result.output


def test_add_log_needs_an_initialized_database(tmp_path, log_key):
    vkey = NoteSigner(ORIGIN, log_key).verifier_key()
    args = ["add-log", "--db", str(tmp_path / "none.db"), ORIGIN, vkey]
    result = CliRunner().invoke(witness_cli, args)
    assert result.exit_code == 1 and "witness init" in result.output
    sqlite3.connect(tmp_path / "other.db").execute("CREATE TABLE other (x)").connection.close()
    args = ["add-log", "--db", str(tmp_path / "other.db"), ORIGIN, vkey]
    result = CliRunner().invoke(witness_cli, args)
    assert result.exit_code == 1 and "not a usable witness database" in result.output


def test_init_refuses_a_file_that_is_not_a_database(tmp_path):
    (tmp_path / "notes.txt").write_text("not a database")
    args = ["init", "--db", str(tmp_path / "notes.txt"), "--key", str(tmp_path / "k")]
    result = CliRunner().invoke(witness_cli, [*args, "--name", WITNESS_NAME])
    assert result.exit_code == 1 and "not a usable witness database" in result.output


def test_a_second_log_key_is_trusted_too(files, witness, log_key):
    rotated = Ed25519PrivateKey.generate()
    vkey = NoteSigner(ORIGIN, rotated).verifier_key()
    result = CliRunner().invoke(
        witness_cli, ["add-log", "--db", str(files["database"]), ORIGIN, vkey]
    )
    assert result.exit_code == 0, result.output
    log = MemoryLog(log_key, entries=3)
    assert witness.add(log.body(0)).status_code == 200
    log.signer = NoteSigner(ORIGIN, rotated)
    log.grow(2)
    assert witness.add(log.body(3)).status_code == 200


def test_the_serve_command(files, log_key):
    command = [
        sys.executable,
        "-c",
        "from sayso.witness.cli import witness; witness()",
        "serve",
        "--db",
        str(files["database"]),
        "--key",
        str(files["key"]),
        "--name",
        WITNESS_NAME,
        "--port",
        "0",
    ]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        banner = process.stdout.readline()
        assert files["vkey"] in banner, (banner, process.stderr.read() if process.poll() else "")
        url = banner.rsplit(" ", 1)[1].strip()
        log = MemoryLog(log_key, entries=6)
        response = requests.post(f"{url}/add-checkpoint", data=log.body(0), timeout=10)
        _cosigned(response, files, log.text())
    finally:
        process.terminate()
        process.wait(timeout=10)
        process.stdout.close()
        process.stderr.close()
