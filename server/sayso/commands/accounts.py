"""``sayso consumers``, and creating an account of any role from the command line."""

from __future__ import annotations

import json
import sys

import click
from flask.cli import with_appcontext
from marshmallow import ValidationError

from sayso import services
from sayso.schemas.accounts import SignUpSchema
from sayso.services.accounts import EmailTaken


def create_account_from_stdin(email: str, role: str):
    """Create an account with the password read from standard input (never from argv,
    where it would show in the process list and shell history)."""
    password = sys.stdin.readline().rstrip("\r\n")
    try:
        data = SignUpSchema().load({"email": email, "password": password})
        return services.accounts().sign_up(data["email"], data["password"], role=role)
    except ValidationError as exc:
        raise click.ClickException(json.dumps(exc.messages)) from None
    except EmailTaken:
        # Never promote an existing account to another role: each role is its own login.
        raise click.ClickException("an account with that email exists") from None


consumers_cli = click.Group("consumers", help="Manage consumer accounts.")


@consumers_cli.command("create")
@click.argument("email")
@click.option("--password-stdin", is_flag=True, required=True, help="Read the password from stdin.")
@with_appcontext
def create_consumer(email: str, password_stdin: bool) -> None:
    """Create a consumer account; the password comes from standard input."""
    create_account_from_stdin(email, "consumer")
    click.echo(f"created consumer {email}")
