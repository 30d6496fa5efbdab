"""PostgreSQL: a pipelined transaction returns every result asked for, fails whole, and
hands its connection back to the pool as it found it."""

import pytest
from psycopg.pq import PipelineStatus, TransactionStatus
from sqlalchemy import create_engine, event, exc, text
from sqlalchemy.orm import Session

from sayso.db import begin_pipelined, configure_engine, engine_options
from sayso.db.driver import DriverStatement
from sayso.extensions import db

PROBE = "pipeline_probe"


@pytest.fixture
def engine(app):
    """An engine set up as the app's, with a scratch table; every connection checked in is
    recorded as (pipeline mode, transaction status, closed)."""
    with app.app_context():
        if db.engine.dialect.name != "postgresql":
            pytest.skip("psycopg's pipeline mode")
        url = db.engine.url.render_as_string(hide_password=False)
    engine = create_engine(url, **engine_options(url))
    configure_engine(engine)
    with engine.begin() as conn:
        conn.execute(text(f"CREATE TABLE {PROBE} (id integer PRIMARY KEY)"))
    engine.checkins = []

    @event.listens_for(engine, "checkin")
    def _record(dbapi_connection, _record):
        engine.checkins.append(
            (
                dbapi_connection.info.pipeline_status,
                dbapi_connection.info.transaction_status,
                dbapi_connection.closed,
            )
        )

    yield engine
    with engine.begin() as conn:
        conn.execute(text(f"DROP TABLE {PROBE}"))
    engine.dispose()


CLEAN = (PipelineStatus.OFF, TransactionStatus.IDLE, False)


_INSERT = text(f"INSERT INTO {PROBE} VALUES (:id)")
#: Run on the driver's cursor and never fetched, as a profile read's lock and ledger insert:
#: in a pipelined transaction it travels with the next statement waited for.
_UNWAITED_INSERT = DriverStatement(_INSERT)


def _insert(session, key: int, waited: bool = True):
    if waited:
        session.execute(_INSERT, {"id": key})
    else:
        _UNWAITED_INSERT.execute(session.connection(), {"id": key})


def _all_clean(engine) -> bool:
    """Every connection came back to the pool out of pipeline mode, idle, open."""
    return bool(engine.checkins) and set(engine.checkins) == {CLEAN}


def _stored(engine) -> list[int]:
    with engine.connect() as conn:
        return conn.scalars(text(f"SELECT id FROM {PROBE} ORDER BY id")).all()


def test_a_pipelined_transaction_returns_results_and_commits(engine):
    with Session(engine) as session:
        assert begin_pipelined(session.connection())
        assert not begin_pipelined(session.connection())  # once per transaction
        _insert(session, 1, waited=False)
        # Through SQLAlchemy: it gets the rows, including the unwaited insert's effect.
        assert session.scalars(text(f"SELECT id FROM {PROBE}")).all() == [1]
        _insert(session, 2, waited=False)
        session.commit()
    assert _stored(engine) == [1, 2]
    assert _all_clean(engine)


def test_an_unwaited_failure_surfaces_with_the_next_result_and_nothing_is_kept(engine):
    with Session(engine) as session:
        begin_pipelined(session.connection())
        _insert(session, 1, waited=False)
        _insert(session, 1, waited=False)  # duplicate key
        with pytest.raises(exc.IntegrityError):
            session.execute(text("SELECT 1"))
        session.rollback()
    assert _stored(engine) == []
    assert _all_clean(engine)


def test_an_unwaited_failure_surfaces_at_commit_and_nothing_is_kept(engine):
    with Session(engine) as session:
        begin_pipelined(session.connection())
        _insert(session, 1, waited=False)
        _insert(session, 1, waited=False)
        with pytest.raises(exc.IntegrityError):
            session.commit()
    assert _stored(engine) == []
    assert _all_clean(engine)
    # The connection that failed serves an ordinary transaction as before.
    with Session(engine) as session:
        _insert(session, 3)
        session.rollback()
        _insert(session, 4)
        session.commit()
    assert _stored(engine) == [4]
    assert _all_clean(engine)


def test_a_pipelined_transaction_left_open_is_rolled_back_when_closed(engine):
    with Session(engine) as session:
        begin_pipelined(session.connection())
        _insert(session, 1, waited=False)
    assert _stored(engine) == []
    assert _all_clean(engine)


def test_only_a_transaction_not_yet_begun_is_pipelined(engine):
    with Session(engine) as session:
        session.execute(text("SELECT 1"))  # psycopg has sent BEGIN
        assert not begin_pipelined(session.connection())
        session.rollback()
    assert _all_clean(engine)


def test_sqlite_is_left_alone(app):
    with app.app_context():
        if db.engine.dialect.name != "sqlite":
            pytest.skip("SQLite")
        assert not begin_pipelined(db.session.connection())
        db.session.rollback()
