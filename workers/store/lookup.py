"""Rows the way every store reads and adds them: one by id, one by name, a newest-first page,
a new row under a unique name."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime
from typing import TypeVar

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
