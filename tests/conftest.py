"""Fixtures every test may use: a migrated database per backend, the app, clients.

Each test gets a fresh database: on SQLite a copy of a migrated template file, on
PostgreSQL a database created for this run and emptied before every test. Tests run on
SQLite always, and on PostgreSQL too when ``SAYSO_TEST_POSTGRES_URL`` is set.
"""

from __future__ import annotations

import os
import secrets
import sqlite3
from pathlib import Path

import flask_migrate
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from sayso import create_app
from sayso.config import new_key
from sayso.extensions import db

POSTGRES_URL = os.environ.get("SAYSO_TEST_POSTGRES_URL")
# No background sequencer in an app a test builds (one would outlive the test's database);
# tests run it themselves (tests/ledger_helpers.integrate), or as a process of its own.
os.environ.setdefault("SAYSO_LEDGER_SEQUENCER", "off")
BACKENDS = ["sqlite"] + (["postgresql"] if POSTGRES_URL else [])

# Cheap hashing keeps the suite fast; production parameters are the defaults in config.py.
FAST_HASHING = {"ARGON2_TIME_COST": 1, "ARGON2_MEMORY_COST": 8 * 1024}


def _config(instance: Path, url: str, **overrides) -> dict:
    return {
        "ENV": "testing",
        "TESTING": True,
        "INSTANCE_PATH": str(instance),
        "SQLALCHEMY_DATABASE_URI": url,
        "SECRET_KEY": secrets.token_hex(32),
        "MASTER_KEY": new_key(),
        "SIGNING_KEY": new_key(),
        "LOGIN_RATE_LIMIT": "1000 per minute",
        # Tests run the ledger's sequencer themselves (tests/ledger_helpers.integrate).
        "LEDGER_SEQUENCER": "off",
        **FAST_HASHING,
        **overrides,
    }


def _migrate(instance: Path, url: str) -> None:
    app = create_app(_config(instance, url))
    with app.app_context():
        flask_migrate.upgrade()
        db.engine.dispose()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory) -> Path:
    """A SQLite file with every migration applied, copied for each test."""
    folder = tmp_path_factory.mktemp("sqlite-template")
    path = folder / "template.sqlite3"
    _migrate(folder, f"sqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def postgres_database(tmp_path_factory):
    """A PostgreSQL database of this run's own, migrated once and dropped at the end."""
    admin_url = make_url(POSTGRES_URL).set(drivername="postgresql+psycopg")
    name = f"sayso_test_{secrets.token_hex(4)}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = admin_url.set(database=name).render_as_string(hide_password=False)
    _migrate(tmp_path_factory.mktemp("pg-template"), url)
    yield url
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _empty_postgres(url: str) -> None:
    engine = create_engine(url)
    with engine.begin() as conn:
        tables = conn.scalars(
            text(
                "SELECT quote_ident(tablename) FROM pg_tables "
                "WHERE schemaname = 'public' AND tablename <> 'alembic_version'"
            )
        ).all()
        conn.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
    engine.dispose()


@pytest.fixture(params=BACKENDS)
def database_url(request, tmp_path) -> str:
    """A fresh, migrated database on each backend under test."""
    if request.param == "sqlite":
        path = tmp_path / "sayso.sqlite3"
        source = sqlite3.connect(request.getfixturevalue("sqlite_template"))
        target = sqlite3.connect(path)
        source.backup(target)
        source.close()
        target.close()
        return f"sqlite:///{path}"
    url = request.getfixturevalue("postgres_database")
    _empty_postgres(url)
    return url


@pytest.fixture
def app_factory(database_url, tmp_path):
    """Build apps on this test's database, with config overrides."""
    built = []

    def build(**overrides):
        app = create_app(_config(tmp_path / "instance", database_url, **overrides))
        built.append(app)
        return app

    yield build
    for app in built:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


@pytest.fixture
def app(app_factory, request):
    """The app with the test defaults, and the overrides a test passes by indirect
    parametrization (``@pytest.mark.parametrize("app", [{...}], indirect=True)``)."""
    return app_factory(**getattr(request, "param", {}))


@pytest.fixture
def client(app):
    """A test client for the app."""
    return app.test_client()


@pytest.fixture
def runner(app):
    """A CLI runner for the app's commands."""
    return app.test_cli_runner()
