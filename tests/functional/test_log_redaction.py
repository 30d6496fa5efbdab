"""No token reaches a log line: not gunicorn's access log, not werkzeug's, not Sayso's own,
whichever query parameter carries it (sayso.logs)."""

from __future__ import annotations

import logging
import threading
import time
import urllib.error
import urllib.request

import pytest
from werkzeug.serving import make_server

from tests.oauth_helpers import make_brand
from tests.servers import gunicorn

# What a careless brand puts in a URL, one parameter of each credential-carrying kind.
LEAKS = {
    "access_token": "AT-0f4e1c2b9d8a7",
    "refresh_token": "RT-5b6c7d8e9f0a1",
    "token": "TK-2c3d4e5f6a7b8",
    "code": "CD-9a8b7c6d5e4f3",
    "code_verifier": "CV-1a2b3c4d5e6f7",
    "client_secret": "sayso_cs_3e4f5a6b7c8d9e0f1a2b",
}
QUERY = "&".join(f"{name}={value}" for name, value in LEAKS.items()) + "&state=kept-visible"


def _get(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310  (loopback)
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def _post(url: str, headers: dict | None = None) -> int:
    request = urllib.request.Request(  # noqa: S310  (loopback)
        url,
        data=b"{}",
        headers={"Content-Type": "application/json", **(headers or {})},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def _assert_redacted(text: str, *secrets: str) -> None:
    for secret in (*LEAKS.values(), *secrets):
        assert secret not in text
    assert "access_token=[redacted]" in text
    assert "kept-visible" in text  # only credentials are blanked


@pytest.fixture
def gunicorn_with_access_log(database_url, tmp_path):
    """Sayso under gunicorn, its access log in a file, on this test's database."""
    access_log = tmp_path / "access.log"
    with gunicorn(
        database_url,
        tmp_path,
        workers=1,
        threads=1,
        args=("--access-logfile", str(access_log)),
        LOG_LEVEL="INFO",
    ) as server:
        yield server.url, access_log, server.log


def test_gunicorns_access_log_holds_no_token(gunicorn_with_access_log, runner):
    base, access_log, output = gunicorn_with_access_log
    brand = make_brand(runner)
    issued = runner.invoke(args=["brands", "initial-token", brand["brand_id"]])
    initial_token = issued.output.strip()
    assert _get(f"{base}/api/v1/profile?{QUERY}") == 400
    assert _post(f"{base}/oauth/register?access_token={initial_token}&state=kept-visible") == 400
    # Revoked by the server, as any token sent in a URL: the header no longer helps.
    authorized = {"Authorization": f"Bearer {initial_token}"}
    assert _post(f"{base}/oauth/register", authorized) == 401
    deadline = time.monotonic() + 10
    while access_log.read_text().count("\n") < 4 and time.monotonic() < deadline:
        time.sleep(0.05)  # gunicorn writes the line after the response
    logged = access_log.read_text() + output.read_text(errors="replace")
    assert "/api/v1/profile?" in logged and "/oauth/register?" in logged
    _assert_redacted(logged, initial_token)


def test_werkzeugs_request_log_holds_no_token(app, caplog):
    caplog.set_level(logging.INFO)
    server = make_server("127.0.0.1", 0, app)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        assert _get(f"http://127.0.0.1:{server.server_port}/api/v1/profile?{QUERY}") == 400
    finally:
        server.shutdown()
        thread.join(timeout=10)
    logged = "\n".join(r.getMessage() for r in caplog.records if r.name == "werkzeug")
    assert "GET /api/v1/profile?" in logged
    _assert_redacted(logged)


@pytest.mark.parametrize(
    ("message", "args"),
    [
        ("callback %s", ("https://shop.example/cb?code=CD-9a8b7c6d5e4f3&state=kept-visible",)),
        ("callback https://shop.example/cb?code=CD-9a8b7c6d5e4f3&state=kept-visible", ()),
        ("%(r)s", ({"r": "GET /x?CODE=CD-9a8b7c6d5e4f3&state=kept-visible HTTP/1.1"},)),
        ("%s", ("GET /x?access%5Ftoken=AT-0f4e1c2b9d8a7&state=kept-visible",)),
        ("issued %s", ("sayso_iat_Zk3dJq8pLm2nXv7cR1tY5wB9aE4hG6sU0oI",)),
    ],
)
def test_sayso_s_own_log_records_hold_no_token(app, caplog, message, args):
    caplog.set_level(logging.INFO)
    logging.getLogger("sayso.tests").info(message, *args)
    (record,) = [r for r in caplog.records if r.name == "sayso.tests"]
    text = record.getMessage()
    assert "CD-9a8b7c6d5e4f3" not in text and "AT-0f4e1c2b9d8a7" not in text
    assert "Zk3dJq8pLm2nXv7cR1tY5wB9aE4hG6sU0oI" not in text
    assert "[redacted]" in text
