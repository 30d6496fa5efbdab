"""SQLite writers queue on a lock file, and every end of a transaction lets the next one in."""

import sqlite3
import threading
import time

import pytest
from sqlalchemy import text

from sayso.db.sqlite import WriterQueue
from sayso.extensions import db
from tests.helpers import writer_queue_is_free


def test_a_second_writer_waits_and_times_out_like_sqlite(tmp_path):
    queue = WriterQueue(str(tmp_path / "db.sqlite3"), timeout=0.05)
    first, second = sqlite3.connect(":memory:"), sqlite3.connect(":memory:")
    queue.acquire(first)
    queue.acquire(first)  # the same transaction asking again does not wait on itself
    began = time.monotonic()
    with pytest.raises(sqlite3.OperationalError, match="database is locked"):
        queue.acquire(second)
    assert time.monotonic() - began >= 0.05
    queue.release(first)
    queue.acquire(second)
    assert not writer_queue_is_free(str(tmp_path / "db.sqlite3"))
    queue.forget(second)
    queue.forget(first)
    assert writer_queue_is_free(str(tmp_path / "db.sqlite3"))


def test_the_next_writer_gets_the_lock_as_soon_as_it_is_released(tmp_path):
    queue = WriterQueue(str(tmp_path / "db.sqlite3"))
    first, second = sqlite3.connect(":memory:"), sqlite3.connect(":memory:")
    queue.acquire(first)
    waited = []

    def wait_for_it():
        queue.acquire(second)
        waited.append(time.monotonic() - released[0])

    waiter = threading.Thread(target=wait_for_it)
    waiter.start()
    time.sleep(0.05)  # the waiter is now polling
    released = [time.monotonic()]
    queue.release(first)
    waiter.join(timeout=5)
    # Handed over within milliseconds of the release (not counting how long the sleep
    # above overslept on a busy machine).
    assert waited and waited[0] < 0.03
    queue.forget(second)
    queue.forget(first)


@pytest.mark.parametrize("end", ["commit", "rollback"])
def test_a_transaction_holds_the_lock_until_it_ends(app, end):
    with app.app_context():
        if db.engine.dialect.name != "sqlite":
            pytest.skip("the writer queue is SQLite's")
        path = db.engine.url.database
        db.session.execute(text("SELECT 1"))
        assert not writer_queue_is_free(path)
        getattr(db.session, end)()
        assert writer_queue_is_free(path)


def test_a_request_leaves_the_lock_free(app, client):
    assert client.get("/healthz").status_code == 200
    with app.app_context():
        if db.engine.dialect.name != "sqlite":
            pytest.skip("the writer queue is SQLite's")
        assert writer_queue_is_free(db.engine.url.database)
