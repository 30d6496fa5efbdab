"""The clock: every "now" in Sayso is timezone-aware UTC."""

from datetime import UTC, datetime


def utcnow() -> datetime:
    """Now, in UTC, timezone-aware."""
    return datetime.now(UTC)
