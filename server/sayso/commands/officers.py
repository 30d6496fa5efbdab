"""``sayso officers``: create the privacy officers who use the console at ``/console``."""

from __future__ import annotations

import click
from flask.cli import with_appcontext

from sayso.commands.accounts import create_account_from_stdin

officers_cli = click.Group("officers", help="Manage privacy officer accounts.")


@officers_cli.command("create")
@click.argument("email")
@click.option("--password-stdin", is_flag=True, required=True, help="Read the password from stdin.")
@with_appcontext
def create_officer(email: str, password_stdin: bool) -> None:
    """Create a privacy officer account; the password comes from standard input."""
    create_account_from_stdin(email, "officer")
    click.echo(f"created officer {email}; the console is at /console")
