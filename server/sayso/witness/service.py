"""What the witness decides: c2sp.org/tlog-witness's add-checkpoint, without HTTP.

A request is refused with the status code the spec gives each case; otherwise the witness
records the checkpoint as the log's latest and returns its cosignature.
"""

from __future__ import annotations

import base64
import binascii
import re
import time
from collections.abc import Callable
from dataclasses import dataclass

from sayso.ledger.notes import Checkpoint, Cosigner, NoteError, open_note, parse_note
from sayso.ledger.tree import EMPTY_ROOT, HASH_SIZE, verify_consistency
from sayso.witness.store import LogState, WitnessStore

MAX_PROOF_LINES = 63  # tlog-witness: a client must not send more
_OLD_SIZE = re.compile(r"old (0|[1-9][0-9]*)", re.ASCII)


class Refusal(Exception):
    """A request the witness will not cosign: the HTTP status and a message saying why (and,
    for 409, the size of the last checkpoint it cosigned)."""

    def __init__(self, status: int, message: str, size: int | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.size = size


@dataclass(frozen=True)
class AddCheckpoint:
    """A parsed add-checkpoint body: the old size, the consistency proof, the signed note,
    and the checkpoint its text holds (its signatures not checked yet)."""

    old_size: int
    proof: tuple[bytes, ...]
    note: str
    checkpoint: Checkpoint


def _proof_hash(line: str) -> bytes:
    try:
        value = base64.b64decode(line, validate=True)
    except (binascii.Error, ValueError):
        value = b""
    if len(value) != HASH_SIZE or base64.b64encode(value).decode() != line:
        raise Refusal(400, f"a consistency proof line is not a base64 hash: {line[:60]!r}")
    return value


def parse_add_checkpoint(body: bytes) -> AddCheckpoint:
    """The parts of an add-checkpoint body (tlog-witness): ``old <size>``, proof lines, an
    empty line, the signed checkpoint. Refusal(400) for anything else."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise Refusal(400, "the request body is not UTF-8") from None
    head, blank, note = text.partition("\n\n")
    if not blank:
        raise Refusal(400, "the request needs an empty line before the checkpoint")
    old_line, *proof_lines = head.split("\n")
    match = _OLD_SIZE.fullmatch(old_line)
    if match is None:
        raise Refusal(400, "the request must start with 'old <size>'")
    if len(proof_lines) > MAX_PROOF_LINES:
        raise Refusal(400, f"a consistency proof has at most {MAX_PROOF_LINES} lines")
    proof = tuple(_proof_hash(line) for line in proof_lines)
    try:
        checkpoint_text, _ = parse_note(note)
        checkpoint = Checkpoint.parse(checkpoint_text)
    except NoteError as error:
        raise Refusal(400, f"the checkpoint is malformed: {error}") from None
    return AddCheckpoint(int(match[1]), proof, note, checkpoint)


class Witness:
    """Cosigns a log's checkpoints, each only if it extends the last one it cosigned."""

    def __init__(self, store: WitnessStore, cosigner: Cosigner, clock: Callable[[], float]):
        self.store = store
        self.cosigner = cosigner
        self.clock = clock

    def add_checkpoint(self, body: bytes) -> str:
        """Check an add-checkpoint request and cosign it: the cosignature line(s) to return.
        Refusal with tlog-witness's status code when it cannot."""
        request = parse_add_checkpoint(body)
        checkpoint = request.checkpoint
        log = self.store.log(checkpoint.origin)
        if log is None:
            raise Refusal(404, f"this witness does not follow the log {checkpoint.origin}")
        try:
            opened = open_note(request.note, log.verifiers)
        except NoteError as error:
            raise Refusal(403, f"the checkpoint is not signed by the log: {error}") from None
        if request.old_size > checkpoint.size:
            raise Refusal(400, "the old size is larger than the checkpoint's size")
        if request.old_size != log.size:
            raise Refusal(409, f"the last checkpoint cosigned has size {log.size}", log.size)
        self._check_consistency(log, request, body)

        now = max(1, int(self.clock()))
        cosignature = self.cosigner.cosign(opened.text, now)
        # What monitors fetch: the checkpoint with the log signatures checked here and ours.
        served = f"{opened.text}\n{opened.signature_lines()}{cosignature}"
        moved = not self.store.advance(
            checkpoint.origin,
            old_size=log.size,
            old_root=log.root_hash,
            size=checkpoint.size,
            root_hash=checkpoint.root_hash,
            note=served,
            now=now,
        )
        if moved:
            # Another request advanced the log between our check and our write.
            current = self.store.log(checkpoint.origin)
            size = current.size if current is not None else 0
            raise Refusal(409, f"the last checkpoint cosigned has size {size}", size)
        return cosignature

    def _check_consistency(self, log: LogState, request: AddCheckpoint, body: bytes) -> None:
        checkpoint, old = request.checkpoint, request.old_size
        reason = None
        if checkpoint.size == 0 and checkpoint.root_hash != EMPTY_ROOT:
            reason = "a checkpoint of size 0 must have the empty tree's root hash"
        elif old == 0:
            if request.proof:
                reason = "the consistency proof from size 0 must be empty"
        elif old == checkpoint.size:
            if checkpoint.root_hash != log.root_hash or request.proof:
                reason = "this checkpoint has the size of the last one cosigned but not its root"
        elif log.root_hash is None or not verify_consistency(
            old, checkpoint.size, log.root_hash, checkpoint.root_hash, list(request.proof)
        ):
            reason = "the consistency proof does not verify against the last checkpoint cosigned"
        if reason is not None:
            # A validly signed checkpoint that does not extend what we cosigned is worth
            # keeping: it may be half of a split view.
            self.store.record_refusal(
                checkpoint.origin, reason, body.decode("utf-8"), int(self.clock())
            )
            raise Refusal(422, reason)


def system_clock() -> float:
    """Seconds since the epoch: the cosignature's timestamp."""
    return time.time()
