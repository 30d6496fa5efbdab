"""The transparency log as the officer console shows it: where one event stands in the
tree (its inclusion proof against the newest signed checkpoint), the log's status (its
size, what waits, the newest checkpoint and who cosigned it, how each witness keeps up),
and the full check (``sayso audit verify``). Reads the log's tables; writes nothing."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select

from sayso.ledger import Ledger, LedgerKey, proofs
from sayso.ledger.notes import Checkpoint, NoteError, NoteVerifier, open_note
from sayso.ledger.sequencer import tree_state
from sayso.ledger.tiles import MissingHash
from sayso.ledger.tree import verify_inclusion
from sayso.ledger.verify import LogVerifier, Verification
from sayso.ledger.witnesses import Witness
from sayso.models import LedgerCheckpoint, LedgerCosignature, LedgerLeaf, LedgerWitness
from sayso.shared.clock import utcnow


@dataclass(frozen=True)
class Inclusion:
    """Whether an event is in the tree the newest checkpoint signs, in plain words.

    ``state`` is ``waiting`` (not yet given a place by the sequencer), ``unsigned`` (in the
    tree, no checkpoint covers it yet), ``verified`` (its inclusion proof verifies against
    the checkpoint's signed root) or ``failed`` (it does not: ``message`` says why).
    """

    state: str
    message: str
    checkpoint_size: int | None = None
    proof_length: int | None = None


@dataclass(frozen=True)
class CheckpointInfo:
    """The newest signed checkpoint, as the console shows it."""

    size: int
    root: str
    signed_at: datetime
    cosigned_by: list[str]
    #: Whether its note verifies with this log's key, for this log, over the root stored.
    signature_ok: bool

    @property
    def cosignatures(self) -> int:
        """How many witnesses have cosigned it."""
        return len(self.cosigned_by)


@dataclass(frozen=True)
class WitnessStatus:
    """One configured witness: what it last cosigned, and whether it keeps up."""

    name: str
    url: str
    last_size: int
    last_cosigned_at: datetime | None
    last_attempt_at: datetime | None
    last_error: str | None
    #: When the log first grew past ``last_size`` (the oldest checkpoint it has not
    #: cosigned was signed), or ``None`` when it has cosigned the newest.
    behind_since: datetime | None
    stale: bool
    now: datetime

    @property
    def refusing(self) -> bool:
        """Its last answer was not a cosignature (it refused, or could not be reached)."""
        return self.last_error is not None

    @property
    def state(self) -> str:
        """``refusing``, ``stale``, ``behind`` (not for long yet) or ``current``."""
        if self.refusing:
            return "refusing"
        if self.stale:
            return "stale"
        return "behind" if self.behind_since is not None else "current"

    @property
    def cosigned_age(self) -> str | None:
        """How long ago it last cosigned, in words."""
        if self.last_cosigned_at is None:
            return None
        return plain_duration(self.now - self.last_cosigned_at)

    @property
    def behind_for(self) -> str | None:
        """How long the log has been past what it last cosigned, in words."""
        if self.behind_since is None:
            return None
        return plain_duration(self.now - self.behind_since)


@dataclass(frozen=True)
class LogStatus:
    """The log as the console shows it: its tree, what waits for it, its newest checkpoint
    and its witnesses."""

    size: int
    root: str
    pending: int
    newest: CheckpointInfo | None
    witnesses: list[WitnessStatus]
    stale_after: timedelta
    origin: str
    verifier_key: str

    @property
    def stale_after_text(self) -> str:
        """The staleness threshold, in words."""
        return plain_duration(self.stale_after)


@dataclass(frozen=True)
class FullCheck:
    """The outcome of ``LogVerifier.verify`` and, when it names a leaf, that leaf's event."""

    verification: Verification
    bad_seq: int | None


def plain_duration(span: timedelta) -> str:
    """A duration as a person says it: ``45 s``, ``3 min 5 s``, ``2 h 10 min``, ``4 days``."""
    seconds = max(0, int(span.total_seconds()))
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds} s" if seconds else f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    return f"{hours // 24} days"


class LogInspector:
    """Questions about the log, answered from its tables and checked with its key."""

    def __init__(
        self,
        session,
        ledger: Ledger,
        key: LedgerKey,
        witnesses: Sequence[Witness] = (),
        checkpoint_seconds: float = 1.0,
    ):
        self.session = session
        self.ledger = ledger
        self.key = key
        self.witnesses = tuple(witnesses)
        #: A witness is stale once the log has been past what it last cosigned this long:
        #: five of the sequencer's rounds, and a minute for a witness that answers slowly.
        self.stale_after = timedelta(seconds=5 * checkpoint_seconds + 60)

    def signed(self, note: str) -> Checkpoint:
        """The checkpoint a note holds, once its signature by this log's key verifies."""
        opened = open_note(note, [NoteVerifier.from_vkey(self.key.verifier_key)])
        checkpoint = Checkpoint.parse(opened.text)
        if checkpoint.origin != self.key.origin:
            raise NoteError(f"it names the log {checkpoint.origin!r}")
        return checkpoint

    def inclusion(self, leaf_hash: bytes, leaf_index: int | None) -> Inclusion:
        if leaf_index is None:
            return Inclusion(
                "waiting",
                "Waiting for the sequencer: this event is committed and queued, and has no "
                "place in the tree yet.",
            )
        try:
            served = proofs.latest_checkpoint(self.session)
        except proofs.NoCheckpoint:
            return Inclusion("unsigned", "No checkpoint has been signed yet.")
        try:
            checkpoint = self.signed(served.note)
        except NoteError as error:
            return Inclusion(
                "failed",
                f"The newest checkpoint (size {served.size}) does not verify with this log's "
                f"key: {error}.",
                served.size,
            )
        if leaf_index >= checkpoint.size:
            return Inclusion(
                "unsigned",
                f"The newest checkpoint covers {checkpoint.size} entries, not yet this one; "
                "the next checkpoint will.",
                checkpoint.size,
            )
        try:
            proof = proofs.inclusion(self.session, leaf_index, checkpoint.size)
        except MissingHash as error:
            return Inclusion(
                "failed",
                f"The tree's stored hashes cannot prove it: {error}.",
                checkpoint.size,
            )
        if not verify_inclusion(
            leaf_hash, leaf_index, checkpoint.size, proof, checkpoint.root_hash
        ):
            return Inclusion(
                "failed",
                f"Its inclusion proof does NOT verify against the newest checkpoint (size "
                f"{checkpoint.size}): its bytes, or the tree's stored hashes, were changed "
                "after the checkpoint was signed.",
                checkpoint.size,
                len(proof),
            )
        return Inclusion(
            "verified",
            f"Its inclusion proof ({len(proof)} hashes) verifies against the newest checkpoint "
            f"(size {checkpoint.size}): these are the bytes the log signed.",
            checkpoint.size,
            len(proof),
        )

    def seq_at_leaf(self, leaf_index: int) -> int | None:
        """The event at leaf ``leaf_index`` of the tree, if the tree has one there."""
        return self.session.scalar(
            select(LedgerLeaf.seq).where(LedgerLeaf.leaf_index == leaf_index)
        )

    def status(self) -> LogStatus:
        """The tree's size, what waits for it, the newest checkpoint (does it verify, who
        cosigned it) and how each configured witness keeps up. Cheap: no walk."""
        now = utcnow()
        state = tree_state(self.session)
        newest = self.session.scalar(
            select(LedgerCheckpoint).order_by(LedgerCheckpoint.size.desc()).limit(1)
        )
        info = None
        if newest is not None:
            cosigned_by = self.session.scalars(
                select(LedgerCosignature.witness)
                .where(LedgerCosignature.size == newest.size)
                .order_by(LedgerCosignature.witness)
            ).all()
            try:
                signed = self.signed(newest.note)
                signature_ok = signed.size == newest.size and signed.root_hash == bytes(newest.root)
            except NoteError:
                signature_ok = False
            info = CheckpointInfo(
                newest.size, bytes(newest.root).hex(), newest.signed_at, list(cosigned_by),
                signature_ok,
            )  # fmt: skip
        return LogStatus(
            size=state.size,
            root=state.root.hex(),
            pending=self.ledger.pending(),
            newest=info,
            witnesses=[self._witness(w, now) for w in self.witnesses],
            stale_after=self.stale_after,
            origin=self.key.origin,
            verifier_key=self.key.verifier_key,
        )

    def _witness(self, witness: Witness, now: datetime) -> WitnessStatus:
        row = self.session.get(LedgerWitness, witness.name)
        last_size = row.last_size if row is not None else 0
        # The log grew past what the witness cosigned when the oldest checkpoint beyond it
        # was signed: stale is being behind for long, not being quiet while the log is.
        behind_since = self.session.scalar(
            select(func.min(LedgerCheckpoint.signed_at)).where(LedgerCheckpoint.size > last_size)
        )
        return WitnessStatus(
            name=witness.name,
            url=witness.url,
            last_size=last_size,
            last_cosigned_at=row.last_cosigned_at if row is not None else None,
            last_attempt_at=row.last_attempt_at if row is not None else None,
            last_error=row.last_error if row is not None else None,
            behind_since=behind_since,
            stale=behind_since is not None and now - behind_since > self.stale_after,
            now=now,
        )

    def verify_everything(self) -> FullCheck:
        """Rebuild the tree from every stored entry and check every tile, checkpoint and
        the table's definition (``sayso audit verify``)."""
        result = LogVerifier(self.session, self.key).verify()
        bad = result.first_bad_index
        return FullCheck(result, self.seq_at_leaf(bad) if bad is not None else None)
