"""``sayso demo`` and ``sayso init``: a demo consumer to try Sayso with, and Sayso's own
first-party client (the browser extension)."""

from __future__ import annotations

import json

import click
from flask import current_app
from flask.cli import with_appcontext
from marshmallow import ValidationError

from sayso import services
from sayso.extensions import db
from sayso.fields import MANAGE_SCOPE
from sayso.schemas.brands import check_brand_url

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
    # "About me" and "What I want to hear about" (/disclosures/about).
    "age_band": "35-44",
    "location": {"country": "FR", "region": "FR-IDF"},
    "languages": ["fr", "en"],
    "life_stage": ["working", "parent_young_children"],
    "household_size": "3-4",
    "hear_about": {
        "kinds": ["new_releases", "events", "service"],
        "new_releases_of": ["Michael Chabon", "Fred Vargas"],
        "brands": {},
    },
}


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
