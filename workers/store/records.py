"""A job record as a plain, frozen value: what the producer hands back for the jobs it enqueued."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, fields, replace
from datetime import datetime
from typing import Any

from workers.store.models import Job


@dataclass(frozen=True, kw_only=True)
class JobRecord:
    """Every column of a ``jobs`` row, as the store holds it (the ORM's :class:`Job` has the same
    names). Built from the values just inserted, so answering an enqueue needs no read back."""

    id: uuid.UUID
    type: str
    queue: str
    priority: int
    status: str
    payload: dict[str, Any]
    attempts: int = 0
    created_at: datetime
    started_at: datetime | None = None
    finished_at: datetime | None = None
    worker: str | None = None
    result: Any = None
    error_type: str | None = None
    error_message: str | None = None
    error_traceback: str | None = None
    correlation_id: str | None = None
    api_key_id: uuid.UUID | None = None
    run_at: datetime | None = None
    dispatched_at: datetime | None = None
    heartbeat_at: datetime | None = None
    progress: int | None = None
    progress_message: str | None = None
    cancel_requested_at: datetime | None = None
    timed_out: bool = False
    replay_of: uuid.UUID | None = None
    replayed_by: uuid.UUID | None = None
    concurrency_key: str | None = None
    max_attempts: int = 1
    claim_token: str | None = None

    @classmethod
    def of(cls, job: Job) -> JobRecord:
        """The values of a record the ORM loaded."""
        return cls(**{name: getattr(job, name) for name in COLUMNS})

    def with_status(self, status: str) -> JobRecord:
        """This record as it reads once its job has moved to ``status``."""
        return replace(self, status=status)


#: The record's names, which are the ``jobs`` table's columns (a unit test holds them equal).
COLUMNS = tuple(field.name for field in fields(JobRecord))
