"""``sayso webhooks``: the webhook worker, and the outbox as a list."""

from __future__ import annotations

import click
from flask.cli import with_appcontext

from sayso import services
from sayso.commands.workers import deliver, deliver_options, list_options, next_attempt
from sayso.services.webhooks import STATUSES

webhooks_cli = click.Group("webhooks", help="Deliver revocation webhooks and inspect the outbox.")


@webhooks_cli.command("deliver")
@deliver_options("Deliveries per round at most.", interval=5.0)
@with_appcontext
def webhooks_deliver(once: bool, limit: int, interval: float) -> None:
    """Run the webhook worker: send due deliveries, retry failures (until stopped)."""
    starting = f"delivering webhooks every {interval:g}s; Ctrl-C or SIGTERM stops"
    # The worker is what delivers every brand's events, so it outlives a cut connection.
    deliver(services.webhooks(), once, limit, interval, starting)


@webhooks_cli.command("list")
@list_options(STATUSES)
@with_appcontext
def webhooks_list(status: str | None, limit: int) -> None:
    """Print the most recent webhook deliveries, newest first."""
    rows = services.webhook_outbox().deliveries(status=status, limit=limit)
    if not rows:
        click.echo("no deliveries")
        return
    line = "{:>6}  {:<30}  {:<16}  {:<9}  {:>8}  {:<20}  {}"
    click.echo(line.format("id", "client", "event", "status", "attempts", "next attempt", "last"))
    for row in rows:
        due = next_attempt(row)
        last = row.last_error or (str(row.last_status_code) if row.last_status_code else "-")
        click.echo(
            line.format(row.id, row.client_id, row.event_type, row.status, row.attempts, due, last)
        )
