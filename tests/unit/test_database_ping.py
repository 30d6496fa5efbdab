"""PostgreSQL: a pooled connection that died while idle is replaced before a request uses it."""

import pytest
from sqlalchemy import create_engine, exc, text

from sayso.db import engine_options
from sayso.db.postgresql import ping_idle_connections
from sayso.extensions import db


def _backend_pid(engine) -> int:
    with engine.connect() as conn:
        return conn.execute(text("SELECT pg_backend_pid()")).scalar()


def _kill(admin, pid: int) -> None:
    with admin.connect() as conn:
        conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        conn.commit()


@pytest.fixture
def postgres_url(app):
    with app.app_context():
        if db.engine.dialect.name != "postgresql":
            pytest.skip("PostgreSQL's connection pool")
        return db.engine.url.render_as_string(hide_password=False)


@pytest.mark.parametrize("idle_seconds", [0, 3600])
def test_an_idle_connection_killed_by_the_server_is_replaced(postgres_url, idle_seconds):
    engine = create_engine(postgres_url, **engine_options(postgres_url))
    admin = create_engine(postgres_url)
    ping_idle_connections(engine, idle_seconds=idle_seconds)
    try:
        first = _backend_pid(engine)  # now idle in the pool
        _kill(admin, first)
        if idle_seconds == 0:
            # Idle long enough to be pinged: the dead connection is swapped for a new one.
            assert _backend_pid(engine) != first
        else:
            # Not pinged (recently used): the request itself meets the dead connection,
            # which is how a busy pool learns of a restart; the next one is fresh.
            with pytest.raises(exc.OperationalError):
                _backend_pid(engine)
            assert _backend_pid(engine) != first
    finally:
        engine.dispose()
        admin.dispose()
