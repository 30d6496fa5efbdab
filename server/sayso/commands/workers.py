"""What the outbox workers' commands share (``sayso mail`` and ``sayso webhooks``): the
``deliver`` options and loop, and the ``list`` options; each command keeps its own words
and columns."""

from __future__ import annotations

from collections.abc import Callable

import click

from sayso.commands.signals import stop_requested_by_signals


def deliver_options(per_round_help: str, interval: float) -> Callable:
    """``--once``, ``--limit`` (``per_round_help``) and ``--interval`` (default ``interval``)."""

    def decorate(command: Callable) -> Callable:
        command = click.option(
            "--interval",
            default=interval,
            show_default=True,
            type=click.FloatRange(min=0.1),
            help="Seconds to wait when nothing is due.",
        )(command)
        command = click.option(
            "--limit",
            default=100,
            show_default=True,
            type=click.IntRange(min=1),
            help=per_round_help,
        )(command)
        return click.option(
            "--once", is_flag=True, help="Run one round, print what it did, and exit."
        )(command)

    return decorate


def deliver(dispatcher, once: bool, limit: int, interval: float, starting: str) -> None:
    """One round printed (``once``), or the worker until Ctrl-C or SIGTERM: the item in
    flight finishes so its outcome is recorded, then the worker leaves. A database error
    waits and goes on (see ``services/outbox_worker.run``)."""
    if once:
        click.echo(str(dispatcher.deliver_due(limit)))
        return
    click.echo(starting)
    with stop_requested_by_signals() as stop:
        dispatcher.run(stop, limit=limit, interval=interval, report=click.echo)
    click.echo("stopped")


def list_options(statuses) -> Callable:
    """``--status`` (one of ``statuses``) and ``--limit``."""

    def decorate(command: Callable) -> Callable:
        command = click.option(
            "--limit",
            default=50,
            show_default=True,
            type=click.IntRange(min=1),
            help="Rows at most.",
        )(command)
        return click.option(
            "--status", type=click.Choice(statuses), default=None, help="Only this status."
        )(command)

    return decorate


def next_attempt(row) -> str:
    """When a pending row is tried next, or ``-``."""
    return row.next_attempt_at.strftime("%Y-%m-%d %H:%M:%SZ") if row.status == "pending" else "-"
