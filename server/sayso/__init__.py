"""Sayso, a consent broker."""

from __future__ import annotations

import os
from pathlib import Path

from flask import Flask

__all__ = ["create_app"]


def create_app(test_config: dict | None = None) -> Flask:
    """Build the Sayso application; ``test_config`` overrides everything else."""
    from sayso import config, errors, i18n, logs, models, security  # noqa: F401  (models: tables)
    from sayso.db import GroupCommit, configure_engine, engine_options, normalize_url
    from sayso.extensions import csrf, db, limiter, login_manager, migrate

    instance_path = (test_config or {}).get("INSTANCE_PATH") or os.environ.get(
        "SAYSO_INSTANCE_PATH"
    )
    app = security.SafeMethodsFlask(
        __name__, instance_path=instance_path, instance_relative_config=True
    )
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    config.load_config(app, test_config)
    from sayso.ledger import LedgerKey
    from sayso.services.vault import DataKeyCache

    app.extensions["sayso_ledger_key"] = LedgerKey(
        app.config["SIGNING_KEY_BYTES"], app.config["LEDGER_ORIGIN"]
    )
    app.extensions["sayso_data_keys"] = DataKeyCache(app.config["DATA_KEY_CACHE_SECONDS"])
    logs.init_app(app)  # the level, and no secret in any log line

    url = normalize_url(app.config["SQLALCHEMY_DATABASE_URI"])
    app.config["SQLALCHEMY_DATABASE_URI"] = url
    app.config["SQLALCHEMY_ENGINE_OPTIONS"] = {
        **engine_options(url),
        **app.config["SQLALCHEMY_ENGINE_OPTIONS"],
    }

    if app.config["TRUSTED_PROXIES"]:
        from werkzeug.middleware.proxy_fix import ProxyFix

        hops = app.config["TRUSTED_PROXIES"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)

    db.init_app(app)
    migrate.init_app(
        app, db, directory=str(Path(__file__).parent / "migrations"), render_as_batch=True
    )
    csrf.init_app(app)
    limiter.init_app(app)
    login_manager.init_app(app)
    i18n.init_app(app)  # the page's language, and dates and numbers in it
    with app.app_context():
        configure_engine(db.engine)
        # SQLite: profile reads share a transaction and its commit (one fsync for many).
        # PostgreSQL: each read has its own (a group's members would take turns on one
        # connection, a round trip each, and a network link makes that a queue).
        if db.engine.dialect.name == "sqlite":
            app.extensions["sayso_read_groups"] = GroupCommit(db.engine)

    from sayso import auth, commands, mail_background
    from sayso.api import bp as api_bp
    from sayso.console import bp as console_bp
    from sayso.health import bp as health_bp
    from sayso.ledger import runner
    from sayso.oauth import bp as oauth_bp
    from sayso.oauth import resource
    from sayso.oauth.server import build_server
    from sayso.portal import bp as portal_bp
    from sayso.transparency import bp as ledger_bp
    from sayso.web import bp as web_bp
    from sayso.wellknown import bp as wellknown_bp

    auth.init_app(app)
    errors.init_app(app)
    resource.init_app(app)
    security.init_app(app)
    build_server(app)
    app.register_blueprint(web_bp)
    app.register_blueprint(api_bp)
    app.register_blueprint(console_bp)
    app.register_blueprint(health_bp)
    app.register_blueprint(ledger_bp)
    app.register_blueprint(oauth_bp)
    app.register_blueprint(portal_bp)
    app.register_blueprint(wellknown_bp)
    commands.init_app(app)
    runner.init_app(app)
    mail_background.init_app(app)
    return app
