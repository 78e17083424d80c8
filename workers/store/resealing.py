"""Sealing stored rows again under the first data key (``workers/sealing.py``), a batch per
transaction: what a data-key rotation runs over channel secrets and sensitive job payloads."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, select, tuple_
from sqlalchemy.orm import InstrumentedAttribute

from workers.store.engine import session_scope

#: Rows resealed per transaction.
RESEAL_BATCH = 100
Row = TypeVar("Row")


@dataclass(frozen=True)
class ResealReport:
    """What a reseal did: rows sealed under the first key, of which were plain before."""

    resealed: int
    were_plain: int


def reseal_rows(
    model: type[Row],
    order: Sequence[InstrumentedAttribute[Any]],
    reseal_row: Callable[[Row], bool | None],
    where: ColumnElement[bool] | None = None,
    progress: Callable[[int], None] | None = None,
) -> ResealReport:
    """Call ``reseal_row`` on every row of ``model`` matching ``where``, in ``order`` (unique,
    indexed), a locked batch per transaction; it reseals the row in place and says whether it
    was plain (``None``: nothing to seal). Safe to run again."""
    after: tuple[Any, ...] | None = None
    resealed = were_plain = 0
    while True:
        query = select(model).order_by(*order).limit(RESEAL_BATCH).with_for_update()
        if where is not None:
            query = query.where(where)
        if after is not None:
            query = query.where(tuple_(*order) > tuple_(*after))
        with session_scope() as session:
            rows = list(session.scalars(query))
            outcomes = [reseal_row(row) for row in rows]
            if rows:
                after = tuple(getattr(rows[-1], column.key) for column in order)
        if not rows:
            return ResealReport(resealed, were_plain)
        resealed += sum(outcome is not None for outcome in outcomes)
        were_plain += sum(outcome is True for outcome in outcomes)
        if progress is not None:
            progress(len(rows))
