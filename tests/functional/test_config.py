"""Configuration: environment overrides, generated development secrets, production demands."""

import logging
import multiprocessing

import pytest

from sayso import create_app
from sayso.config import ConfigError, new_key


def test_production_without_secrets_refuses_to_start(tmp_path, monkeypatch):
    monkeypatch.delenv("SAYSO_SECRET_KEY", raising=False)
    monkeypatch.delenv("SAYSO_MASTER_KEY", raising=False)
    monkeypatch.delenv("SAYSO_SIGNING_KEY", raising=False)
    monkeypatch.delenv("SAYSO_DATABASE_URL", raising=False)
    with pytest.raises(ConfigError, match="SAYSO_DATABASE_URL, SAYSO_SECRET_KEY, SAYSO_MASTER_KEY"):
        create_app({"ENV": "production", "INSTANCE_PATH": str(tmp_path)})
    assert not (tmp_path / "secrets").exists()


def test_production_defaults_to_secure_cookies(tmp_path, monkeypatch):
    monkeypatch.setenv("SAYSO_ENV", "production")
    monkeypatch.setenv("SAYSO_DATABASE_URL", f"sqlite:///{tmp_path}/prod.sqlite3")
    monkeypatch.setenv("SAYSO_SECRET_KEY", new_key())
    monkeypatch.setenv("SAYSO_MASTER_KEY", new_key())
    monkeypatch.setenv("SAYSO_SIGNING_KEY", new_key())
    monkeypatch.setenv("SAYSO_ISSUER", "https://sayso.example")
    monkeypatch.setenv("SAYSO_MAIL_URL", "smtps://sayso:secret@mail.example")
    monkeypatch.delenv("SAYSO_COOKIE_SECURE", raising=False)
    app = create_app({"INSTANCE_PATH": str(tmp_path)})
    assert app.config["SESSION_COOKIE_SECURE"] is True
    assert "Strict-Transport-Security" in app.test_client().get("/healthz").headers


def test_development_generates_secrets_once_and_says_so(tmp_path, monkeypatch, caplog):
    monkeypatch.delenv("SAYSO_SECRET_KEY", raising=False)
    monkeypatch.delenv("SAYSO_MASTER_KEY", raising=False)
    monkeypatch.delenv("SAYSO_SIGNING_KEY", raising=False)
    with caplog.at_level(logging.WARNING, logger="sayso.config"):
        first = create_app({"INSTANCE_PATH": str(tmp_path)})
    assert "generated MASTER_KEY" in caplog.text
    assert (tmp_path / "secrets" / "master_key").stat().st_mode & 0o077 == 0
    second = create_app({"INSTANCE_PATH": str(tmp_path)})
    assert first.config["MASTER_KEY"] == second.config["MASTER_KEY"]
    assert first.config["SECRET_KEY"] == second.config["SECRET_KEY"]
    assert first.config["SQLALCHEMY_DATABASE_URI"].endswith("sayso.sqlite3")


def _start_worker(instance: str, start, results) -> None:
    # One gunicorn worker, in a process of its own as gunicorn forks them.
    start.wait()
    try:
        app = create_app({"INSTANCE_PATH": instance})
        results.put(
            (app.config["MASTER_KEY"], app.config["SIGNING_KEY"], app.config["SUBJECT_KEY_BYTES"])
        )
    except Exception as error:
        results.put(repr(error))


def test_workers_starting_together_share_one_whole_generated_key(tmp_path, monkeypatch):
    # gunicorn starts its workers at the same moment: none may read a key another is
    # still writing, nor write a second one. Processes, as gunicorn's workers are (threads
    # would also meet CPython 3.11's ast.parse race in werkzeug's route compiler).
    for name in ("SAYSO_SECRET_KEY", "SAYSO_MASTER_KEY", "SAYSO_SIGNING_KEY"):
        monkeypatch.delenv(name, raising=False)
    forked = multiprocessing.get_context("fork")
    start, results = forked.Barrier(8), forked.Queue()
    workers = [
        forked.Process(target=_start_worker, args=(str(tmp_path), start, results)) for _ in range(8)
    ]
    for worker in workers:
        worker.start()
    keys = [results.get(timeout=60) for _ in workers]
    for worker in workers:
        worker.join(timeout=60)
    assert all(isinstance(k, tuple) for k in keys), keys
    assert len(set(keys)) == 1
    assert sorted(p.name for p in (tmp_path / "secrets").iterdir()) == [
        "master_key",
        "secret_key",
        "signing_key",
        "subject_key",
    ]  # no temporary file left behind


def test_environment_variables_override_defaults(tmp_path, monkeypatch):
    monkeypatch.setenv("SAYSO_LOGIN_MAX_FAILURES", "7")
    monkeypatch.setenv("SAYSO_DATABASE_URL", "postgresql://u@db.internal/sayso")
    monkeypatch.setenv("SAYSO_COOKIE_SECURE", "true")
    app = create_app({"INSTANCE_PATH": str(tmp_path)})
    assert app.config["LOGIN_MAX_FAILURES"] == 7
    assert app.config["SQLALCHEMY_DATABASE_URI"] == "postgresql+psycopg://u@db.internal/sayso"
    assert app.config["SESSION_COOKIE_SECURE"] is True


@pytest.mark.parametrize(
    ("var", "value", "message"),
    [
        ("SAYSO_MASTER_KEY", "c2hvcnQ", "32 bytes"),
        ("SAYSO_MASTER_KEY", "!!!not base64!!!", "SAYSO_MASTER_KEY"),
        ("SAYSO_MASTER_KEYS_RETIRED", "c2hvcnQ", r"SAYSO_MASTER_KEYS_RETIRED \(key 1\).*32 bytes"),
        ("SAYSO_MASTER_KEYS_RETIRED", f"{'A' * 43}, !!!", r"SAYSO_MASTER_KEYS_RETIRED \(key 2\)"),
        ("SAYSO_SUBJECT_KEY", "c2hvcnQ", "SAYSO_SUBJECT_KEY must decode to 32 bytes"),
        ("SAYSO_LOGIN_MAX_FAILURES", "many", "SAYSO_LOGIN_MAX_FAILURES"),
        ("SAYSO_ENV", "staging", "SAYSO_ENV"),
        ("SAYSO_LOG_LEVEL", "LOUD", "SAYSO_LOG_LEVEL"),
        ("SAYSO_LOGIN_RATE_LIMIT", "lots", "SAYSO_LOGIN_RATE_LIMIT"),
        ("SAYSO_COOKIE_SECURE", "maybe", "SAYSO_COOKIE_SECURE"),
        ("SAYSO_TRUSTED_PROXIES", "-1", "SAYSO_TRUSTED_PROXIES"),
        ("SAYSO_DATA_KEY_CACHE_SECONDS", "86400", "SAYSO_DATA_KEY_CACHE_SECONDS"),
        ("SAYSO_DATA_KEY_CACHE_SECONDS", "-1", "SAYSO_DATA_KEY_CACHE_SECONDS"),
    ],
)
def test_bad_settings_fail_at_startup_naming_the_variable(
    tmp_path, monkeypatch, var, value, message
):
    monkeypatch.setenv(var, value)
    with pytest.raises(ConfigError, match=message):
        create_app({"INSTANCE_PATH": str(tmp_path)})
