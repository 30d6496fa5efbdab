"""Asking witnesses to cosign checkpoints (C2SP tlog-witness ``add-checkpoint``).

A witness cosigns a checkpoint only if it is consistent with the last one it cosigned for
this log (it checks the consistency proof sent along), so a history that was rewritten, cut
short or shown differently to different parties cannot gather their cosignatures. Each
configured witness is asked after every new checkpoint; its answer (and how it has answered
lately) is stored, and the checkpoint is served with every cosignature it gathered.
"""

from __future__ import annotations

import base64
import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import requests
from sqlalchemy import select

from sayso.ledger.notes import verify_cosignature
from sayso.ledger.tiles import TileStore
from sayso.ledger.tree import consistency_proof
from sayso.models import LedgerCheckpoint, LedgerCosignature, LedgerWitness
from sayso.shared.clock import utcnow

log = logging.getLogger(__name__)

#: How long one witness may take to answer, connecting included.
TIMEOUT_SECONDS = 5
_SIZE_TYPE = "text/x.tlog.size"


class WitnessConfigError(ValueError):
    """``SAYSO_WITNESSES`` cannot be read."""


@dataclass(frozen=True)
class Witness:
    """A witness as configured: where it answers, and the key its cosignatures verify by."""

    url: str
    verifier_key: str

    @property
    def name(self) -> str:
        """The witness's key name (the first part of its verifier key)."""
        return self.verifier_key.split("+", 1)[0]


def parse_witnesses(value: str) -> tuple[Witness, ...]:
    """``SAYSO_WITNESSES``: entries separated by commas or new lines, each ``URL VKEY``."""
    witnesses = []
    for entry in value.replace("\n", ",").split(","):
        if not entry.strip():
            continue
        parts = entry.split()
        if len(parts) != 2 or not parts[0].startswith(("https://", "http://")):
            raise WitnessConfigError(
                f"{entry.strip()!r} is not 'URL VERIFIER-KEY' (for example "
                "'https://witness.example/ witness.example+1a2b3c4d+AQ...')"
            )
        if parts[1].count("+") < 2:
            raise WitnessConfigError(f"{parts[1]!r} is not a note verifier key (name+hash+key)")
        witnesses.append(Witness(parts[0].rstrip("/"), parts[1]))
    if len({w.name for w in witnesses}) != len(witnesses):
        raise WitnessConfigError("two witnesses have the same key name")
    return tuple(witnesses)


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def _checkpoint_text(note: str) -> str:
    """The checkpoint body of a signed note: everything before the blank line."""
    return note.split("\n\n", 1)[0] + "\n"


class WitnessClient:
    """Gathers cosignatures for the newest checkpoint, on one session."""

    def __init__(self, session, witnesses: tuple[Witness, ...]):
        self.session = session
        self.witnesses = witnesses

    def cosign(self, checkpoint: LedgerCheckpoint) -> int:
        """Ask every witness that has not yet cosigned ``checkpoint`` (in parallel), store
        what they answer, and commit; how many cosignatures it has now."""
        if not self.witnesses:
            return 0
        statuses = {w.name: self._status(w) for w in self.witnesses}
        asked = [w for w in self.witnesses if statuses[w.name][0] < checkpoint.size]
        requests_ = {w.name: self._request(w, statuses[w.name][0], checkpoint) for w in asked}
        self.session.commit()  # no transaction held open while witnesses answer
        with ThreadPoolExecutor(max_workers=max(1, len(asked))) as pool:
            answers = dict(
                zip(
                    [w.name for w in asked],
                    pool.map(lambda w: self._post(w, requests_[w.name]), asked),
                    strict=True,
                )
            )
        for witness in asked:
            status, body, content_type = answers[witness.name]
            if status == 409 and content_type.startswith(_SIZE_TYPE) and body.strip().isdigit():
                # The witness's last checkpoint is not the size we thought: prove from its.
                known = int(body.strip())
                if known <= checkpoint.size:
                    status, body, _ = self._post(witness, self._request(witness, known, checkpoint))
                else:
                    body = f"the witness has cosigned size {known}, larger than this log's"
            self._record(witness, checkpoint, status, body)
        self.session.commit()
        return len(
            self.session.scalars(
                select(LedgerCosignature.witness).where(LedgerCosignature.size == checkpoint.size)
            ).all()
        )

    def _status(self, witness: Witness) -> tuple[int, LedgerWitness]:
        row = self.session.get(LedgerWitness, witness.name)
        if row is None:
            row = LedgerWitness(name=witness.name, last_size=0)
            self.session.add(row)
            self.session.flush()
        return row.last_size, row

    def _request(self, witness: Witness, old: int, checkpoint: LedgerCheckpoint) -> str:
        proof = consistency_proof(TileStore(self.session), old, checkpoint.size) if old else []
        lines = [f"old {old}", *(_b64(h) for h in proof)]
        return "\n".join(lines) + "\n\n" + checkpoint.note

    @staticmethod
    def _post(witness: Witness, body: str) -> tuple[int, str, str]:
        try:
            response = requests.post(
                witness.url + "/add-checkpoint",
                data=body.encode(),
                timeout=TIMEOUT_SECONDS,
                allow_redirects=False,
            )
        except requests.RequestException as error:
            return 0, f"could not reach it: {type(error).__name__}", ""
        return response.status_code, response.text[:2000], response.headers.get("Content-Type", "")

    def _record(self, witness: Witness, checkpoint: LedgerCheckpoint, status: int, body: str):
        row = self.session.get(LedgerWitness, witness.name)
        now = utcnow()
        row.last_attempt_at = now
        if status != 200:
            row.last_error = f"answered {status}: {body.strip()[:500]}" if status else body
            log.warning("witness %s refused size %d: %s", witness.name, checkpoint.size, body)
            return
        text = _checkpoint_text(checkpoint.note)
        lines = [line for line in body.splitlines() if line.startswith("\u2014 ")]
        valid = [line for line in lines if verify_cosignature(witness.verifier_key, text, line)]
        if not valid:
            row.last_error = "answered 200 without a valid cosignature"
            return
        self.session.merge(
            LedgerCosignature(
                size=checkpoint.size, witness=witness.name, line=valid[0], cosigned_at=now
            )
        )
        row.last_size = checkpoint.size
        row.last_cosigned_at = now
        row.last_error = None
