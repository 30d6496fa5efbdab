"""The ``sayso`` command: Flask's CLI over ``create_app``, plus Sayso's own commands."""

from __future__ import annotations

import json
import signal
import sys
import threading

import click
from flask import current_app
from flask.cli import FlaskGroup, with_appcontext
from marshmallow import ValidationError
from sqlalchemy.exc import IntegrityError

from sayso import services
from sayso.commands import create_account_from_stdin
from sayso.commands.audit import audit_cli, ledger_cli
from sayso.commands.keys import keys_cli
from sayso.commands.officers import officers_cli
from sayso.extensions import db
from sayso.fields import MANAGE_SCOPE
from sayso.schemas.accounts import SignUpSchema
from sayso.schemas.brands import BrandSchema, ClientSchema, check_brand_url
from sayso.services.accounts import EmailTaken
from sayso.services.webhooks import STATUSES
from sayso.witness.cli import witness as witness_cli

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
    """Entry point of the ``sayso`` console script. A configuration it cannot use, or a
    database without Sayso's tables, is one line saying what to do, not a traceback."""
    from sqlalchemy.exc import OperationalError, ProgrammingError

    from sayso import create_app
    from sayso.config import ConfigError

    try:
        FlaskGroup(create_app=create_app, help="Sayso, a consent broker.")(prog_name="sayso")
    except ConfigError as error:
        sys.exit(f"sayso: {error}")
    except (OperationalError, ProgrammingError) as error:
        if not _no_tables(error):
            raise
        sys.exit(
            "sayso: this database has no Sayso tables yet: run `sayso db upgrade` first. "
            "(To use the database `make run` uses, run from the repository's folder with "
            "SAYSO_INSTANCE_PATH=$PWD/instance.)"
        )


def _no_tables(error) -> bool:
    # SQLite's message, or PostgreSQL's undefined_table.
    return "no such table" in str(error.orig) or getattr(error.orig, "sqlstate", None) == "42P01"


consumers_cli = click.Group("consumers", help="Manage consumer accounts.")
brands_cli = click.Group("brands", help="Manage brands and their OAuth clients.")


@consumers_cli.command("create")
@click.argument("email")
@click.option("--password-stdin", is_flag=True, required=True, help="Read the password from stdin.")
@with_appcontext
def create_consumer(email: str, password_stdin: bool) -> None:
    """Create a consumer account; the password comes from standard input."""
    create_account_from_stdin(email, "consumer")
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
@click.option(
    "--third-party",
    "third_party_scopes",
    multiple=True,
    help="A scope whose purpose passes data to third parties (repeatable); "
    "Sayso will refuse to ask consumers for it.",
)
@click.option("--webhook-url", default=None, help="Where revocation events are POSTed.")
@click.option("--client-name", default=None, help="The client's name (default: the brand's).")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@with_appcontext
def create_brand(
    name,
    domains,
    redirect_uris,
    scope_values,
    third_party_scopes,
    webhook_url,
    client_name,
    as_json,
):
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
                "third_party_scopes": list(third_party_scopes),
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
            "Keep the secrets now: Sayso cannot show them again (it keeps the client secret"
            " hashed and the webhook secret sealed)."
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


def _brand_or_fail(public_id: str):
    brand = services.brands().by_public_id(public_id)
    if brand is None:
        raise click.ClickException(f"no brand with id {public_id}")
    return brand


@brands_cli.command("add-member")
@click.argument("brand_id")
@click.argument("email")
@click.option("--password-stdin", is_flag=True, required=True, help="Read the password from stdin.")
@with_appcontext
def add_member(brand_id: str, email: str, password_stdin: bool) -> None:
    """Let EMAIL use the brand portal; creates a brand account with the password from stdin."""
    brand = _brand_or_fail(brand_id)
    password = sys.stdin.readline().rstrip("\r\n")
    accounts, brands = services.accounts(), services.brands()
    account = accounts.find_by_email(email)
    if account is None:
        try:
            data = SignUpSchema().load({"email": email, "password": password})
            account = accounts.sign_up(data["email"], data["password"], role="brand")
        except ValidationError as exc:
            raise click.ClickException(json.dumps(exc.messages)) from None
        except EmailTaken:
            raise click.ClickException("an account with that email was just created") from None
        created = True
    else:
        # A consumer's account stays a consumer's: the portal is for brand accounts only.
        if account.role != "brand":
            raise click.ClickException("that email belongs to an account that is not a brand's")
        created = False
    current = brands.brand_of_member(account)
    if current is not None and current.id != brand.id:
        raise click.ClickException(f"that account is a member of another brand ({current.name})")
    brands.add_member(brand, account, actor="cli")
    db.session.commit()
    if created:
        click.echo(f"created brand account {email} and added it to {brand.name}")
    else:
        click.echo(f"added {email} to {brand.name} (existing account, password unchanged)")


