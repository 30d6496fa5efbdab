"""``db.read_only``: code that only shows things writes nothing, and on SQLite takes
no write lock."""

import pytest
from sqlalchemy import func, insert, select, text, update

from sayso.db import WriteRefused, read_only
from sayso.extensions import db
from sayso.models import Account


def _accounts() -> int:
    return db.session.scalar(select(func.count()).select_from(Account))


@pytest.mark.parametrize(
    "write",
    [
        insert(Account).values(pseudonym="x", role="consumer"),
        update(Account).values(session_epoch=1),
        text("DELETE FROM accounts"),
        text("  pragma foreign_keys=OFF"),
    ],
    ids=["insert", "update", "delete", "pragma"],
)
def test_a_read_only_block_refuses_anything_but_a_select(app, write):
    with app.app_context():
        before = _accounts()
        with read_only():
            assert db.session.execute(text("select 1")).scalar() == 1
            with pytest.raises(WriteRefused):
                db.session.execute(write)
        db.session.rollback()
        assert _accounts() == before


def test_a_read_only_transaction_stays_read_only_until_it_ends(app):
    # On SQLite it sent no BEGIN IMMEDIATE: a write in it would commit on its own, outside
    # the write lock, so it is refused even after the block; the next transaction is an
    # ordinary one.
    with app.app_context():
        with read_only():
            db.session.execute(text("SELECT 1"))
        if db.engine.dialect.name == "sqlite":
            with pytest.raises(WriteRefused):
                db.session.execute(update(Account).values(session_epoch=1))
        db.session.rollback()
        db.session.execute(update(Account).values(session_epoch=1))
        db.session.commit()


def test_on_sqlite_a_read_only_transaction_takes_no_write_lock(app):
    with app.app_context():
        if db.engine.dialect.name != "sqlite":
            pytest.skip("SQLite's write lock")
        with read_only():
            db.session.execute(text("SELECT 1"))
            driver = db.session.connection().connection.driver_connection
            assert not driver.in_transaction  # no BEGIN IMMEDIATE was sent
        db.session.rollback()
        db.session.execute(text("SELECT 1"))
        assert db.session.connection().connection.driver_connection.in_transaction
        db.session.rollback()
