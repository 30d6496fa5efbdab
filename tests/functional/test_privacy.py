"""Nothing a consumer discloses, nor their email, is stored in plaintext."""

import logging
from pathlib import Path

import pytest
from sqlalchemy import inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from sayso.extensions import db
from tests.helpers import api_headers, sign_up
from tests.oauth_helpers import basic, bearer, connect, make_brand, refresh

MARKERS = ["quokka-enthusiast", "Pacific/Chatham", "plaintext-canary@example.org"]


def _database_bytes(app) -> bytes:
    """Everything the database holds, as bytes: the files for SQLite, every row for PostgreSQL."""
    with app.app_context():
        url = make_url(app.config["SQLALCHEMY_DATABASE_URI"])
        if url.get_backend_name() == "sqlite":
            db.session.remove()
            db.engine.dispose()
            base = Path(url.database)
            files = [base, base.with_name(base.name + "-wal")]
            return b"".join(f.read_bytes() for f in files if f.exists())
        dump = []
        for table in inspect(db.engine).get_table_names():
            rows = db.session.execute(text(f'SELECT row_to_json(t)::text FROM "{table}" t'))
            dump.extend(row[0] for row in rows)
        return "\n".join(dump).encode()


def test_database_holds_no_plaintext_disclosure_or_email(app, client):
    sign_up(client, MARKERS[2])
    body = {
        "interests": [{"text": MARKERS[0]}],
        "channels": [
            {
                "channel": "email",
                "max_per_week": 3,
                "quiet_hours": {"start": "22:00", "end": "07:00", "tz": MARKERS[1]},
            }
        ],
    }
    assert (
        client.put("/api/v1/me/disclosures", json=body, headers=api_headers(client)).status_code
        == 200
    )
    # The values are really there, and readable through the API...
    assert client.get("/api/v1/me/disclosures").get_json() == body
    # ...but not in the database, in any encoding a reader would try.
    stored = _database_bytes(app)
    assert len(stored) > 0
    for marker in MARKERS:
        for encoded in (marker.encode(), marker.encode("utf-16-le"), marker.lower().encode()):
            assert encoded not in stored, marker


def test_no_token_secret_or_value_reaches_a_log_even_at_debug(app_factory, caplog):
    # The most verbose level an operator can set: sign-up, disclosures, a brand's whole
    # OAuth flow (code, token, refresh, read, introspection) and a failing statement.
    app = app_factory(LOG_LEVEL="DEBUG")
    caplog.set_level(logging.DEBUG)
    client = app.test_client()
    sign_up(client, MARKERS[2])
    body = {"interests": [{"text": MARKERS[0]}]}
    put = client.put("/api/v1/me/disclosures", json=body, headers=api_headers(client))
    assert put.status_code == 200
    brand = make_brand(app.test_cli_runner())
    token = connect(client, brand, ["interests"], scope="interests:read")
    refreshed = refresh(client, brand, token["refresh_token"]).get_json()
    read = client.get("/api/v1/profile", headers=bearer(refreshed["access_token"]))
    assert read.get_json()["interests"] == [{"text": MARKERS[0]}]
    client.post(
        "/oauth/introspect", data={"token": refreshed["access_token"]}, headers=basic(brand)
    )
    with app.app_context(), pytest.raises(DBAPIError) as failed:
        db.session.execute(
            text("INSERT INTO no_such_table (x) VALUES (:marker)"), {"marker": MARKERS[0]}
        )
    assert MARKERS[0] not in str(failed.value)  # statement parameters stay out of errors
    logging.getLogger("sayso.tests").debug("canary")  # DEBUG records are captured here
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert "canary" in logged and "Issue token" not in logged
    secrets = [
        token["access_token"],
        token["refresh_token"],
        refreshed["access_token"],
        refreshed["refresh_token"],
        brand["client_secret"],
        *MARKERS[:1],
        MARKERS[2],
    ]
    for secret in secrets:
        assert secret not in logged
