"""``sayso audit``: verify, checkpoint and export the ledger."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime

import click
from flask import current_app
from flask.cli import with_appcontext

from sayso import services
from sayso.services.ledger_export import (
    ExportFilter,
    checkpoint_record,
    export_csv,
    export_jsonl,
)

audit_cli = click.Group("audit", help="Verify, checkpoint and export the ledger.")


def _utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


@audit_cli.command("verify")
@click.option(
    "--since-checkpoint",
    is_flag=True,
    help="Start from the newest checkpoint that verifies (cost independent of log size).",
)
@with_appcontext
def audit_verify(since_checkpoint: bool) -> None:
    """Check the hash chain and every checkpoint signature; exit 1 naming the first bad seq."""
    result = services.ledger().verify(since_checkpoint=since_checkpoint)
    if result.ok:
        click.echo(
            f"ledger intact: {result.checked} events from seq {result.started_at_seq}, "
            f"head at seq {result.last_seq}, {result.checkpoints_checked} signed checkpoints"
        )
        return
    click.echo(f"ledger BROKEN at seq {result.first_bad_seq}: {result.reason}", err=True)
    sys.exit(1)


@audit_cli.command("checkpoint")
@with_appcontext
def audit_checkpoint() -> None:
    """Sign the current head of the chain now; print it as an export's checkpoint line."""
    checkpoint = services.ledger().checkpoint()
    if checkpoint is None:
        click.echo("the ledger is empty: nothing to sign")
        return
    # The export's own line: append it to a later export and the offline verifier checks
    # the log still holds what was signed (sorted keys, as every line of an export).
    click.echo(json.dumps(checkpoint_record(checkpoint), sort_keys=True))


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
    """Stream events as JSON Lines (verifiable offline) or CSV, in constant memory."""
    filters = ExportFilter(since=_utc(since), until=_utc(until), brand=brand, type=type_)
    writer = export_jsonl if fmt == "jsonl" else export_csv
    for chunk in writer(services.ledger(), filters):
        output.write(chunk)
