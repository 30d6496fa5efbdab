"""Helpers for brand portal tests: a member of a brand signed in, the new-client form, what
the secrets page shows, a client's row."""

from __future__ import annotations

import re

from sqlalchemy import select

from sayso.extensions import db
from sayso.models import OAuthClient
from tests.helpers import csrf_token, log_in
from tests.oauth_helpers import ALL_SCOPES

MEMBER = "maria@bookshop.example"
MEMBER_PASSWORD = "brand portal password"
SHOP = "https://shop.bookshop.example/callback"


def add_member(runner, brand_id, email=MEMBER, password=MEMBER_PASSWORD):
    """Add a person to a brand through the CLI, as an operator would."""
    return runner.invoke(
        args=["brands", "add-member", brand_id, email, "--password-stdin"], input=password + "\n"
    )


def member_of(app, brand_id, email=MEMBER):
    """A signed-in test client for a new member of ``brand_id``."""
    result = add_member(app.test_cli_runner(), brand_id, email)
    assert result.exit_code == 0, result.output
    client = app.test_client()
    assert log_in(client, email, MEMBER_PASSWORD).status_code == 302
    return client


def client_form(member, **overrides) -> dict:
    """A valid portal form for a client asking for interests and channels."""
    form = {
        "csrf_token": csrf_token(member, "/portal/clients/new"),
        "name": "Bookshop web",
        "redirect_uris": SHOP + "\n",
        "scope": ["interests:read", "channels:read"],
        "purpose_interests:read": ALL_SCOPES["interests:read"],
        "purpose_channels:read": ALL_SCOPES["channels:read"],
        "webhook_url": "",
    }
    form.update(overrides)
    return form


def shown(html: str, label: str) -> str:
    """A value the secrets page shows next to ``label``."""
    match = re.search(rf"<th>{re.escape(label)}</th><td><code>([^<]+)</code>", html)
    assert match, f"{label} not shown"
    return match.group(1)


def client_row(app, client_id) -> OAuthClient | None:
    with app.app_context():
        row = db.session.scalars(
            select(OAuthClient).where(OAuthClient.client_id == client_id)
        ).one_or_none()
        if row is not None:
            db.session.expunge(row)
        return row
