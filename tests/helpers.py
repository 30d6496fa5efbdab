"""Small helpers the tests share: CSRF tokens from pages, signing up and in over HTTP,
counting the SQL statements a block of requests runs, running threads at once, and
requests made while SQLite's write lock is held elsewhere, and whether its writer queue is
free."""

from __future__ import annotations

import fcntl
import os
import re
import sqlite3
import threading
from collections.abc import Callable
from contextlib import contextmanager
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path

from sqlalchemy import event

from sayso import services
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
    """Sign up through the page, as a person would, then follow the emailed confirmation
    link (delivered by the mail worker into the instance's mail folder) and confirm with
    the password: the answer that signs in (302), as signing up did before addresses were
    confirmed. When no confirmation link comes (the address has an account), the sign-up
    page's answer."""
    token = csrf_token(client, "/signup")
    form = {"email": email, "password": password, "csrf_token": token}
    answer = client.post("/signup", data=form)
    if answer.status_code != 200:
        return answer
    link = emailed_link(client.application, email, "/account/confirm/")
    if link is None:
        return answer
    return confirm_address(client, link, password)


def signed_up_unconfirmed(client, email: str, password: str = PASSWORD):
    """Sign up through the page and sign in, leaving the address unconfirmed."""
    token = csrf_token(client, "/signup")
    client.post("/signup", data={"email": email, "password": password, "csrf_token": token})
    return log_in(client, email, password)


def confirm_address(client, link: str, password: str = PASSWORD):
    """Open an emailed confirmation link and confirm with the password, as a person would."""
    token = csrf_token(client, link)
    return client.post(link, data={"password": password, "csrf_token": token})


def emailed(app, email: str) -> list[EmailMessage]:
    """Every message to ``email`` so far, oldest first: the mail worker runs a round first,
    writing what is due into the instance's mail folder (no SAYSO_MAIL_URL in tests)."""
    with app.app_context():
        services.mail().deliver_due()
    folder = Path(app.instance_path) / "mail"
    messages = [
        BytesParser(policy=policy.default).parsebytes(path.read_bytes())
        for path in sorted(folder.glob("*.eml"))
    ]
    return [m for m in messages if m["To"].addresses[0].addr_spec.casefold() == email.casefold()]


def link_in(message: EmailMessage, path: str) -> str | None:
    """The path and query of the link to ``path...`` in a message's text, if it has one."""
    found = re.search(rf"https?://[^/\s]+({re.escape(path)}\S+)", message.get_content())
    return found.group(1) if found else None


def emailed_link(app, email: str, path: str) -> str | None:
    """The link to ``path...`` in the newest message to ``email``, if it has one."""
    messages = emailed(app, email)
    return link_in(messages[-1], path) if messages else None


def log_in(client, email: str, password: str = PASSWORD, next: str = ""):
    """Sign in through the page."""
    token = csrf_token(client, "/login")
    return client.post(
        "/login",
        data={"email": email, "password": password, "csrf_token": token, "next": next},
    )


def disclosing_consumer(client, email: str = "ada@example.org"):
    """``client``, signed up as ``email``, who has disclosed an interest."""
    sign_up(client, email)
    response = client.put(
        "/api/v1/me/disclosures",
        json={"interests": [{"text": "crime fiction"}]},
        headers=api_headers(client),
    )
    assert response.status_code == 200
    return client


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


def run_together(count: int, member) -> list:
    """``member(i, arrived)`` in ``count`` threads, where ``arrived`` is a barrier for all
    of them to start from together; what each returned or raised (an error is reported
    by the test, rather than lost in its thread)."""
    arrived = threading.Barrier(count)
    outcomes: list = [None] * count

    def run(i):
        try:
            outcomes[i] = member(i, arrived)
        except BaseException as error:
            outcomes[i] = error

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads), "a thread did not finish"
    return outcomes


def answered_without_waiting_for_sqlite_s_lock(
    app, ask: Callable[[list], None], seconds: float = 20
) -> list:
    """What ``ask(answers)`` appended to ``answers``, asked in a thread while another
    connection holds SQLite's write lock (as a long ledger append would). Fails if it has
    not finished within ``seconds``, i.e. if it waited for the lock. On PostgreSQL it just
    runs."""
    with app.app_context():
        path = db.engine.url.database if db.engine.dialect.name == "sqlite" else None
    writer = None
    if path is not None:
        writer = sqlite3.connect(path, isolation_level=None)
        writer.execute("BEGIN IMMEDIATE")
    answers: list = []
    asking = threading.Thread(target=ask, args=(answers,))
    try:
        asking.start()
        asking.join(timeout=seconds)
        assert not asking.is_alive(), f"waited for the write lock after {answers[-1:]}"
    finally:
        if writer is not None:
            writer.rollback()
            writer.close()
        asking.join()
    return answers


def writer_queue_is_free(database_path: str) -> bool:
    """Whether a writer could join SQLite's writer queue (db.sqlite.WriterQueue) at once."""
    fd = os.open(database_path + ".writers", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    finally:
        os.close(fd)
    return True
