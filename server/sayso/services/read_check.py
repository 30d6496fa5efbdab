"""The per-brand check the officer console runs: every field a brand read had a live grant
behind it at the moment of the read, worked out from the ledger's events alone (grants,
revokes and reads, in order), so it holds even if the grants table were altered."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from sayso.ledger import EventType

#: Flagged reads listed by the check at most (all are counted).
MAX_FLAGGED_LISTED = 500


@dataclass(frozen=True)
class FlaggedRead:
    """A field read with no live grant behind it."""

    seq: int
    occurred_at: datetime
    subject: str | None
    field: str
    reason: str


@dataclass(frozen=True)
class ReadCheck:
    """The outcome of replaying a brand's grants, revokes and reads."""

    reads_checked: int
    fields_checked: int
    flagged_total: int
    flagged: list[FlaggedRead]

    @property
    def ok(self) -> bool:
        """True when every field read had a live grant."""
        return self.flagged_total == 0


@dataclass
class _GrantState:
    """The latest grant of one field to the brand by one subject, as the ledger tells it."""

    granted_seq: int
    expires_at: datetime | None
    revoked_seq: int | None = None


def _expiry(details: Mapping) -> datetime | None:
    raw = details.get("expires_at")
    if not raw:
        return None
    moment = datetime.fromisoformat(raw)
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def check_reads(rows: Iterable) -> ReadCheck:
    """Replay grant, revoke and read events (in seq order) and flag every field read that
    had no live grant: none before it, revoked since, or expired by the time of the read.

    A grant replaces the previous one for its fields (as ``ConsentService.grant`` does),
    so only the latest grant per (subject, field) is kept: memory grows with the brand's
    consumers and fields, not with the log.
    """
    grants: dict[tuple[str | None, str], _GrantState] = {}
    reads = fields_checked = flagged_total = 0
    flagged: list[FlaggedRead] = []
    for row in rows:
        names = json.loads(row.fields)
        if row.type == EventType.CONSENT_GRANTED:
            expires_at = _expiry(json.loads(row.details))
            for name in names:
                grants[(row.subject, name)] = _GrantState(row.seq, expires_at)
        elif row.type == EventType.CONSENT_REVOKED:
            for name in names:
                state = grants.get((row.subject, name))
                if state is not None and state.revoked_seq is None:
                    state.revoked_seq = row.seq
        elif row.type == EventType.PROFILE_READ:
            reads += 1
            for name in names:
                fields_checked += 1
                reason = _why_not_live(grants.get((row.subject, name)), row.occurred_at)
                if reason is None:
                    continue
                flagged_total += 1
                if len(flagged) < MAX_FLAGGED_LISTED:
                    flagged.append(FlaggedRead(row.seq, row.occurred_at, row.subject, name, reason))
    return ReadCheck(reads, fields_checked, flagged_total, flagged)


def _why_not_live(state: _GrantState | None, at: datetime) -> str | None:
    if state is None:
        return "no grant of this field before the read"
    if state.revoked_seq is not None:
        return f"the grant at seq {state.granted_seq} was revoked at seq {state.revoked_seq}"
    if state.expires_at is not None and state.expires_at <= at:
        return (
            f"the grant at seq {state.granted_seq} expired at "
            f"{state.expires_at.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC"
        )
    return None
