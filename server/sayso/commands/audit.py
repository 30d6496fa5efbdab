"""``sayso audit``: verify, checkpoint and export the ledger; ``sayso ledger``: run its
sequencer."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime

import click
from flask import current_app
from flask.cli import with_appcontext

from sayso import services
from sayso.extensions import db
from sayso.ledger import proofs
from sayso.ledger.runner import SequencerRunner
from sayso.ledger.verify import Broken, LogVerifier, read_trusted
from sayso.services.ledger_export import ExportFilter, export_csv, export_jsonl

audit_cli = click.Group("audit", help="Verify, checkpoint and export the ledger.")


def _utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


@audit_cli.command("verify")
@click.option(
    "--trusted-checkpoint",
    "trusted",
    type=click.File("r", encoding="utf-8"),
    multiple=True,
    help="A checkpoint held outside this server (a witness's, a receipt's): prove the stored "
    "log extends it. May be given more than once.",
)
@click.option(
    "--witness-key",
    "witness_keys",
    multiple=True,
    help="Require each trusted checkpoint to carry a valid cosignature by this witness key.",
)
@with_appcontext
def audit_verify(trusted, witness_keys) -> None:
    """Rebuild the tree from the stored entries and check every tile, checkpoint and
    trusted checkpoint; exit 1 saying what is wrong."""
    key = current_app.extensions["sayso_ledger_key"]
    try:
        held = [
            read_trusted(file.read(), key, witness_keys, source=f"the checkpoint in {file.name}")
            for file in trusted
        ]
    except Broken as broken:
        click.echo(f"ledger BROKEN: {broken.reason}", err=True)
        sys.exit(1)
    result = LogVerifier(db.session, key).verify(held)
    if result.ok:
        click.echo(
            f"ledger intact: {result.size} entries, {result.checkpoints_checked} signed "
            f"checkpoints, {result.trusted_checked} trusted checkpoints proven, "
            f"{result.pending} events waiting for the sequencer"
        )
        return
    where = f" at leaf {result.first_bad_index}" if result.first_bad_index is not None else ""
    click.echo(f"ledger BROKEN{where}: {result.reason}", err=True)
    sys.exit(1)


@audit_cli.command("checkpoint")
@with_appcontext
def audit_checkpoint() -> None:
    """Integrate what is queued, sign a checkpoint if the tree grew, gather cosignatures,
    and print the newest checkpoint (with them): a file to keep for --trusted-checkpoint."""
    SequencerRunner(current_app._get_current_object()).tick()
    try:
        click.echo(proofs.latest_checkpoint(db.session).note, nl=False)
    except proofs.NoCheckpoint:
        click.echo("the ledger is empty: nothing to sign")


@audit_cli.command("public-key")
@with_appcontext
def audit_public_key() -> None:
    """Print the ledger's public key document (what /.well-known/sayso-ledger-key.json serves)."""
    click.echo(json.dumps(current_app.extensions["sayso_ledger_key"].public_document(), indent=2))


@audit_cli.command("export")
@click.option("--format", "fmt", type=click.Choice(["jsonl", "csv"]), default="jsonl")
@click.option("--since", type=click.DateTime(), help="Events at or after this UTC time.")
@click.option("--until", type=click.DateTime(), help="Events before this UTC time.")
@click.option("--brand", help="Only this brand's events (its public id, br_…).")
@click.option("--type", "type_", help="Only events of this type, e.g. consent:grant:revoked.")
@click.option("--output", "-o", type=click.File("w", encoding="utf-8"), default="-")
@with_appcontext
def audit_export(fmt, since, until, brand, type_, output) -> None:
    """Stream events as JSON Lines (verifiable offline, with the newest checkpoint) or CSV,
    in constant memory."""
    filters = ExportFilter(since=_utc(since), until=_utc(until), brand=brand, type=type_)
    if fmt == "jsonl":
        key = current_app.extensions["sayso_ledger_key"]
        chunks = export_jsonl(services.ledger(), filters, key)
    else:
        chunks = export_csv(services.ledger(), filters)
    for chunk in chunks:
        output.write(chunk)


ledger_cli = click.Group("ledger", help="Run the ledger's sequencer.")


@ledger_cli.command("sequence")
@click.option("--once", is_flag=True, help="One round, then exit.")
@with_appcontext
def ledger_sequence(once: bool) -> None:
    """Integrate queued events into the log, sign checkpoints and gather cosignatures,
    every SAYSO_LEDGER_CHECKPOINT_SECONDS, while this process is the elected sequencer
    (another one waits, and takes over if this one dies). Stops on SIGTERM or Ctrl-C."""
    import signal
    import threading

    runner = SequencerRunner(current_app._get_current_object())
    if once:
        click.echo(f"integrated {runner.tick()} events")
        return
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        runner.run(stop)
    except KeyboardInterrupt:
        stop.set()
