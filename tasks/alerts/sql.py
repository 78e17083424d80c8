"""The read-only SQL source: one ``SELECT`` on the store, checked when a rule is saved and run
read-only with a time limit at each slot.

Saved: the text must parse (sqlglot, in the store's dialect) as exactly one query that
modifies nothing (no ``INSERT``/``UPDATE``/``DELETE``/DDL anywhere, no ``SELECT ... INTO``)
and binds no parameter but ``:slot_at``. Run: on PostgreSQL in a ``READ ONLY`` transaction
with ``statement_timeout``; on SQLite with ``PRAGMA query_only`` and a progress handler that
stops it past the limit. Each row is a set of labels (every column but ``value``, as text)
and a number (``value``).
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from decimal import Decimal
from typing import Any

import sqlglot
from sqlalchemy import Connection, bindparam, text
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from sqlglot import exp
from sqlglot.errors import ParseError

from tasks.alerts.errors import EvaluationFailed, invalid
from workers.store.engine import get_engine
from workers.store.types import UtcDateTime

MAX_QUERY = 10_000
#: The rows one evaluation reads at most (each row is an instance).
MAX_ROWS = 1_000
#: How long one query may run.
TIMEOUT_S = 5.0
#: The one parameter a query may bind: the slot's time.
SLOT_PARAMETER = "slot_at"
_PARAMETER = re.compile(r"(?<![:\w\\]):(\w+)(?!:)")
_WRITES = (
    exp.Insert,
    exp.Update,
    exp.Delete,
    exp.Merge,
    exp.Create,
    exp.Drop,
    exp.Alter,
    exp.Command,
    exp.Into,
    exp.TruncateTable,
)


def _dialect() -> str:
    return "sqlite" if get_engine().dialect.name == "sqlite" else "postgres"


def check_query(field_name: str, query: Any) -> str:
    """``query`` if it is one read-only ``SELECT``, else :class:`InvalidAlertRule` naming
    ``field_name``."""
    if not isinstance(query, str) or not query.strip():
        raise invalid(field_name, "give one SELECT statement")
    if len(query) > MAX_QUERY or "\x00" in query:
        raise invalid(field_name, f"must be at most {MAX_QUERY} characters, without NUL")
    try:
        statements = [s for s in sqlglot.parse(query, read=_dialect()) if s is not None]
    except ParseError as error:
        raise invalid(field_name, f"does not parse: {str(error).splitlines()[0]}") from None
    if len(statements) != 1:
        raise invalid(field_name, "must be exactly one statement")
    (statement,) = statements
    if not isinstance(statement, exp.Query):
        raise invalid(field_name, f"must be a SELECT, not {statement.key.upper()}")
    for node in statement.walk():
        if isinstance(node, _WRITES):
            raise invalid(field_name, f"must only read; it has {node.key.upper()}")
    unknown = sorted(set(_PARAMETER.findall(query)) - {SLOT_PARAMETER})
    if unknown:
        raise invalid(field_name, f"binds :{unknown[0]}; only :{SLOT_PARAMETER} is given")
    return query


@contextmanager
def _read_only(connection: Connection) -> Iterator[None]:
    """Within, ``connection`` reads only, and a statement past :data:`TIMEOUT_S` is stopped."""
    if connection.dialect.name != "sqlite":
        connection.exec_driver_sql("SET TRANSACTION READ ONLY")
        connection.exec_driver_sql(f"SET LOCAL statement_timeout = {int(TIMEOUT_S * 1000)}")
        yield
        return
    raw: Any = connection.connection.dbapi_connection
    deadline = time.monotonic() + TIMEOUT_S
    connection.exec_driver_sql("PRAGMA query_only = ON")
    raw.set_progress_handler(lambda: int(time.monotonic() > deadline), 10_000)
    try:
        yield
    finally:
        raw.set_progress_handler(None, 0)
        try:
            connection.exec_driver_sql("PRAGMA query_only = OFF")
        except SQLAlchemyError:
            connection.invalidate()  # never hand a read-only connection back to the pool


def _number(value: Any, row: int) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        raise EvaluationFailed(f"row {row}: value must be a number, not {type(value).__name__}")
    number = float(value)
    if not math.isfinite(number):
        raise EvaluationFailed(f"row {row}: value must be finite")
    return number


def run_query(query: str, slot_at: datetime) -> list[tuple[dict[str, str], float]]:
    """The rows ``query`` returns at ``slot_at``: labels and a value each; a query that fails,
    times out, writes, or returns no ``value`` column is :class:`EvaluationFailed`."""
    statement = text(query)
    parameters = {}
    if SLOT_PARAMETER in _PARAMETER.findall(query):
        # Bound as the store's own time columns are, so it compares with them on SQLite too.
        statement = statement.bindparams(bindparam(SLOT_PARAMETER, type_=UtcDateTime()))
        parameters[SLOT_PARAMETER] = slot_at
    try:
        with get_engine().connect() as connection:
            try:
                with _read_only(connection):
                    result = connection.execute(statement, parameters)
                    columns = list(result.keys())
                    rows = result.fetchmany(MAX_ROWS + 1)
            finally:
                connection.rollback()  # nothing to keep: it only read
    except DBAPIError as error:
        first = str(error.orig).strip().splitlines()[0] if error.orig else type(error).__name__
        raise EvaluationFailed(f"the query failed: {first[:500]}") from None
    if "value" not in columns:
        raise EvaluationFailed("the query must return a column named value")
    if len(rows) > MAX_ROWS:
        raise EvaluationFailed(f"the query returned more than {MAX_ROWS} rows")
    found = []
    for number, row in enumerate(rows, start=1):
        fields = dict(zip(columns, row, strict=True))
        value = _number(fields.pop("value"), number)
        labels = {str(k): "" if v is None else str(v) for k, v in fields.items()}
        found.append((labels, value))
    return found
