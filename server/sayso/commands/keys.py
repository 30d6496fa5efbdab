"""``sayso keys``: what each master key wraps, rotating the master key, the subject key."""

from __future__ import annotations

import base64
import json

import click
from flask import current_app
from flask.cli import with_appcontext

from sayso import services
from sayso.commands.signals import stop_requested_by_signals
from sayso.config import SUBJECT_KEY_DERIVED
from sayso.db import read_only
from sayso.extensions import db
from sayso.ledger import Event, EventType
from sayso.services.keys import KeyStatus

keys_cli = click.Group("keys", help="Rotate the master key; show what each key wraps.")

#: Why a retired key stays a little after it wraps nothing: a code or a refresh retry sealed
#: under it by a process not yet restarted lives that long.
GRACE = "once every app process has run with the new SAYSO_MASTER_KEY for a minute"


def _id(key_id: bytes | None) -> str:
    return key_id.hex() if key_id else "?"


def _wraps(status: KeyStatus, key_id: bytes) -> str:
    data_keys, secrets = status.wraps(key_id)
    return f"wraps {data_keys} data keys, {secrets} webhook secrets"


def _report(status: KeyStatus) -> list[str]:
    """The status, one line per key, each retired key with what to do about it."""
    lines = [f"current master key {_id(status.current)}: {_wraps(status, status.current)}"]
    for key_id in status.retired:
        line = f"retired master key {_id(key_id)}: {_wraps(status, key_id)}"
        if status.droppable(key_id):
            line += f"; can be removed from SAYSO_MASTER_KEYS_RETIRED {GRACE}"
        else:
            line += "; still needed: run `sayso keys rotate`"
        lines.append(line)
    if status.untagged:
        lines.append(
            f"data keys wrapped before master keys had ids: {status.untagged} "
            "(`sayso keys rotate` re-wraps them under ids; until then no retired key can go)"
        )
    for key_id in status.missing:
        lines.append(
            f"MISSING master key {_id(key_id)}: {_wraps(status, key_id)}, which cannot be "
            "opened: put that key back in SAYSO_MASTER_KEYS_RETIRED"
        )
    if status.unopened:
        lines.append(
            f"MISSING: {status.unopened} webhook secrets sealed before master keys had ids "
            "open under no configured key: put the old key back in SAYSO_MASTER_KEYS_RETIRED"
        )
    source = current_app.config["SUBJECT_KEY_SOURCE"]
    subject = f"subject key (pairwise `sub`): {source}"
    if source == SUBJECT_KEY_DERIVED:
        subject += (
            "; set SAYSO_SUBJECT_KEY before changing SAYSO_MASTER_KEY (`sayso keys subject-key`)"
        )
    lines.append(subject)
    return lines


@keys_cli.command("status")
@click.option("--json", "as_json", is_flag=True, help="Print the counts as JSON.")
@with_appcontext
def keys_status(as_json: bool) -> None:
    """How many data keys and webhook secrets each master key wraps, and which retired key
    can be dropped."""
    with read_only():
        status = services.key_rotation().status()
    if not as_json:
        for line in _report(status):
            click.echo(line)
        return
    keys = [(status.current, "current"), *((k, "retired") for k in status.retired)]
    keys += [(k, "missing") for k in status.missing]
    click.echo(
        json.dumps(
            {
                "master_keys": [
                    {
                        "id": _id(key_id),
                        "state": state,
                        "data_keys": status.wraps(key_id)[0],
                        "webhook_secrets": status.wraps(key_id)[1],
                        "droppable": state == "retired" and status.droppable(key_id),
                    }
                    for key_id, state in keys
                ],
                "data_keys_without_key_id": status.untagged,
                "webhook_secrets_unopened": status.unopened,
                "subject_key": current_app.config["SUBJECT_KEY_SOURCE"],
            }
        )
    )


@keys_cli.command("rotate")
@click.option(
    "--batch",
    default=500,
    show_default=True,
    type=click.IntRange(min=1, max=100_000),
    help="Rows re-wrapped per transaction.",
)
@click.option(
    "--limit",
    default=None,
    type=click.IntRange(min=1),
    help="Stop after looking at this many rows (run again to go on).",
)
@click.option(
    "--pause",
    default=0.0,
    show_default=True,
    type=click.FloatRange(min=0),
    help="Seconds to wait between batches, to spare a busy database.",
)
@with_appcontext
def keys_rotate(batch: int, limit: int | None, pause: float) -> None:
    """Re-wrap every data key and webhook secret under SAYSO_MASTER_KEY, in committed
    batches; safe to stop (Ctrl-C, SIGTERM, a kill) and to run again, while Sayso runs.
    Then say which retired key can be dropped."""
    keys = current_app.config["MASTER_KEYS"]
    click.echo(
        f"re-wrapping under master key {keys.current.key_id.hex()}"
        + (f" (retired: {', '.join(k.key_id.hex() for k in keys.retired)})" if keys.retired else "")
    )
    # The batch in flight commits (or not) whole; the next run goes on from there.
    with stop_requested_by_signals() as stop:
        result = services.key_rotation().rotate(
            batch=batch, limit=limit, pause=pause, stop=stop, report=click.echo
        )
    click.echo(
        f"{result.data_keys} data keys re-wrapped, {result.webhook_secrets} webhook secrets "
        "re-sealed"
    )
    # Officers see in the ledger that the operator rotated, and how far it got.
    services.ledger().append(
        Event(
            EventType.MASTER_KEY_ROTATED,
            actor="system",
            details={
                "to": keys.current.key_id.hex(),
                "data_keys": result.data_keys,
                "webhook_secrets": result.webhook_secrets,
                "complete": result.complete,
            },
        )
    )
    db.session.commit()
    if not result.complete:
        why = "--limit reached" if not stop.is_set() else "stopped"
        click.echo(f"{why}: not finished; run `sayso keys rotate` again to go on")
    with read_only():
        status = services.key_rotation().status()
    for line in _report(status):
        click.echo(line)
    problems = [
        f"{count} rows need master key {_id(key_id)}, which is not configured "
        f"(the first: {result.first_missing[key_id]}): put it back in "
        "SAYSO_MASTER_KEYS_RETIRED and run `sayso keys rotate` again"
        for key_id, count in result.missing.items()
    ]
    if result.unreadable:
        problems.append(
            f"{len(result.unreadable)} accounts were left as they were: their email does not "
            f"open with their data key (accounts {', '.join(map(str, result.unreadable[:10]))})"
        )
    if result.conflicting:
        problems.append(
            f"{len(result.conflicting)} accounts were left as they were: another account "
            "signed up with their email address while their master key was missing "
            f"(accounts {', '.join(map(str, result.conflicting[:10]))})"
        )
    if problems:
        raise click.ClickException("; ".join(problems))


@keys_cli.command("subject-key")
@with_appcontext
def keys_subject_key() -> None:
    """Print the key pairwise subjects are derived with, to set as SAYSO_SUBJECT_KEY before
    the master key changes (so no brand's `sub` changes)."""
    key = current_app.config["SUBJECT_KEY_BYTES"]
    click.echo(base64.urlsafe_b64encode(key).decode().rstrip("="))
    click.echo(f"(subject key: {current_app.config['SUBJECT_KEY_SOURCE']})", err=True)
