"""``sayso mail``: the mail worker, and the outbox as a list."""

from __future__ import annotations

import click
from flask.cli import with_appcontext

from sayso import services
from sayso.commands.workers import deliver, deliver_options, list_options, next_attempt
from sayso.services.mail import STATUSES

mail_cli = click.Group("mail", help="Send queued email and inspect the mail outbox.")


@mail_cli.command("deliver")
@deliver_options("Messages per round at most.", interval=2.0)
@with_appcontext
def mail_deliver(once: bool, limit: int, interval: float) -> None:
    """Run the mail worker: send due messages, retry failures (until stopped)."""
    starting = f"sending mail every {interval:g}s; Ctrl-C or SIGTERM stops"
    deliver(services.mail(), once, limit, interval, starting)


@mail_cli.command("list")
@list_options(STATUSES)
@with_appcontext
def mail_list(status: str | None, limit: int) -> None:
    """Print the most recent messages, newest first: kind and status, never content."""
    rows = services.mail_outbox().messages(status=status, limit=limit)
    if not rows:
        click.echo("no messages")
        return
    line = "{:>6}  {:<16}  {:<8}  {:>8}  {:<20}  {}"
    click.echo(line.format("id", "kind", "status", "attempts", "next attempt", "last error"))
    for row in rows:
        due = next_attempt(row)
        click.echo(
            line.format(row.id, row.kind, row.status, row.attempts, due, row.last_error or "-")
        )
