"""Sayso's own ``sayso`` commands, one module per subject, registered on the app's CLI."""

from __future__ import annotations

from sayso.commands.accounts import consumers_cli
from sayso.commands.audit import audit_cli, ledger_cli
from sayso.commands.brands import brands_cli
from sayso.commands.keys import keys_cli
from sayso.commands.mail import mail_cli
from sayso.commands.officers import officers_cli
from sayso.commands.setup import demo, init
from sayso.commands.webhooks import webhooks_cli
from sayso.witness.cli import witness as witness_cli


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
    app.cli.add_command(mail_cli)
    app.cli.add_command(demo)
    app.cli.add_command(init)
