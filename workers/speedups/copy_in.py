"""Rows into PostgreSQL through ``COPY ... FROM STDIN``, for batch enqueues.

Replaces: SQLAlchemy's multi-row ``INSERT`` of a batch's jobs, in which SQLAlchemy processes
every value and psycopg2 renders them into one long statement that PostgreSQL then parses.

Buys: most of the store's share of a batch enqueue (``docs/performance.md``, "COPY").

Unnecessary when: SQLAlchemy's ``insertmanyvalues`` (or psycopg 3's ``copy`` under it)
reaches the same cost. It relies on psycopg2's ``cursor.copy_expert``, reached through the
pooled DB-API connection, failing as ``Connection.execute`` would (``driver.py``;
``tests/unit/test_speedups_upstream.py`` pins what that needs).

``COPY`` takes the same rows as CSV. It is one statement, so on the autocommit writer
connection the rows land together or not at all. Values are rendered the way the columns'
SQLAlchemy types would bind them: ``None`` as an unquoted empty field (NULL), text always
quoted (so an empty string stays one), JSON columns as ``json.dumps`` text, datetimes in ISO
8601 with their offset (naive ones are refused, as ``UtcDateTime`` refuses them).
"""

from __future__ import annotations

import io
import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Table

from workers.speedups.driver import driver_cursor


def _field(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, dict | list):
        text = json.dumps(value)
    elif isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        text = value.isoformat()
    else:
        text = str(value)
    return '"' + text.replace('"', '""') + '"'


def csv_rows(rows: Sequence[Mapping[str, Any]], keys: Sequence[str]) -> str:
    """``rows`` as PostgreSQL CSV, the values of ``keys`` in that order."""
    return "".join(",".join([_field(row[key]) for key in keys]) + "\n" for row in rows)


def copy_rows(connection: Connection, table: Table, rows: Sequence[Mapping[str, Any]]) -> None:
    """Insert ``rows`` (column name → value, the same columns in each) into ``table``.

    Driver errors come out as SQLAlchemy's, flagged ``connection_invalidated`` when the server
    had dropped the connection, as they would from ``Connection.execute``."""
    if not rows:
        return
    keys = list(rows[0])
    quote = connection.dialect.identifier_preparer.quote
    statement = (
        f"COPY {quote(table.name)} ({', '.join(quote(table.c[key].name) for key in keys)}) "
        "FROM STDIN WITH (FORMAT csv)"
    )
    data = io.StringIO(csv_rows(rows, keys))
    with driver_cursor(connection, statement) as cursor:
        cursor.copy_expert(statement, data)
