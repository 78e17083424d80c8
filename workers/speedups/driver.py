"""Calling psycopg2 on a SQLAlchemy connection's DB-API connection, failing as SQLAlchemy would.

Shared by the speedups that talk to the driver directly (``copy_in``, ``prepared``). It relies
on SQLAlchemy's ``DBAPIError.instance`` and the dialect's ``is_disconnect``
(``tests/unit/test_speedups_upstream.py`` pins both)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.exc import DBAPIError


@contextmanager
def driver_cursor(connection: Connection, statement: str) -> Iterator[Any]:
    """A psycopg2 cursor on ``connection``'s DB-API connection, closed afterwards.

    A driver error comes out as SQLAlchemy's, flagged ``connection_invalidated`` (and the
    connection invalidated) when the server had dropped the connection, as it would from
    ``Connection.execute``; ``statement`` names what was running."""
    dbapi = connection.dialect.loaded_dbapi
    pooled = connection.connection
    cursor: Any = pooled.cursor()  # psycopg2's, whose extras the DB-API types lack
    try:
        yield cursor
    except dbapi.Error as error:
        dropped = connection.dialect.is_disconnect(error, pooled.dbapi_connection, cursor)
        if dropped:
            connection.invalidate(error)
        raise DBAPIError.instance(
            statement, None, error, dbapi.Error, connection_invalidated=dropped
        ) from error
    finally:
        if not cursor.closed:
            cursor.close()
