"""Rotating the master key through ``sayso keys rotate``: what was written under the old
key reads the same after (brands' profile reads, consumers' pages, sign-in, webhooks), no
``sub`` changes, an interrupted rotation finishes when run again, Sayso keeps serving
while it runs, a retired key dropped too early is a clear error, and erasure still shreds.

Each test builds apps on one database with different keys, as an operator restarts Sayso
with a new configuration: ``OLD`` alone, then ``NEW`` with ``OLD`` retired, then ``NEW``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import signal
import subprocess
import sys
import time

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import select, update

from sayso import create_app
from sayso.config import ConfigError, decode_key, new_key
from sayso.extensions import db
from sayso.models import Account, AuditEvent, DataKey, OAuthClient
from sayso.services.webhooks import verify
from tests.functional.test_webhooks import Receiver
from tests.helpers import PASSWORD, api_headers, emailed, log_in, sign_up
from tests.oauth_helpers import bearer, connect, consent, exchange, make_brand, pkce, refresh
from tests.rights_helpers import disclosures_with

SESSION_KEY = new_key()


def _key_id(key: str) -> str:
    """A master key's id as Sayso prints it: written out here from its definition."""
    secret = decode_key(key, "test")
    return HKDF(hashes.SHA256(), 32, None, b"sayso/master-key-id/v1").derive(secret)[:8].hex()


def _sub_before_subject_keys(master_key: str, brand_id: str, pseudonym: str) -> str:
    """``sub`` as Sayso computed it before SAYSO_SUBJECT_KEY existed (from the master key)."""
    secret = decode_key(master_key, "test")
    key = HKDF(hashes.SHA256(), 32, None, b"sayso/pairwise-subject/v1").derive(secret)
    mac = hmac.new(key, f"{brand_id}/{pseudonym}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).decode().rstrip("=")


class Keys:
    """The master keys of one test, and apps built with them on the test's database."""

    def __init__(self, app_factory, tmp_path):
        self.old, self.new = new_key(), new_key()
        self._factory = app_factory
        self._tmp = tmp_path
        self.subject = None

    def app(self, current: str, retired=(), folder="instance", **overrides):
        """An app with ``current`` as SAYSO_MASTER_KEY and ``retired`` retired; each in an
        instance folder of its own unless told, so only SAYSO_SUBJECT_KEY keeps ``sub``."""
        if self.subject:
            overrides.setdefault("SUBJECT_KEY", self.subject)
        return self._factory(
            MASTER_KEY=current,
            MASTER_KEYS_RETIRED=",".join(retired),
            SECRET_KEY=SESSION_KEY,
            INSTANCE_PATH=str(self._tmp / folder),
            **overrides,
        )

    def env(self, app) -> dict:
        """The environment of a ``sayso`` process rotating from OLD to NEW."""
        return {
            **os.environ,
            "SAYSO_ENV": "testing",
            "SAYSO_DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"],
            "SAYSO_SECRET_KEY": SESSION_KEY,
            "SAYSO_MASTER_KEY": self.new,
            "SAYSO_MASTER_KEYS_RETIRED": self.old,
            "SAYSO_SUBJECT_KEY": self.subject,
            "SAYSO_INSTANCE_PATH": str(self._tmp / "cli"),
        }


@pytest.fixture
def keys(app_factory, tmp_path):
    return Keys(app_factory, tmp_path)


def _cli(app, *args):
    return app.test_cli_runner().invoke(args=list(args))


