"""Rows the way every store reads and adds them: one by id, one by name, a newest-first page,
a new row under a unique name; :class:`NamedRows` holds all of them for one table of named
rows (templates, channels, subscriptions, schedules, alert rules)."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

from sqlalchemy import Select, and_, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import InstrumentedAttribute, Session

from workers.errors import TaskyardError
from workers.store.engine import session_scope

R = TypeVar("R")


def _found(record: R | None, missing: type[TaskyardError], message: str) -> R:
    if record is None:
        raise missing(message)
    return record


def row_or_raise(
    session: Session,
    model: type[R],
    row_id: uuid.UUID,
    missing: type[TaskyardError],
    noun: str,
    *,
    lock: bool = False,
) -> R:
    """The ``model`` row with ``row_id`` in ``session`` (locked for update with ``lock``), or
    ``missing`` saying there is no such ``noun``."""
    record = session.get(model, row_id, with_for_update=lock)
    return _found(record, missing, f"no {noun} with id {row_id}")


def get_or_raise(model: type[R], row_id: uuid.UUID, missing: type[TaskyardError], noun: str) -> R:
    """The ``model`` row with ``row_id``, or ``missing`` saying there is no such ``noun``."""
    with session_scope() as session:
        return row_or_raise(session, model, row_id, missing, noun)


def named_or_raise(
    model: type[R],
    column: InstrumentedAttribute[str],
    name: str,
    missing: type[TaskyardError],
    noun: str,
) -> R:
    """The ``model`` row whose unique ``column`` holds ``name``, or ``missing`` saying there is
    no such ``noun``."""
    with session_scope() as session:
        record = session.scalar(select(model).where(column == name))
    return _found(record, missing, f"no {noun} named {name!r}")


def newest_page(
    query: Select[R],
    created_at: InstrumentedAttribute[datetime],
    row_id: InstrumentedAttribute[uuid.UUID],
    before: tuple[datetime, uuid.UUID] | None,
    limit: int,
) -> list[R]:
    """Up to ``limit`` rows of ``query``, newest first, after the position ``before`` (a
    ``created_at`` and an id: the id breaks ties between rows created at the same instant)."""
    query = query.order_by(created_at.desc(), row_id.desc())
    if before is not None:
        created, last_id = before
        later = and_(created_at == created, row_id < last_id)
        query = query.where(or_(created_at < created, later))
    with session_scope() as session:
        return list(session.scalars(query.limit(limit)))


def add_named(
    record: R, column: InstrumentedAttribute[str], taken: Callable[[str], TaskyardError]
) -> R:
    """Insert ``record``, or raise ``taken(name)`` when its unique ``column`` names a row that
    exists already: looked up first for a clear answer, the unique index settles a race."""
    name: str = getattr(record, column.key)
    try:
        with session_scope() as session:
            if session.scalar(select(column).where(column == name)) is not None:
                raise taken(name)
            session.add(record)
    except IntegrityError:
        raise taken(name) from None
    return record


def name_taken(conflict: type[TaskyardError], noun: str) -> Callable[[str], TaskyardError]:
    """What :func:`add_named` raises for a name in use: ``conflict`` saying ``<noun> named
    'x' exists already`` (``noun`` with its article: ``"an alert rule"``)."""

    def taken(name: str) -> TaskyardError:
        return conflict(f"{noun} named {name!r} exists already", {"name": name})

    return taken


@dataclass(frozen=True)
class NamedRows(Generic[R]):
    """The rows of ``model``, which have an ``id``, a unique ``name`` and a ``created_at``: a
    missing one raises ``missing`` naming the ``noun``, a name in use ``taken(name)``, and an
    edit may change only the fields in ``editable``."""

    model: type[R]
    missing: type[TaskyardError]
    noun: str
    taken: Callable[[str], TaskyardError]
    editable: frozenset[str] = frozenset()

    def _column(self, key: str) -> InstrumentedAttribute[Any]:
        column: InstrumentedAttribute[Any] = getattr(self.model, key)
        return column

    def get(self, row_id: uuid.UUID) -> R:
        """The row with ``row_id``, or ``missing``."""
        return get_or_raise(self.model, row_id, self.missing, self.noun)

    def find(self, name: str) -> R:
        """The row called ``name``, or ``missing``."""
        return named_or_raise(self.model, self._column("name"), name, self.missing, self.noun)

    def page(self, before: tuple[datetime, uuid.UUID] | None, limit: int) -> list[R]:
        """Up to ``limit`` rows created before the position ``before``, newest first."""
        created_at, row_id = self._column("created_at"), self._column("id")
        return newest_page(select(self.model), created_at, row_id, before, limit)

    def add(self, record: R) -> R:
        """Insert ``record``, or raise ``taken(name)`` when its name is in use."""
        return add_named(record, self._column("name"), self.taken)

    def row(self, session: Session, row_id: uuid.UUID, *, lock: bool = False) -> R:
        """The row with ``row_id`` in ``session`` (locked for update with ``lock``), or
        ``missing``."""
        return row_or_raise(session, self.model, row_id, self.missing, self.noun, lock=lock)

    def check_editable(self, changes: Mapping[str, Any]) -> None:
        """``ValueError`` naming the fields of ``changes`` an edit may not change."""
        unknown = set(changes) - self.editable
        if unknown:
            raise ValueError(f"not editable: {sorted(unknown)}")
