"""Small helpers the tests share: CSRF tokens from pages, signing up and in over HTTP,
counting the SQL statements a block of requests runs."""

from __future__ import annotations

import re
from contextlib import contextmanager

from sqlalchemy import event

from sayso.extensions import db

PASSWORD = "correct horse battery"
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_token(client, path: str = "/login") -> str:
    """The CSRF token a page hands out (the same one a browser would post back)."""
    html = client.get(path).get_data(as_text=True)
    match = _CSRF.search(html)
    assert match, f"no CSRF token on {path}"
    return match.group(1)


def sign_up(client, email: str, password: str = PASSWORD):
    """Sign up through the page, as a person would."""
    token = csrf_token(client, "/signup")
    return client.post("/signup", data={"email": email, "password": password, "csrf_token": token})


def log_in(client, email: str, password: str = PASSWORD, next: str = ""):
    """Sign in through the page."""
    token = csrf_token(client, "/login")
    return client.post(
        "/login",
        data={"email": email, "password": password, "csrf_token": token, "next": next},
    )


def api_headers(client) -> dict:
    """Headers for a session-authenticated JSON write: the CSRF token from ``/api/v1/me``."""
    token = client.get("/api/v1/me").get_json()["csrf_token"]
    return {"X-CSRFToken": token}


@contextmanager
def counting(app):
    """Every SQL statement the app executes inside the block."""
    statements: list[str] = []

    def record(_conn, _cursor, statement, _parameters, _context, _executemany):
        statements.append(" ".join(statement.split()))

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", record)