def _status(app) -> dict:
    result = _cli(app, "keys", "status", "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def _wraps(status: dict, key: str) -> tuple[int, int]:
    (row,) = [k for k in status["master_keys"] if k["id"] == _key_id(key)]
    return row["data_keys"], row["webhook_secrets"]


def _subject_key(app) -> str:
    """What an operator does first: print the subject key, to set it as SAYSO_SUBJECT_KEY."""
    result = app.test_cli_runner().invoke(args=["keys", "subject-key"])
    assert result.exit_code == 0, result.output
    return result.stdout.strip()


def _consumer(app, brand, email: str, marker: str) -> dict:
    """A consumer who disclosed ``marker`` and connected to the brand (with their token)."""
    client = app.test_client()
    assert sign_up(client, email).status_code == 302
    document = disclosures_with(marker)
    response = client.put("/api/v1/me/disclosures", json=document, headers=api_headers(client))
    assert response.status_code == 200
    token = connect(client, brand, ["interests", "channels"])
    return {"email": email, "document": document, "token": token}


def _consumers(app, brand, count: int) -> list[dict]:
    """``count`` consumers who disclosed a marker and connected to the brand."""
    return [
        _consumer(app, brand, f"consumer{number}@example.org", f"marker-{number}")
        for number in range(count)
    ]


def _read(app, consumer) -> dict:
    response = app.test_client().get(
        "/api/v1/profile", headers=bearer(consumer["token"]["access_token"])
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()


def _reads_as_written(app, consumers, subs=None) -> None:
    """Every consumer's brand read shows what they disclosed, under the ``sub`` it had."""
    for number, consumer in enumerate(consumers):
        document = _read(app, consumer)
        assert document["interests"] == consumer["document"]["interests"]
        assert document["channels"] == consumer["document"]["channels"]
        if subs is not None:
            assert document["sub"] == subs[number]


def _pages_show_what_was_written(app, consumer) -> None:
    """The consumer signs in (found by their email's index) and sees their data."""
    client = app.test_client()
    response = log_in(client, consumer["email"])
    assert response.status_code == 302, response.get_data(as_text=True)
    disclosed = client.get("/api/v1/me/disclosures").get_json()
    assert disclosed["interests"] == consumer["document"]["interests"]
    page = client.get("/disclosures").get_data(as_text=True)
    assert consumer["document"]["interests"][1]["text"] in page
    assert client.get("/account/data").status_code == 200


def _pseudonym(app, number: int) -> str:
    """The ledger pseudonym of the ``number``-th account."""
    with app.app_context():
        return db.session.scalars(select(Account.pseudonym).order_by(Account.id)).all()[number]


def test_a_rotation_keeps_every_value_readable_and_every_sub(keys):
    receiver = Receiver().start()
    try:
        old = keys.app(keys.old)
        brand = make_brand(old.test_cli_runner(), webhook=receiver.url)
        consumers = _consumers(old, brand, 3)
        subs = [_read(old, c)["sub"] for c in consumers]
        # The default subject key is the master key's subkey `sub` was derived with before:
        # upgrading changes no brand's `sub`.
        assert subs[0] == _sub_before_subject_keys(keys.old, brand["brand_id"], _pseudonym(old, 0))
        keys.subject = _subject_key(old)
        assert _wraps(_status(old), keys.old) == (3, 1)

        # Restarted with the new key, the old one retired: everything still reads.
        rotating = keys.app(keys.new, [keys.old], folder="rotating")
        _reads_as_written(rotating, consumers, subs)
        _pages_show_what_was_written(rotating, consumers[0])
        before = _status(rotating)
        assert _wraps(before, keys.old) == (3, 1)
        assert not [k for k in before["master_keys"] if k["droppable"]]

        result = _cli(rotating, "keys", "rotate", "--batch", "2")
        assert result.exit_code == 0, result.output
        assert "3 data keys re-wrapped, 1 webhook secrets re-sealed" in result.output
        assert f"retired master key {_key_id(keys.old)}: wraps 0 data keys" in result.output
        assert "can be removed from SAYSO_MASTER_KEYS_RETIRED" in result.output
        after = _status(rotating)
        assert _wraps(after, keys.new) == (3, 1) and _wraps(after, keys.old) == (0, 0)
        assert [k["id"] for k in after["master_keys"] if k["droppable"]] == [_key_id(keys.old)]
        # Run again, it has nothing left to do.
        again = _cli(rotating, "keys", "rotate")
        assert again.exit_code == 0 and "0 data keys re-wrapped" in again.output
        # Each run is in the ledger, naming key ids and counts, never a key.
        with rotating.app_context():
            said = [
                json.loads(details)
                for details in db.session.scalars(
                    select(AuditEvent.details)
                    .where(AuditEvent.type == "system:master_key:rotated")
                    .order_by(AuditEvent.seq)
                )
            ]
        assert said == [
            {"to": _key_id(keys.new), "data_keys": 3, "webhook_secrets": 1, "complete": True},
            {"to": _key_id(keys.new), "data_keys": 0, "webhook_secrets": 0, "complete": True},
        ]

        # The old key dropped: brands, consumers and webhooks see no difference.
        rotated = keys.app(keys.new, folder="rotated")
        _reads_as_written(rotated, consumers, subs)
        for consumer in consumers:
            _pages_show_what_was_written(rotated, consumer)
        client = rotated.test_client()
        log_in(client, consumers[1]["email"])
        response = client.delete(
            f"/api/v1/me/grants/{brand['brand_id']}", headers=api_headers(client)
        )
        assert response.status_code == 200
        delivered = _cli(rotated, "webhooks", "deliver", "--once")
        assert delivered.output.strip() == "delivered 1, retried 0, failed 0"
        (got,) = receiver.received
        assert verify(brand["webhook_secret"], got.body, got.headers["sayso-signature"])
        assert json.loads(got.body)["data"]["sub"] == subs[1]
    finally:
        receiver.stop()


def test_a_new_consumer_after_the_switch_and_the_rotation_reads_under_the_new_key(keys):
    old = keys.app(keys.old)
    brand = make_brand(old.test_cli_runner())
    keys.subject = _subject_key(old)
    rotating = keys.app(keys.new, [keys.old], folder="rotating")
    (newcomer,) = _consumers(rotating, brand, 1)
    assert _wraps(_status(rotating), keys.new) == (1, 0)
    assert _cli(rotating, "keys", "rotate").exit_code == 0
    rotated = keys.app(keys.new, folder="rotated")
    _reads_as_written(rotated, [newcomer])
    _pages_show_what_was_written(rotated, newcomer)
    # Signing up again with the same address makes no account (found under the new key's
    # index): the address is told someone tried, instead of getting a confirmation link.
    again = sign_up(rotated.test_client(), newcomer["email"])
    assert again.status_code == 200
    assert "Someone tried" in emailed(rotated, newcomer["email"])[-1]["Subject"]


def test_codes_and_refresh_retries_in_flight_survive_the_switch(keys):
    old = keys.app(keys.old)
    brand = make_brand(old.test_cli_runner())
    (consumer,) = _consumers(old, brand, 1)
    keys.subject = _subject_key(old)
    client = old.test_client()
    log_in(client, consumer["email"])
    verifier, challenge = pkce()
    code = consent(client, brand, ["interests"], challenge=challenge)["code"]
    first = refresh(old.test_client(), brand, consumer["token"]["refresh_token"]).get_json()

    rotating = keys.app(keys.new, [keys.old], folder="rotating")
    # A code sealed under the old key a moment ago is still exchanged...
    response = exchange(rotating.test_client(), brand, code, verifier)
    assert response.status_code == 200, response.get_data(as_text=True)
    # ...and a refresh whose answer was lost gets the same pair again.
    retried = refresh(rotating.test_client(), brand, consumer["token"]["refresh_token"])
    assert retried.status_code == 200
    assert retried.get_json()["access_token"] == first["access_token"]


def test_a_rotation_stopped_by_its_limit_finishes_when_run_again(keys):
    old = keys.app(keys.old)
    brand = make_brand(old.test_cli_runner())
    consumers = _consumers(old, brand, 3)
    subs = [_read(old, c)["sub"] for c in consumers]
    keys.subject = _subject_key(old)
    rotating = keys.app(keys.new, [keys.old], folder="rotating")

    first = _cli(rotating, "keys", "rotate", "--batch", "1", "--limit", "1")
    assert first.exit_code == 0, first.output
    assert "1 data keys re-wrapped" in first.output
    assert "not finished; run `sayso keys rotate` again" in first.output
    assert "still needed" in first.output
    midway = _status(rotating)
    assert _wraps(midway, keys.new) == (1, 0) and _wraps(midway, keys.old) == (2, 0)
    _reads_as_written(rotating, consumers, subs)

    second = _cli(rotating, "keys", "rotate", "--batch", "1")
    assert second.exit_code == 0, second.output
    assert "2 data keys re-wrapped" in second.output
    assert "can be removed" in second.output
    _reads_as_written(keys.app(keys.new, folder="rotated"), consumers, subs)


def _rotation_process(keys, app, *args) -> subprocess.Popen:
    command = [sys.executable, "-c", "from sayso.cli import main; main()", "keys", "rotate"]
    return subprocess.Popen(
        [*command, *args],
        env=keys.env(app),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _first_batch(process) -> str:
    """Read the process's output up to the first batch it committed."""
    lines = []
    for line in process.stdout:
        lines.append(line)
        if line.startswith("data keys: 1 re-wrapped"):
            return "".join(lines)
    process.wait(timeout=30)
    raise AssertionError("".join(lines))


def test_a_rotation_killed_midway_loses_nothing_and_finishes_when_run_again(keys):
    old = keys.app(keys.old)
    brand = make_brand(old.test_cli_runner())
    consumers = _consumers(old, brand, 4)
    subs = [_read(old, c)["sub"] for c in consumers]
    keys.subject = _subject_key(old)
    rotating = keys.app(keys.new, [keys.old], folder="rotating")

    process = _rotation_process(keys, rotating, "--batch", "1", "--pause", "0.5")
    try:
        _first_batch(process)
        process.kill()  # SIGKILL: no chance to finish anything
    finally:
        process.wait(timeout=30)
        process.stdout.close()
    midway = _status(rotating)
    assert 1 <= _wraps(midway, keys.new)[0] < 4
    assert _wraps(midway, keys.new)[0] + _wraps(midway, keys.old)[0] == 4
    _reads_as_written(rotating, consumers, subs)

    result = _cli(rotating, "keys", "rotate", "--batch", "1")
    assert result.exit_code == 0, result.output
    assert "can be removed" in result.output
    rotated = keys.app(keys.new, folder="rotated")
    _reads_as_written(rotated, consumers, subs)
    _pages_show_what_was_written(rotated, consumers[-1])


def test_sigterm_stops_a_rotation_after_its_batch(keys):
    old = keys.app(keys.old)
    brand = make_brand(old.test_cli_runner())
    consumers = _consumers(old, brand, 3)
    keys.subject = _subject_key(old)
    rotating = keys.app(keys.new, [keys.old], folder="rotating")
    process = _rotation_process(keys, rotating, "--batch", "1", "--pause", "1")
    try:
        _first_batch(process)
        process.send_signal(signal.SIGTERM)
        rest, _ = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0, rest
    assert "stopped: not finished" in rest
    assert "still needed" in rest
    _reads_as_written(rotating, consumers)


def test_sayso_serves_reads_and_writes_while_a_rotation_runs(keys):
    old = keys.app(keys.old)
    brand = make_brand(old.test_cli_runner())
    consumers = _consumers(old, brand, 4)
    subs = [_read(old, c)["sub"] for c in consumers]
    keys.subject = _subject_key(old)
    rotating = keys.app(keys.new, [keys.old], folder="rotating")
    editor = rotating.test_client()
    assert log_in(editor, consumers[0]["email"]).status_code == 302

    process = _rotation_process(keys, rotating, "--batch", "1", "--pause", "0.2")
    try:
        _first_batch(process)
        rounds, newcomers = 0, []
        while process.poll() is None or rounds < 2:
            rounds += 1
            _reads_as_written(rotating, consumers[1:], subs[1:])
            edited = disclosures_with(f"edited-{rounds}")
            response = editor.put(
                "/api/v1/me/disclosures", json=edited, headers=api_headers(editor)
            )
            assert response.status_code == 200, response.get_data(as_text=True)
            consumers[0]["document"] = edited
            assert _read(rotating, consumers[0])["interests"] == edited["interests"]
            if rounds <= 2:
                newcomers.append(
                    _consumer(rotating, brand, f"during{rounds}@example.org", f"during{rounds}")
                )
            time.sleep(0.05)
        output, _ = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0, output
    # Whatever was written meanwhile, under either key, reads with the old key dropped.
    rotated = keys.app(keys.new, folder="rotated")
    _reads_as_written(rotated, consumers, subs)
    _reads_as_written(rotated, newcomers)
    _pages_show_what_was_written(rotated, consumers[0])
    assert _wraps(_status(rotated), keys.new)[0] == 4 + len(newcomers)


def test_a_retired_key_dropped_too_early_is_a_clear_error_naming_it(keys):
    old = keys.app(keys.old)
    receiver = Receiver().start()
    try:
        brand = make_brand(old.test_cli_runner(), webhook=receiver.url)
        (consumer,) = _consumers(old, brand, 1)
        keys.subject = _subject_key(old)
        signed_in = old.test_client()
        log_in(signed_in, consumer["email"])

        early = keys.app(keys.new, folder="early")  # OLD dropped before any rotation
        response = early.test_client().get(
            "/api/v1/profile", headers=bearer(consumer["token"]["access_token"])
        )
        assert response.status_code == 503
        body = response.get_json()
        assert body["error"] == "master_key_missing"
        assert _key_id(keys.old) in body["message"]
        assert "SAYSO_MASTER_KEYS_RETIRED" in body["message"]

        # The consumer's own pages say the same (a page, not a 500).
        page = early.test_client()
        page.set_cookie("sayso_session", signed_in.get_cookie("sayso_session").value)
        for path in ("/disclosures", "/api/v1/me"):
            response = page.get(path)
            assert response.status_code == 503
            assert _key_id(keys.old) in response.get_data(as_text=True)

        # The operator is told which key, and what it still wraps.
        status = _cli(early, "keys", "status")
        assert f"MISSING master key {_key_id(keys.old)}: wraps 1 data keys, 1 webhook" in (
            status.output
        )
        rotate = _cli(early, "keys", "rotate")
        assert rotate.exit_code == 1
        assert f"need master key {_key_id(keys.old)}, which is not configured" in rotate.output
        assert "(the first: account 1)" in rotate.output

        # A webhook due meanwhile (the consumer revoked through a process still on OLD) is
        # not given up: it is tried again later, its error naming the key.
        revoke = signed_in.delete(
            f"/api/v1/me/grants/{brand['brand_id']}", headers=api_headers(signed_in)
        )
        assert revoke.status_code == 200, revoke.get_data(as_text=True)
        assert "retried 1" in _cli(early, "webhooks", "deliver", "--once").output
        assert receiver.received == []
        listed = _cli(early, "webhooks", "list").output
        assert "pending" in listed and _key_id(keys.old) in listed

        # The consumer cannot sign in (their address is indexed under the missing key), and
        # their address is not seen as taken.
        assert log_in(early.test_client(), consumer["email"]).status_code != 302
        assert sign_up(early.test_client(), consumer["email"]).status_code == 302

        # Put back, the consumer's data reads again; the rotation leaves their account,
        # whose address was taken meanwhile, under the old key, and says so.
        back = keys.app(keys.new, [keys.old], folder="back")
        _pages_show_what_was_written(back, consumer)
        rotate = _cli(back, "keys", "rotate")
        assert rotate.exit_code == 1
        assert "another account signed up with their email address" in rotate.output
        assert "(accounts 1)" in rotate.output
        assert _wraps(_status(back), keys.old) == (1, 0)
    finally:
        receiver.stop()


def test_erasure_still_shreds_during_and_after_a_rotation(keys):
    old = keys.app(keys.old)
    brand = make_brand(old.test_cli_runner())
    consumers = _consumers(old, brand, 3)
    keys.subject = _subject_key(old)
    rotating = keys.app(keys.new, [keys.old], folder="rotating")
    assert _cli(rotating, "keys", "rotate", "--batch", "1", "--limit", "1").exit_code == 0

    def erase(app, consumer) -> None:
        client = app.test_client()
        assert log_in(client, consumer["email"]).status_code == 302
        response = client.delete(
            "/api/v1/me", json={"password": PASSWORD}, headers=api_headers(client)
        )
        assert response.status_code == 204

    # Consumer n is account n + 1. The first batch re-wrapped account 1's key only: one
    # consumer is erased while their data key is still under the retired key...
    erase(rotating, consumers[2])
    result = _cli(rotating, "keys", "rotate")
    assert result.exit_code == 0, result.output
    assert "1 data keys re-wrapped" in result.output  # account 2's; account 3's is gone
    rotated = keys.app(keys.new, folder="rotated")
    # ...one after.
    erase(rotated, consumers[0])
    with rotated.app_context():
        assert db.session.scalars(select(DataKey.account_id)).all() == [2]
    for erased in (consumers[0], consumers[2]):
        response = rotated.test_client().get(
            "/api/v1/profile", headers=bearer(erased["token"]["access_token"])
        )
        assert response.status_code == 401
        assert log_in(rotated.test_client(), erased["email"]).status_code != 302
    _reads_as_written(rotated, [consumers[1]])
    assert _wraps(_status(rotated), keys.new) == (1, 0)


def test_a_database_from_before_key_ids_rotates(keys):
    """Data keys and webhook secrets written before wrapped keys named their master key
    (a bare seal; a nonce and ciphertext) read as before, and the rotation re-wraps them."""
    receiver = Receiver().start()
    try:
        old = keys.app(keys.old)
        brand = make_brand(old.test_cli_runner(), webhook=receiver.url)
        consumers = _consumers(old, brand, 2)
        subs = [_read(old, c)["sub"] for c in consumers]
        prefix = b"\x02" + bytes.fromhex(_key_id(keys.old))
        with old.app_context():
            # What 0011's code stored: the same seals, without the key id in front.
            for account_id, wrapped in db.session.execute(
                select(DataKey.account_id, DataKey.wrapped_key)
            ).all():
                assert wrapped.startswith(prefix + b"\x01")
                db.session.execute(
                    update(DataKey)
                    .where(DataKey.account_id == account_id)
                    .values(wrapped_key=wrapped[len(prefix) :])
                )
            sealed = db.session.scalar(select(OAuthClient.webhook_secret_sealed))
            assert sealed.startswith(prefix + b"\x01")
            db.session.execute(
                update(OAuthClient).values(webhook_secret_sealed=sealed[len(prefix) + 1 :])
            )
            db.session.commit()

        upgraded = keys.app(keys.old, folder="upgraded")  # same key, new code
        _reads_as_written(upgraded, consumers, subs)
        status = _status(upgraded)
        assert status["data_keys_without_key_id"] == 2
        assert _wraps(status, keys.old) == (0, 1)  # the secret is opened, so its key is known

        keys.subject = _subject_key(upgraded)
        rotating = keys.app(keys.new, [keys.old], folder="rotating")
        _reads_as_written(rotating, consumers, subs)
        _pages_show_what_was_written(rotating, consumers[0])
        result = _cli(rotating, "keys", "status")
        assert "data keys wrapped before master keys had ids: 2" in result.output
        assert "still needed" in result.output
        result = _cli(rotating, "keys", "rotate")
        assert result.exit_code == 0, result.output
        assert "2 data keys re-wrapped, 1 webhook secrets re-sealed" in result.output

        rotated = keys.app(keys.new, folder="rotated")
        assert _status(rotated)["data_keys_without_key_id"] == 0
        _reads_as_written(rotated, consumers, subs)
        for consumer in consumers:
            _pages_show_what_was_written(rotated, consumer)
        client = rotated.test_client()
        log_in(client, consumers[0]["email"])
        client.delete(f"/api/v1/me/grants/{brand['brand_id']}", headers=api_headers(client))
        assert (
            _cli(rotated, "webhooks", "deliver", "--once").output.strip().startswith("delivered 1")
        )
        (got,) = receiver.received
        assert verify(brand["webhook_secret"], got.body, got.headers["sayso-signature"])
    finally:
        receiver.stop()


def test_rotating_without_a_subject_key_is_refused_before_any_sub_changes(tmp_path, monkeypatch):
    for name in ("SAYSO_SUBJECT_KEY", "SAYSO_MASTER_KEYS_RETIRED"):
        monkeypatch.delenv(name, raising=False)
    old, new = new_key(), new_key()
    production = {
        "ENV": "production",
        "INSTANCE_PATH": str(tmp_path),
        "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/prod.sqlite3",
        "SECRET_KEY": new_key(),
        "SIGNING_KEY": new_key(),
        "ISSUER": "https://sayso.example",
        "MAIL_URL": "smtp://mail.example:587",
    }
    monkeypatch.setenv("SAYSO_MASTER_KEY", old)
    before = create_app(production)
    derived = before.test_cli_runner().invoke(args=["keys", "subject-key"])
    assert "derived from SAYSO_MASTER_KEY" in derived.stderr
    secret = HKDF(hashes.SHA256(), 32, None, b"sayso/pairwise-subject/v1").derive(
        decode_key(old, "test")
    )
    assert decode_key(derived.stdout.strip(), "test") == secret

    monkeypatch.setenv("SAYSO_MASTER_KEY", new)
    monkeypatch.setenv("SAYSO_MASTER_KEYS_RETIRED", old)
    with pytest.raises(ConfigError, match="SAYSO_SUBJECT_KEY must be set"):
        create_app(production)
    # In development too, unless the subject key was stored in the instance folder.
    with pytest.raises(ConfigError, match="SAYSO_SUBJECT_KEY must be set"):
        create_app({**production, "ENV": "testing", "INSTANCE_PATH": str(tmp_path / "dev")})

    monkeypatch.setenv("SAYSO_SUBJECT_KEY", derived.stdout.strip())
    after = create_app(production)
    assert after.config["SUBJECT_KEY_BYTES"] == secret
    assert after.config["SUBJECT_KEY_SOURCE"] == "SAYSO_SUBJECT_KEY"


def test_in_development_the_subject_key_is_derived_once_and_stays(app_factory, tmp_path):
    old, new = new_key(), new_key()
    first = app_factory(MASTER_KEY=old)
    stored = tmp_path / "instance" / "secrets" / "subject_key"
    assert stored.stat().st_mode & 0o077 == 0
    rotated = app_factory(MASTER_KEY=new, MASTER_KEYS_RETIRED=[old])
    assert rotated.config["SUBJECT_KEY_BYTES"] == first.config["SUBJECT_KEY_BYTES"]
    assert rotated.config["SUBJECT_KEY_SOURCE"] == str(stored)
