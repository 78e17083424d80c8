"""Listing job records a page at a time (``GET /v1/jobs``, ``GET /v1/dead-letters``)."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import datetime
from typing import Annotated

from fastapi import Query

from api.errors import ApiProblem
from api.pagination import decode_cursor, encode_cursor
from api.schemas import TYPE_PATTERN, JobOut, JobPage
from workers.store import jobs

TypeFilter = Annotated[str | None, Query(alias="type", max_length=200, pattern=TYPE_PATTERN)]
Limit = Annotated[int, Query(ge=1, le=500)]
Cursor = Annotated[str | None, Query(max_length=200)]


def position(cursor: str | None) -> tuple[datetime, uuid.UUID] | None:
    """Where ``cursor`` points, or a 422 naming the parameter."""
    if cursor is None:
        return None
    try:
        return decode_cursor(cursor)
    except ValueError as error:
        details = [{"field": "query.cursor", "message": str(error)}]
        raise ApiProblem(422, "validation_error", f"invalid cursor: {error}", details) from None


def job_page(filters: jobs.JobFilter, cursor: str | None, limit: int) -> JobPage:
    """Up to ``limit`` jobs matching ``filters`` after ``cursor``, newest first."""
    filters = dataclasses.replace(filters, before=position(cursor))
    records = jobs.list_jobs(filters, limit + 1)
    page = records[:limit]
    last = page[-1] if len(records) > limit else None
    next_cursor = encode_cursor(last.created_at, last.id) if last is not None else None
    return JobPage(items=[JobOut.from_record(r) for r in page], next_cursor=next_cursor)
