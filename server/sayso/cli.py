"""The ``sayso`` command: Flask's CLI over ``create_app``, plus Sayso's own commands."""

from __future__ import annotations

import json
import sys

import click
from flask import current_app
from flask.cli import FlaskGroup, with_appcontext
from marshmallow import ValidationError
from sqlalchemy.exc import IntegrityError

from sayso import services
from sayso.extensions import db
from sayso.schemas.accounts import SignUpSchema
from sayso.schemas.brands import BrandSchema, ClientSchema
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
brands_cli = click.Group("brands", help="Manage brands and their OAuth clients.")


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


def _parse_scopes(values: tuple[str, ...]) -> dict[str, str]:
    purposes = {}
    for value in values:
        scope, sep, purpose = value.partition("=")
        if not sep:
            raise click.BadParameter(f'{value!r}: use SCOPE="purpose text"', param_hint="--scope")
        purposes[scope.strip()] = purpose.strip()
    return purposes


@brands_cli.command("create")
@click.argument("name")
@click.option("--domain", "domains", multiple=True, help="A domain the brand claims (repeatable).")
@click.option(
    "--redirect-uri",
    "redirect_uris",
    multiple=True,
    required=True,
    help="Exact redirect URI (repeatable).",
)
@click.option(
    "--scope",
    "scope_values",
    multiple=True,
    required=True,
    help='SCOPE="purpose", e.g. interests:read="tailor our newsletter" (repeatable).',
)
@click.option("--webhook-url", default=None, help="Where revocation events are POSTed.")
@click.option("--client-name", default=None, help="The client's name (default: the brand's).")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@with_appcontext
def create_brand(name, domains, redirect_uris, scope_values, webhook_url, client_name, as_json):
    """Create a brand with one OAuth client; prints client_id and client_secret (shown once)."""
    try:
        brand_data = BrandSchema().load({"name": name, "domains": [d.lower() for d in domains]})
        client_data = ClientSchema(
            allow_http_loopback=current_app.config["ALLOW_HTTP_LOOPBACK"]
        ).load(
            {
                "name": client_name or name,
                "redirect_uris": list(redirect_uris),
                "scope_purposes": _parse_scopes(scope_values),
                "webhook_url": webhook_url,
            }
        )
    except ValidationError as exc:
        raise click.ClickException(json.dumps(exc.messages)) from None
    brands = services.brands()
    try:
        brand = brands.create_brand(brand_data["name"], brand_data["domains"], actor="cli")
        new = brands.create_client(brand, actor="cli", **client_data)
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        raise click.ClickException("one of those domains belongs to another brand") from None
    result = {
        "brand_id": brand.public_id,
        "client_id": new.client.client_id,
        "client_secret": new.client_secret,
        "webhook_secret": new.webhook_secret,
    }
    if as_json:
        click.echo(json.dumps(result))
    else:
        for key, value in result.items():
            if value:
                click.echo(f"{key}: {value}")
        click.echo(
            "Keep the secrets now: Sayso stores only their hashes and cannot show them again."
        )


@brands_cli.command("verify-domain")
@click.argument("domain")
@with_appcontext
def verify_domain(domain):
    """Mark a brand's claimed domain as verified (after you checked it belongs to the brand)."""
    row = services.brands().verify_domain(domain, actor="cli")
    if row is None:
        raise click.ClickException(f"no brand claims {domain}")
    db.session.commit()
    click.echo(f"{row.domain} verified for {row.brand.name}")


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
    app.cli.add_command(brands_cli)
    app.cli.add_command(demo)