@brands_cli.command("initial-token")
@click.argument("brand_id")
@with_appcontext
def initial_token(brand_id: str) -> None:
    """Print a new initial access token for dynamic client registration (shown once). It
    expires after SAYSO_INITIAL_ACCESS_TOKEN_SECONDS and registers at most
    SAYSO_INITIAL_ACCESS_TOKEN_USES clients."""
    brand = _brand_or_fail(brand_id)
    click.echo(services.brands().issue_initial_access_token(brand, actor="cli").token)


@brands_cli.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print the brands as JSON.")
@with_appcontext
def list_brands(as_json: bool) -> None:
    """Every brand with its domains and clients."""
    rows = [
        {
            "brand_id": brand.public_id,
            "name": brand.name,
            "domains": [
                {"domain": d.domain, "verified": d.verified_at is not None} for d in brand.domains
            ],
            "clients": [{"client_id": c.client_id, "name": c.name} for c in brand.clients],
        }
        for brand in services.brands().all_brands()
    ]
    if as_json:
        click.echo(json.dumps(rows))
        return
    if not rows:
        click.echo("no brands")
    for row in rows:
        domains = ", ".join(
            d["domain"] + ("" if d["verified"] else " (not verified)") for d in row["domains"]
        )
        click.echo(f"{row['brand_id']}  {row['name']}  domains: {domains or '-'}")
        for c in row["clients"]:
            click.echo(f"    {c['client_id']}  {c['name']}")


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


#: The browser extension's client: public (PKCE, no secret), no brand, one scope.
EXTENSION_CLIENT_ID = "sayso-extension"
EXTENSION_CLIENT_NAME = "Sayso browser extension"
EXTENSION_SCOPES = {MANAGE_SCOPE: "manage your consent from the browser extension"}
#: Chromium's redirect for the id pinned by the "key" in extension/manifest.json.
EXTENSION_ID = "kcbeacjgbdmffpfeohjhngmloglamnbe"
EXTENSION_DEFAULT_REDIRECT = f"https://{EXTENSION_ID}.chromiumapp.org/"


@click.command("init")
@click.option(
    "--redirect-uri",
    "redirect_uris",
    multiple=True,
    help="The extension's redirect URI (repeatable; replaces the registered ones). "
    f"Default on first run: {EXTENSION_DEFAULT_REDIRECT}",
)
@with_appcontext
def init(redirect_uris: tuple[str, ...]) -> None:
    """Register Sayso's first-party client, the browser extension (idempotent)."""
    for uri in redirect_uris:
        try:
            check_brand_url(uri, current_app.config["ALLOW_HTTP_LOOPBACK"], "redirect URI")
        except ValidationError as exc:
            raise click.BadParameter(
                f"{uri}: {exc.messages[0]}", param_hint="--redirect-uri"
            ) from None
    brands = services.brands()
    wanted = list(redirect_uris) or None
    if brands.client(EXTENSION_CLIENT_ID) is None and wanted is None:
        wanted = [EXTENSION_DEFAULT_REDIRECT]
    try:
        client, changed = brands.ensure_first_party_client(
            EXTENSION_CLIENT_ID, EXTENSION_CLIENT_NAME, EXTENSION_SCOPES, wanted, actor="cli"
        )
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    db.session.commit()
    state = "registered" if changed else "unchanged"
    click.echo(f"{client.name} ({client.client_id}): {state}")
    for uri in client.redirect_uris:
        click.echo(f"    redirect URI {uri}")


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
    stop = threading.Event()

    def request_stop(_signum, _frame):
        # Finish the delivery in flight so its outcome is recorded, then leave.
        stop.set()

    previous = {sig: signal.signal(sig, request_stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    click.echo(f"delivering webhooks every {interval:g}s; Ctrl-C or SIGTERM stops")
    try:
        # A database error waits and goes on (see WebhookDispatcher.run): the worker is
        # what delivers every brand's events, so it must outlive a cut connection.
        dispatcher.run(stop, limit=limit, interval=interval, report=click.echo)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
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


def init_app(app) -> None:
    """Register Sayso's commands on the app's CLI."""
    app.cli.add_command(consumers_cli)
    app.cli.add_command(audit_cli)
    app.cli.add_command(ledger_cli)
    app.cli.add_command(witness_cli)
    app.cli.add_command(officers_cli)
    app.cli.add_command(keys_cli)
    app.cli.add_command(brands_cli)
    app.cli.add_command(webhooks_cli)
    app.cli.add_command(demo)
    app.cli.add_command(init)
