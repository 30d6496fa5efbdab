"""``sayso brands``: brands, their OAuth clients, members, domains and initial tokens."""

from __future__ import annotations

import json
import sys

import click
from flask import current_app
from flask.cli import with_appcontext
from marshmallow import ValidationError
from sqlalchemy.exc import IntegrityError

from sayso import services
from sayso.extensions import db
from sayso.schemas.accounts import SignUpSchema
from sayso.schemas.brands import BrandSchema, ClientSchema
from sayso.services.accounts import EmailTaken

brands_cli = click.Group("brands", help="Manage brands and their OAuth clients.")


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
