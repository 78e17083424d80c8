"""Queued jobs as the store sees them: the read the lost-message sweep checks against Redis
(its writes, like every change of a job's status, are in ``transitions``)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select

from workers.store.engine import writer_connection
from workers.store.models import Job, JobStatus


@dataclass(frozen=True)
class QueuedJob:
    """A job the store says is queued: its message should be in the broker."""

    id: uuid.UUID
    queue: str
    priority: int
    queued_at: datetime


def queued_since_before(cutoff: datetime, limit: int) -> list[QueuedJob]:
    """Up to ``limit`` jobs queued since before ``cutoff``, oldest first: their message should
    long have been taken, unless a backlog holds it."""
    # created_at <= dispatched_at, so the status/created index narrows the scan.
    statement = (
        select(Job.id, Job.queue, Job.priority, Job.dispatched_at)
        .where(
            Job.status == JobStatus.QUEUED.value,
            Job.created_at < cutoff,
            Job.dispatched_at < cutoff,
        )
        .order_by(Job.created_at)
        .limit(limit)
    )
    with writer_connection() as connection:
        rows: list[Any] = list(connection.execute(statement))
    return [QueuedJob(*row) for row in rows]
