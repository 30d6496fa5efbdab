"""The ``sayso`` command: Flask's CLI over ``create_app``, plus Sayso's own commands."""

from __future__ import annotations

import json
import sys

import click
from flask import current_app
from flask.cli import FlaskGroup, with_appcontext
from marshmallow import ValidationError

from sayso import services
from sayso.schemas.accounts import SignUpSchema
from sayso.services.accounts import EmailTaken

DEMO_EMAIL = "demo@sayso.example"
DEMO_PASSWORD = "sayso-demo-password"  # noqa: S105  (printed on purpose; refused in production)
DEMO_DISCLOSURES = {
    "interests": [{"topic_id": 100}, {"topic_id": 173}, {"text": "crime fiction"}],
    "browsing_categories": [{"topic_id": 100, "weight": 0.8}, {"topic_id": 332, "weight": 0.3}],
    "channels": [
        {
            "channel": "email",
            "max_per_week": 1,
            "quiet_hours": {"start": "21:00", "end": "08:00", "tz": "Europe/Paris"},
        },
        {"channel": "in_app", "max_per_week": 3},
    ],
}


def main() -> None:
    """Entry point of the ``sayso`` console script."""
    from sayso import create_app

    FlaskGroup(create_app=create_app, help="Sayso, a consent broker.")(prog_name="sayso")


consumers_cli = click.Group("consumers", help="Manage consumer accounts.")
audit_cli = click.Group("audit", help="Check the ledger.")


@consumers_cli.command("create")
@click.argument("email")
@click.option("--password-stdin", is_flag=True, required=True, help="Read the password from stdin.")
@with_appcontext
def create_consumer(email: str, password_stdin: bool) -> None:
    """Create a consumer account; the password comes from standard input."""
    password = sys.stdin.readline().rstrip("\r\n")
    try:
        data = SignUpSchema().load({"email": email, "password": password})
        services.accounts().sign_up(data["email"], data["password"])
    except ValidationError as exc:
        raise click.ClickException(json.dumps(exc.messages)) from None
    except EmailTaken:
        raise click.ClickException("an account with that email exists") from None
    click.echo(f"created consumer {email}")


@audit_cli.command("verify")
@with_appcontext
def audit_verify() -> None:
    """Walk the hash chain; exit 1 naming the first bad sequence number, 0 when intact."""
    result = services.ledger().verify()
    if result.ok:
        click.echo(f"ledger intact: {result.checked} events, head at seq {result.last_seq}")
        return
    click.echo(f"ledger BROKEN at seq {result.first_bad_seq}: {result.reason}", err=True)
    sys.exit(1)


@click.command("demo")
@click.option("--json", "as_json", is_flag=True, help="Print the login as JSON.")
@with_appcontext
def demo(as_json: bool) -> None:
    """Seed a demo consumer with disclosures (idempotent) and print its login."""
    if current_app.config["ENV"] == "production":
        raise click.ClickException("refusing to seed demo data in production")
    accounts = services.accounts()
    account = accounts.find_by_email(DEMO_EMAIL)
    if account is None:
        account = accounts.sign_up(DEMO_EMAIL, DEMO_PASSWORD)
        services.disclosures().replace(account, DEMO_DISCLOSURES)
    login = {"email": DEMO_EMAIL, "password": DEMO_PASSWORD}
    if as_json:
        click.echo(json.dumps(login))
    else:
        click.echo(f"Demo consumer: {DEMO_EMAIL} / {DEMO_PASSWORD}")


def init_app(app) -> None:
    """Register Sayso's commands on the app's CLI."""
    app.cli.add_command(consumers_cli)
    app.cli.add_command(audit_cli)
    app.cli.add_command(demo)
