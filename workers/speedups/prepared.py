"""Server-side prepared statements for the writes a worker makes on every job.

Replaces: ``Connection.execute`` of the statements built once in ``workers/store/transitions.py``
(the start claim and the success write). Through SQLAlchemy and psycopg2 each execution sends
the statement's whole text, which PostgreSQL parses, analyses and plans again, and SQLAlchemy
builds an execution context and a result around it.

Buys: about half of both sides' CPU for the two writes (``docs/performance.md``, "Prepared
statements").

Unnecessary when: the store runs on psycopg 3, whose driver prepares a statement it has seen
a few times by itself (``prepare_threshold``); SQLAlchemy's psycopg dialect passes that on.

Each DB-API connection gets a ``PREPARE`` of a statement the first time it runs it there
(remembered in ``Connection.info``, which SQLAlchemy clears when it replaces a connection);
each run is an ``EXECUTE`` with the values rendered by psycopg2. Values pass through the
same bind processors SQLAlchemy applies, and returned rows through the same result
processors. It relies on SQLAlchemy's ``numeric_dollar`` paramstyle, the compiled statement's
``positiontup`` and ``bind_names``, the types' ``dialect_impl`` processors, and psycopg2's
cursor (``tests/unit/test_speedups_upstream.py``); ``tests/integration/test_prepared.py``
compares what it writes and returns with ``Connection.execute``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, Dialect
from sqlalchemy.sql.dml import UpdateBase

from workers.observability import tracing
from workers.speedups.driver import driver_cursor

_Processor = Callable[[Any], Any] | None


@dataclass(frozen=True)
class Written:
    """What a write returned: its rows (``RETURNING``) and how many rows it changed."""

    rows: Sequence[Sequence[Any]]
    rowcount: int

    def first(self) -> Sequence[Any] | None:
        """The first row returned, if any."""
        return self.rows[0] if self.rows else None


@dataclass(frozen=True)
class _Form:
    """A statement compiled once for a dialect, as ``PREPARE`` and ``EXECUTE`` texts."""

    prepare: str
    execute: str
    names: tuple[str, ...]
    defaults: Mapping[str, Any]
    binds: tuple[_Processor, ...]
    results: tuple[Any, ...]  # each column's type for the dialect


@dataclass
class Prepared:
    """A statement built once, run as a server-side prepared statement named ``name``."""

    name: str
    statement: UpdateBase
    _forms: dict[str, _Form] = field(default_factory=dict, repr=False)

    def form(self, dialect: Dialect) -> _Form:
        """The statement's texts and value handling for ``dialect`` (built once)."""
        found = self._forms.get(dialect.name)
        if found is None:
            found = self._forms[dialect.name] = _compile(self.name, self.statement, dialect)
        return found


def _compile(name: str, statement: UpdateBase, dialect: Dialect) -> _Form:
    # The same dialect class with $1, $2... placeholders, which PREPARE takes as they are.
    numbered: Dialect = type(dialect)(paramstyle="numeric_dollar")  # type: ignore[call-arg]
    compiled: Any = statement.compile(dialect=numbered)
    names = tuple(compiled.positiontup)
    by_name = {bind_name: bind for bind, bind_name in compiled.bind_names.items()}
    binds = tuple(by_name[n].type.dialect_impl(dialect).bind_processor(dialect) for n in names)
    results = tuple(column.type.dialect_impl(dialect) for column in statement.exported_columns)
    placeholders = ", ".join(["%s"] * len(names))
    return _Form(
        prepare=f"PREPARE {name} AS {compiled}",
        execute=f"EXECUTE {name}({placeholders})" if names else f"EXECUTE {name}",
        names=names,
        defaults=compiled.params,
        binds=binds,
        results=results,
    )


def supports(connection: Connection) -> bool:
    """Whether ``connection`` can run prepared statements this way (PostgreSQL, psycopg2)."""
    return connection.dialect.driver == "psycopg2"


def execute(connection: Connection, prepared: Prepared, params: Mapping[str, Any]) -> Written:
    """Run ``prepared`` with ``params`` on ``connection``, preparing it there first if needed."""
    form = prepared.form(connection.dialect)
    known: set[str] = connection.info.setdefault("taskyard.prepared", set())
    values = {**form.defaults, **params}
    rendered = [
        value if process is None else process(value)
        for value, process in zip((values[n] for n in form.names), form.binds, strict=True)
    ]
    with driver_cursor(connection, form.execute) as cursor:
        if prepared.name not in known:
            cursor.execute(form.prepare)
            known.add(prepared.name)
        with tracing.statement_span(connection.dialect.name, form.execute):
            cursor.execute(form.execute, rendered)
        rows = cursor.fetchall() if cursor.description else []
        description = cursor.description or ()
        rowcount = cursor.rowcount
    return Written(_processed(rows, description, form, connection.dialect), rowcount)


def _processed(rows: list[tuple[Any, ...]], description: Sequence[Any], form: _Form,
               dialect: Dialect) -> list[tuple[Any, ...]]:  # fmt: skip
    if not rows:
        return rows
    processors = [
        kind.result_processor(dialect, column[1])
        for kind, column in zip(form.results, description, strict=True)
    ]
    return [
        tuple(v if p is None else p(v) for v, p in zip(row, processors, strict=True))
        for row in rows
    ]
