"""The ``sayso`` command's own commands."""

import json
import os
import subprocess
import sys

from sayso import services
from sayso.extensions import db
from sayso.fields import FIELDS
from tests.helpers import log_in
from tests.ledger_helpers import rewrite_event


def test_consumers_create_reads_the_password_from_stdin(app, runner):
    result = runner.invoke(
        args=["consumers", "create", "ada@example.org", "--password-stdin"],
        input="a long enough password\n",
    )
    assert result.exit_code == 0, result.output
    assert log_in(app.test_client(), "ada@example.org", "a long enough password").status_code == 302


def test_consumers_create_refuses_a_short_password_and_a_taken_email(runner):
    args = ["consumers", "create", "ada@example.org", "--password-stdin"]
    assert runner.invoke(args=args, input="short\n").exit_code == 1
    assert runner.invoke(args=args, input="a long enough password\n").exit_code == 0
    result = runner.invoke(args=args, input="a long enough password\n")
    assert result.exit_code == 1
    assert "exists" in result.output


def test_demo_is_idempotent_and_its_login_works(app, runner):
    first = runner.invoke(args=["demo", "--json"])
    second = runner.invoke(args=["demo", "--json"])
    assert first.exit_code == second.exit_code == 0
    login = json.loads(first.output)
    assert login == json.loads(second.output)
    client = app.test_client()
    assert log_in(client, login["email"], login["password"]).status_code == 302
    assert set(client.get("/api/v1/me/disclosures").get_json()) == set(FIELDS)


def test_demo_is_refused_in_production(app_factory):
    app = app_factory(
        ENV="production", ISSUER="https://sayso.example", MAIL_URL="smtp://mail.example:587"
    )
    result = app.test_cli_runner().invoke(args=["demo"])
    assert result.exit_code == 1
    assert "production" in result.output


def test_audit_verify_exits_0_when_intact_and_1_naming_the_bad_leaf(app, runner, tmp_path):
    runner.invoke(args=["demo"])
    signed = runner.invoke(args=["audit", "checkpoint"])  # integrates, signs, prints it
    assert signed.exit_code == 0 and signed.output.startswith("sayso.localhost/ledger\n")
    held = tmp_path / "checkpoint.txt"
    held.write_text(signed.output)
    intact = runner.invoke(args=["audit", "verify", "--trusted-checkpoint", str(held)])
    assert intact.exit_code == 0, intact.output
    assert "ledger intact" in intact.output and "1 trusted checkpoints proven" in intact.output
    with app.app_context():
        rewrite_event(db.session, 2, actor="forger")
        db.session.commit()
    broken = runner.invoke(args=["audit", "verify"])
    assert broken.exit_code == 1
    assert "at leaf 1" in broken.output


def _create(runner, name, *domains):
    args = ["brands", "create", name, "--redirect-uri", "https://shop.example/cb", "--json"]
    for domain in domains:
        args += ["--domain", domain]
    return runner.invoke(args=[*args, "--scope", "interests:read=recommend books"])


def test_brands_create_refuses_a_blank_name_and_stores_names_trimmed(app, runner):
    blank = _create(runner, "   ", "shop.example")
    assert blank.exit_code == 1 and "name" in blank.output
    created = _create(runner, "  Shop  ", "shop.example")
    assert created.exit_code == 0, created.output
    with app.app_context():
        brand = services.brands().by_public_id(json.loads(created.output)["brand_id"])
        assert brand.name == "Shop" and [c.name for c in brand.clients] == ["Shop"]


def test_brands_create_takes_a_domain_given_twice_once(app, runner):
    created = _create(runner, "Shop", "shop.example", "SHOP.example")
    assert created.exit_code == 0, created.output
    with app.app_context():
        brand = services.brands().by_public_id(json.loads(created.output)["brand_id"])
        assert [d.domain for d in brand.domains] == ["shop.example"]


def _sayso(*args, env):
    """The ``sayso`` console script, as a person runs it."""
    command = [sys.executable, "-c", "from sayso.cli import main; main()", *args]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)


def test_the_console_script_says_in_one_line_what_to_do_instead_of_a_traceback(tmp_path):
    base = {k: v for k, v in os.environ.items() if not k.startswith("SAYSO_")}
    base["SAYSO_INSTANCE_PATH"] = str(tmp_path / "instance")
    unmigrated = _sayso("brands", "list", env=base)
    assert unmigrated.returncode == 1 and "Traceback" not in unmigrated.stderr
    assert "run `sayso db upgrade` first" in unmigrated.stderr
    bad = _sayso("brands", "list", env={**base, "SAYSO_LOGIN_MAX_FAILURES": "many"})
    assert bad.returncode == 1 and "Traceback" not in bad.stderr
    assert "sayso: SAYSO_LOGIN_MAX_FAILURES is not valid" in bad.stderr
