"""``sayso officers``: create the privacy officers who use the console at ``/console``."""

from __future__ import annotations

import json
import sys

import click
from flask.cli import with_appcontext
from marshmallow import ValidationError

from sayso import services
from sayso.schemas.accounts import SignUpSchema
from sayso.services.accounts import EmailTaken

officers_cli = click.Group("officers", help="Manage privacy officer accounts.")


@officers_cli.command("create")
@click.argument("email")
@click.option("--password-stdin", is_flag=True, required=True, help="Read the password from stdin.")
@with_appcontext
def create_officer(email: str, password_stdin: bool) -> None:
    """Create a privacy officer account; the password comes from standard input."""
    password = sys.stdin.readline().rstrip("\r\n")
    try:
        data = SignUpSchema().load({"email": email, "password": password})
        services.accounts().sign_up(data["email"], data["password"], role="officer")
    except ValidationError as exc:
        raise click.ClickException(json.dumps(exc.messages)) from None
    except EmailTaken:
        # Never promote an existing consumer or brand account: an officer is a separate login.
        raise click.ClickException("an account with that email exists") from None
    click.echo(f"created officer {email}; the console is at /console")
