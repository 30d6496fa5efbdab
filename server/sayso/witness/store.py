"""The witness's own state, in its own SQLite file: which logs it follows (origin and the
log's note keys), and the last checkpoint it cosigned for each.

Standard-library sqlite3 only: a witness is run by someone other than the log's operator, so
it shares nothing with Sayso's database or models.
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from sayso.ledger.notes import NoteVerifier

SCHEMA_VERSION = 1
MAX_REFUSALS_PER_LOG = 1000  # evidence kept per log; a misbehaving log cannot fill the disk

_SCHEMA = """
CREATE TABLE IF NOT EXISTS witness (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS logs (
    origin TEXT PRIMARY KEY,
    origin_hash TEXT NOT NULL UNIQUE,
    size INTEGER NOT NULL DEFAULT 0,
    root_hash BLOB,
    note TEXT,
    cosigned_at INTEGER
);
CREATE TABLE IF NOT EXISTS log_keys (
    origin TEXT NOT NULL REFERENCES logs (origin),
    vkey TEXT NOT NULL,
    PRIMARY KEY (origin, vkey)
);
CREATE TABLE IF NOT EXISTS refusals (
    id INTEGER PRIMARY KEY,
    origin TEXT NOT NULL REFERENCES logs (origin),
    received_at INTEGER NOT NULL,
    reason TEXT NOT NULL,
    request TEXT NOT NULL
);
"""


class WitnessStoreError(Exception):
    """The witness's files are missing or belong to another witness."""


def origin_hash(origin: str) -> str:
    """The lowercase hex SHA-256 of an origin: how tlog-witness's monitoring path names a log."""
    return hashlib.sha256(origin.encode()).hexdigest()


@dataclass(frozen=True)
class LogState:
    """A log the witness follows: its keys and the last checkpoint cosigned for it (size 0,
    no root and no note until the first)."""

    origin: str
    verifiers: tuple[NoteVerifier, ...]
    size: int
    root_hash: bytes | None
    note: str | None


class WitnessStore:
    """The witness's SQLite file. Each call opens its own connection, so request threads
    share nothing but the file."""

    def __init__(self, path: str | Path):
        self.path = Path(path)

    @contextmanager
    def _connect(self, create: bool = False) -> Iterator[sqlite3.Connection]:
        if not create and not self.path.exists():
            raise WitnessStoreError(f"no witness database at {self.path}: run `witness init`")
        # Autocommit: transactions are the explicit BEGIN IMMEDIATE blocks below.
        connection = sqlite3.connect(self.path, timeout=10, isolation_level=None)
        try:
            connection.execute("PRAGMA foreign_keys = ON")
            yield connection
        except sqlite3.DatabaseError as error:
            # Not a SQLite file, or one without the witness's tables: say so in one line.
            raise WitnessStoreError(
                f"{self.path} is not a usable witness database: {error}"
            ) from None
        finally:
            connection.close()

    def initialize(self, witness_vkey: str) -> None:
        """Create the tables if missing and bind the file to this witness's key; refuse a file
        made for another key (a witness's cosignatures only mean something under one key)."""
        with self._connect(create=True) as connection:
            connection.execute("PRAGMA journal_mode = WAL")
            connection.execute("BEGIN IMMEDIATE")
            try:
                # One statement at a time: executescript would commit the transaction first.
                for statement in filter(str.strip, _SCHEMA.split(";")):
                    connection.execute(statement)
                connection.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
                connection.execute(
                    "INSERT OR IGNORE INTO witness (name, value) VALUES ('vkey', ?)",
                    (witness_vkey,),
                )
                connection.execute("COMMIT")
            except BaseException:
                connection.execute("ROLLBACK")
                raise
        self.check_identity(witness_vkey)

    def check_identity(self, witness_vkey: str) -> None:
        """Refuse to run with a key or name other than the one the file was made for."""
        with self._connect() as connection:
            row = connection.execute("SELECT value FROM witness WHERE name = 'vkey'").fetchone()
            if row is None:
                raise WitnessStoreError(
                    f"{self.path} is not a witness database: run `witness init`"
                )
            if row[0] != witness_vkey:
                raise WitnessStoreError(
                    f"{self.path} belongs to the witness {row[0]}, not {witness_vkey}: "
                    "use that witness's key file and name"
                )

    def add_log(self, origin: str, vkey: str) -> None:
        """Follow the log ``origin`` (if not yet) and trust ``vkey`` for its checkpoints."""
        with self._connect() as connection:
            connection.execute("BEGIN IMMEDIATE")
            connection.execute(
                "INSERT OR IGNORE INTO logs (origin, origin_hash) VALUES (?, ?)",
                (origin, origin_hash(origin)),
            )
            connection.execute(
                "INSERT OR IGNORE INTO log_keys (origin, vkey) VALUES (?, ?)", (origin, vkey)
            )
            connection.execute("COMMIT")

    def log(self, origin: str) -> LogState | None:
        """The state of the log ``origin``, or None if the witness does not follow it."""
        return self._log("origin = ?", origin)

    def log_by_hash(self, hashed_origin: str) -> LogState | None:
        """The state of the log whose origin hashes to ``hashed_origin`` (lowercase hex)."""
        return self._log("origin_hash = ?", hashed_origin)

    def _log(self, condition: str, value: str) -> LogState | None:
        with self._connect() as connection:
            row = connection.execute(
                f"SELECT origin, size, root_hash, note FROM logs WHERE {condition}",  # noqa: S608
                (value,),
            ).fetchone()
            if row is None:
                return None
            vkeys = connection.execute(
                "SELECT vkey FROM log_keys WHERE origin = ? ORDER BY vkey", (row[0],)
            ).fetchall()
        verifiers = tuple(NoteVerifier.from_vkey(vkey) for (vkey,) in vkeys)
        return LogState(row[0], verifiers, row[1], row[2], row[3])

    def advance(
        self,
        origin: str,
        *,
        old_size: int,
        old_root: bytes | None,
        size: int,
        root_hash: bytes,
        note: str,
        now: int,
    ) -> bool:
        """Record a newly cosigned checkpoint, only if the log is still at the (old_size,
        old_root) that was checked: False when another request moved it first."""
        with self._connect() as connection:
            # The condition in the UPDATE is what makes check-then-store atomic: of two
            # requests checked against the same old size, one matches and the other finds
            # the row already moved (tlog-witness's rollback race).
            cursor = connection.execute(
                "UPDATE logs SET size = ?, root_hash = ?, note = ?, cosigned_at = ? "
                "WHERE origin = ? AND size = ? AND root_hash IS ?",
                (size, root_hash, note, now, origin, old_size, old_root),
            )
            return cursor.rowcount == 1

    def record_refusal(self, origin: str, reason: str, request: str, now: int) -> None:
        """Keep a validly signed checkpoint the witness refused as inconsistent: it may be
        evidence that the log showed different trees to different parties."""
        with self._connect() as connection:
            connection.execute(
                "INSERT INTO refusals (origin, received_at, reason, request) "
                "SELECT ?, ?, ?, ? WHERE (SELECT count(*) FROM refusals WHERE origin = ?) < ?",
                (origin, now, reason, request, origin, MAX_REFUSALS_PER_LOG),
            )

    def refusals(self, origin: str) -> list[tuple[int, str, str]]:
        """The refusals kept for ``origin``: (received_at, reason, request), oldest first."""
        with self._connect() as connection:
            return connection.execute(
                "SELECT received_at, reason, request FROM refusals WHERE origin = ? ORDER BY id",
                (origin,),
            ).fetchall()
