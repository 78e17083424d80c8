"""Listing records a page at a time (jobs, dead letters, deliveries, alerts and every named
resource)."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Callable, Sequence
from datetime import datetime
from functools import partial
from typing import Annotated, Any, Protocol, TypeVar

from fastapi import Query

from api.errors import ApiProblem
from api.pagination import decode_cursor, encode_cursor
from api.resources import Page
from api.schemas import TYPE_PATTERN, JobOut, JobPage
from workers.store import jobs
from workers.store.models import Job

TypeFilter = Annotated[str | None, Query(alias="type", max_length=200, pattern=TYPE_PATTERN)]
Limit = Annotated[int, Query(ge=1, le=500)]
Cursor = Annotated[str | None, Query(max_length=200)]


class _Dated(Protocol):
    @property
    def id(self) -> uuid.UUID: ...

    @property
    def created_at(self) -> datetime: ...


D = TypeVar("D", bound=_Dated)
P = TypeVar("P", bound=Page[Any])
Position = tuple[datetime, uuid.UUID]


def position(cursor: str | None) -> tuple[datetime, uuid.UUID] | None:
    """Where ``cursor`` points, or a 422 naming the parameter."""
    if cursor is None:
        return None
    try:
        return decode_cursor(cursor)
    except ValueError as error:
        details = [{"field": "query.cursor", "message": str(error)}]
        raise ApiProblem(422, "validation_error", f"invalid cursor: {error}", details) from None


def fetch_page(
    fetch: Callable[[Position | None, int], Sequence[D]], cursor: str | None, limit: int
) -> tuple[Sequence[D], str | None]:
    """Up to ``limit`` records ``fetch`` finds after ``cursor`` (newest first), and the cursor
    of the next page when there is one (asking for one more record tells)."""
    records = fetch(position(cursor), limit + 1)
    page = records[:limit]
    last = page[-1] if len(records) > limit else None
    return page, encode_cursor(last.created_at, last.id) if last is not None else None


def listed(
    page: type[P],
    show: Callable[[D], Any],
    fetch: Callable[[Position | None, int], Sequence[D]],
    cursor: str | None,
    limit: int,
) -> P:
    """The ``page`` of :func:`fetch_page`'s records, each shown as ``show`` makes it."""
    records, next_cursor = fetch_page(fetch, cursor, limit)
    return page(items=[show(record) for record in records], next_cursor=next_cursor)


def job_page(
    filters: jobs.JobFilter, cursor: str | None, limit: int, reveal: bool = False
) -> JobPage:
    """Up to ``limit`` jobs matching ``filters`` after ``cursor``, newest first (sensitive
    fields opened with ``reveal``, else redacted: :meth:`JobOut.from_record`)."""

    def fetch(before: Position | None, count: int) -> list[Job]:
        return jobs.list_jobs(dataclasses.replace(filters, before=before), count)

    return listed(JobPage, partial(JobOut.from_record, reveal=reveal), fetch, cursor, limit)
