"""``db.one_write``: a transaction whose only write is one statement takes SQLite's
write lock for that statement alone, and refuses a second write on both databases."""

import pytest
from sqlalchemy import func, insert, select, text, update

from sayso.db import WriteRefused, one_write
from sayso.extensions import db
from sayso.models import Account
from tests.helpers import writer_queue_is_free


def _accounts() -> int:
    return db.session.scalar(select(func.count()).select_from(Account))


def _sqlite(app) -> bool:
    return db.engine.dialect.name == "sqlite"


def test_a_one_write_transaction_refuses_a_second_write(app):
    with app.app_context():
        before = _accounts()
        db.session.commit()  # the mode is chosen as a transaction begins
        with one_write():
            assert _accounts() == before  # reads, any number of them
            db.session.execute(insert(Account).values(pseudonym="x", role="consumer"))
            assert _accounts() == before + 1
            with pytest.raises(WriteRefused):
                db.session.execute(update(Account).values(session_epoch=1))
        db.session.rollback()
        # On SQLite the one write committed on its own, as the mode promises; on
        # PostgreSQL it was the transaction's and went with its rollback.
        assert _accounts() == before + (1 if _sqlite(app) else 0)
        assert db.session.scalar(select(func.max(Account.session_epoch))) in (None, 0)


def test_on_sqlite_only_the_write_waits_for_the_lock_and_holds_it_until_the_end(app):
    with app.app_context():
        if not _sqlite(app):
            pytest.skip("SQLite's write lock")
        path = db.engine.url.database
        with one_write():
            db.session.execute(text("SELECT 1"))
            driver = db.session.connection().connection.driver_connection
            assert not driver.in_transaction  # no BEGIN IMMEDIATE was sent
            assert writer_queue_is_free(path)  # nor was the writer queue joined for a read
            db.session.execute(insert(Account).values(pseudonym="y", role="consumer"))
            assert not driver.in_transaction  # the INSERT committed by itself
            assert not writer_queue_is_free(path)  # the queue is held until the transaction ends
        db.session.commit()
        assert writer_queue_is_free(path)


def test_the_next_transaction_is_an_ordinary_one(app):
    # The mode belongs to the transaction begun inside the block: the next one, begun
    # outside it, writes as often as it likes, and on SQLite begins IMMEDIATE again.
    with app.app_context():
        with one_write():
            db.session.execute(text("SELECT 1"))
        db.session.commit()
        db.session.execute(insert(Account).values(pseudonym="z", role="consumer"))
        db.session.execute(update(Account).values(session_epoch=2))
        if _sqlite(app):
            assert db.session.connection().connection.driver_connection.in_transaction
        db.session.commit()
        assert db.session.scalar(select(func.min(Account.session_epoch))) == 2
