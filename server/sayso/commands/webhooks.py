"""``sayso webhooks``: the webhook worker, and the outbox as a list."""

from __future__ import annotations

import click
from flask.cli import with_appcontext

from sayso import services
from sayso.commands.signals import stop_requested_by_signals
from sayso.services.webhooks import STATUSES

webhooks_cli = click.Group("webhooks", help="Deliver revocation webhooks and inspect the outbox.")


@webhooks_cli.command("deliver")
@click.option("--once", is_flag=True, help="Run one round, print what it did, and exit.")
@click.option(
    "--limit",
    default=100,
    show_default=True,
    type=click.IntRange(min=1),
    help="Deliveries per round at most.",
)
@click.option(
    "--interval",
    default=5.0,
    show_default=True,
    type=click.FloatRange(min=0.1),
    help="Seconds to wait when nothing is due.",
)
@with_appcontext
def webhooks_deliver(once: bool, limit: int, interval: float) -> None:
    """Run the webhook worker: send due deliveries, retry failures (until stopped)."""
    dispatcher = services.webhooks()
    if once:
        click.echo(str(dispatcher.deliver_due(limit)))
        return
    click.echo(f"delivering webhooks every {interval:g}s; Ctrl-C or SIGTERM stops")
    # The delivery in flight finishes so its outcome is recorded, then the worker leaves.
    with stop_requested_by_signals() as stop:
        # A database error waits and goes on (see WebhookDispatcher.run): the worker is
        # what delivers every brand's events, so it must outlive a cut connection.
        dispatcher.run(stop, limit=limit, interval=interval, report=click.echo)
    click.echo("stopped")


@webhooks_cli.command("list")
@click.option("--status", type=click.Choice(STATUSES), default=None, help="Only this status.")
@click.option(
    "--limit", default=50, show_default=True, type=click.IntRange(min=1), help="Rows at most."
)
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
        due = row.next_attempt_at.strftime("%Y-%m-%d %H:%M:%SZ") if row.status == "pending" else "-"
        last = row.last_error or (str(row.last_status_code) if row.last_status_code else "-")
        click.echo(
            line.format(row.id, row.client_id, row.event_type, row.status, row.attempts, due, last)
        )
