"""The ``sayso`` command: Flask's CLI over ``create_app`` (whose commands are in
``sayso/commands/``)."""

from __future__ import annotations

import sys

from flask.cli import FlaskGroup
from sqlalchemy.exc import OperationalError, ProgrammingError

from sayso import create_app
from sayso.config import ConfigError


def main() -> None:
    """Entry point of the ``sayso`` console script. A configuration it cannot use, or a
    database without Sayso's tables, is one line saying what to do, not a traceback."""
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
