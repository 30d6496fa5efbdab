"""Nothing a consumer discloses, nor their email, is stored in plaintext."""

from pathlib import Path

from sqlalchemy import inspect, text
from sqlalchemy.engine import make_url

from sayso.extensions import db
from tests.helpers import api_headers, sign_up

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
