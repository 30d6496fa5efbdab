"""Statements run on the driver's cursor: the profile read's, where SQLAlchemy's own work per
execution cost more than the database's.

A profile read runs three fixed statements. Through ``Connection.execute`` each costs about
0.3 ms of CPU on PostgreSQL before and after the driver's own work (the compiled cache's
key, the execution context, result metadata, row objects, events), a third of a whole read
(docs/benchmarks.md). A :class:`DriverStatement` is compiled by SQLAlchemy once per dialect,
with the bind and result processors of its columns' types (``UTCDateTime`` included), and
then runs on the DBAPI cursor of the caller's SQLAlchemy ``Connection``: the transaction
stays SQLAlchemy's (its begin and commit hooks, SQLite's writer queue, PostgreSQL's
pipeline, the pool), and so do the rules around each statement:

- ``before_cursor_execute`` listeners run first, as for any statement (the transaction
  modes' check of what it may write, the tests' and the bench's statement counters);
- a driver error becomes SQLAlchemy's ``DBAPIError`` (what callers catch), and a lost
  connection is invalidated, as SQLAlchemy does for its own statements.

Hand-written because SQLAlchemy has no lighter way to run a precompiled statement: even
``exec_driver_sql`` builds the same execution context.
"""

from __future__ import annotations

from collections import namedtuple

from sqlalchemy import exc


class DriverStatement:
    """``statement`` (a SQLAlchemy Core construct), compiled once per dialect and run on the
    driver's cursor. Named parameters in, plain named tuples out (result columns only)."""

    def __init__(self, statement):
        self.statement = statement
        self._compiled: dict[str, _Compiled] = {}

    def _for(self, dialect) -> _Compiled:
        compiled = self._compiled.get(dialect.name)
        if compiled is None:
            compiled = self._compiled[dialect.name] = _Compiled(self.statement, dialect)
        return compiled

    def execute(self, connection, params: dict):
        """Run on ``connection`` (a SQLAlchemy Connection, in its transaction); the driver's
        cursor, to fetch from with :meth:`rows` (or to leave, for a statement sent without
        waiting in a pipelined transaction)."""
        dialect = connection.dialect
        compiled = self._for(dialect)
        parameters = compiled.parameters(params)
        dbapi_connection = connection.connection
        cursor = dbapi_connection.cursor()
        dispatch = connection.dispatch.before_cursor_execute
        if dispatch:
            for listener in dispatch:
                listener(connection, cursor, compiled.sql, parameters, None, False)
        try:
            cursor.execute(compiled.sql, parameters)
        except dialect.loaded_dbapi.Error as error:
            raise _wrapped(connection, cursor, compiled.sql, error) from error
        return cursor

    def fetch(self, connection, params: dict) -> list:
        """Run, and return the rows (see :meth:`rows`)."""
        return self.rows(connection, self.execute(connection, params))

    def rows(self, connection, cursor) -> list:
        """The rows ``cursor`` (from :meth:`execute`) returns, as named tuples whose values
        went through their types' result processors."""
        compiled = self._for(connection.dialect)
        try:
            fetched = cursor.fetchall()
        except connection.dialect.loaded_dbapi.Error as error:
            raise _wrapped(connection, cursor, compiled.sql, error) from error
        return compiled.results(fetched)


class _Compiled:
    """One statement as one dialect's driver takes it."""

    def __init__(self, statement, dialect):
        compiled = statement.compile(dialect=dialect)
        self.sql = compiled.string
        binds = compiled.binds
        self._names = compiled.positiontup  # None for a driver taking named parameters
        self._bind = {
            name: processor
            for name, bind in binds.items()
            if (processor := bind.type.dialect_impl(dialect).bind_processor(dialect)) is not None
        }
        columns = [c for c in getattr(statement, "selected_columns", ())]
        returning = getattr(compiled, "effective_returning", None) or ()
        columns = columns or list(returning)
        self._row = namedtuple("Row", [c.key for c in columns]) if columns else None
        self._results = [
            c.type.dialect_impl(dialect).result_processor(dialect, None) for c in columns
        ]
        self._processed = [i for i, p in enumerate(self._results) if p is not None]

    def parameters(self, params: dict):
        values = {
            name: (processor(value) if (processor := self._bind.get(name)) else value)
            for name, value in params.items()
        }
        return values if self._names is None else tuple(values[n] for n in self._names)

    def results(self, fetched: list) -> list:
        make, processors, processed = self._row._make, self._results, self._processed
        if not processed:
            return [make(row) for row in fetched]
        out = []
        for row in fetched:
            values = list(row)
            for i in processed:
                values[i] = processors[i](values[i])
            out.append(make(values))
        return out


def _wrapped(connection, cursor, sql: str, error) -> exc.DBAPIError:
    """SQLAlchemy's error for a driver's ``error``, with the connection invalidated if it
    was lost (as ``Connection`` does for its own statements: the pool then replaces it)."""
    dialect = connection.dialect
    lost = dialect.is_disconnect(error, connection.connection.dbapi_connection, cursor)
    if lost and not connection.invalidated:
        connection.invalidate(error)
    return exc.DBAPIError.instance(
        sql,
        None,
        error,
        dialect.loaded_dbapi.Error,
        hide_parameters=True,
        connection_invalidated=lost,
        dialect=dialect,
    )
