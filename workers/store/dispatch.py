"""The dispatcher's writes: claiming due jobs, confirming them queued, and reaping lost ones.

Claims are single UPDATE statements that re-check the status they change, so two
dispatchers never claim the same job: the second one's UPDATE finds nothing left to change.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, or_, select, update

from workers.jobtypes import LOST_WORKER_ALLOWANCE
from workers.store.engine import writer_connection
from workers.store.models import Job, JobStatus
from workers.store.outage import recent_outage
from workers.store.types import utcnow

#: A claim not confirmed within this long (the dispatcher died mid-publish) is claimed again.
CLAIM_TIMEOUT = timedelta(seconds=60)
_WAITING = (JobStatus.SCHEDULED.value, JobStatus.RETRYING.value)
#: ``error_type`` of a job whose stored record cannot be published (a queue or priority that
#: no producer writes: edited by hand, or by another version).
UNPUBLISHABLE = "UnpublishableJob"


@dataclass(frozen=True)
class DueJob:
    """A claimed job, ready to be published."""

    id: uuid.UUID
    type: str
    payload: dict[str, Any]
    queue: str
    priority: int
    correlation_id: str | None


@dataclass(frozen=True)
class QueuedJob:
    """A job the store says is queued: its message should be in the broker."""

    id: uuid.UUID
    queue: str
    priority: int
    queued_at: datetime


def _execute(statement: Any) -> Any:
    with writer_connection() as connection:
        return connection.execute(statement)


def claim_due(limit: int) -> list[DueJob]:
    """Claim up to ``limit`` jobs whose time has come (and claims abandoned mid-publish)."""
    now = utcnow()
    claimable = or_(
        and_(Job.status.in_(_WAITING), Job.run_at <= now),
        and_(Job.status == JobStatus.DISPATCHING.value, Job.dispatched_at < now - CLAIM_TIMEOUT),
    )
    due_ids = select(Job.id).where(claimable).order_by(Job.run_at).limit(limit)
    statement = (
        update(Job)
        .where(Job.id.in_(due_ids.scalar_subquery()), claimable)
        .values(status=JobStatus.DISPATCHING.value, dispatched_at=now)
        .returning(Job.id, Job.type, Job.payload, Job.queue, Job.priority, Job.correlation_id)
        .execution_options(synchronize_session=False)
    )
    return [DueJob(*row) for row in _execute(statement)]


def confirm_queued(ids: Sequence[uuid.UUID]) -> None:
    """Published: ``dispatching`` becomes ``queued`` (a job already started is left alone).

    ``dispatched_at`` becomes the confirmation time, which is after the message was published:
    the lost-message sweep compares it with the publish times of the messages in the broker.

    Not durable (see :func:`workers.store.engine.get_writer_engine`): a confirmation that a
    PostgreSQL crash undoes leaves the job ``dispatching``, so the dispatcher publishes it
    again after :data:`CLAIM_TIMEOUT` and the start guard skips whichever copy comes second.
    Not waiting for the WAL flush spares the disk a sync for every confirmation."""
    if not ids:
        return
    statement = (
        update(Job)
        .where(Job.id.in_(ids), Job.status == JobStatus.DISPATCHING.value)
        .values(status=JobStatus.QUEUED.value, dispatched_at=utcnow())
    )
    with writer_connection(durable=False) as connection:
        connection.execute(statement)


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
    return [QueuedJob(*row) for row in _execute(statement)]


def claim_lost(ids: Sequence[uuid.UUID]) -> list[DueJob]:
    """Claim jobs whose message was lost, to publish them again (only those still queued)."""
    if not ids:
        return []
    statement = (
        update(Job)
        .where(Job.id.in_(ids), Job.status == JobStatus.QUEUED.value)
        .values(status=JobStatus.DISPATCHING.value, dispatched_at=utcnow())
        .returning(Job.id, Job.type, Job.payload, Job.queue, Job.priority, Job.correlation_id)
        .execution_options(synchronize_session=False)
    )
    return [DueJob(*row) for row in _execute(statement)]


def release(ids: Sequence[uuid.UUID], retry_in_s: float) -> None:
    """Publishing failed: hand the claims back to be tried again after ``retry_in_s``."""
    if ids:
        _execute(
            update(Job)
            .where(Job.id.in_(ids), Job.status == JobStatus.DISPATCHING.value)
            .values(
                status=JobStatus.SCHEDULED.value, run_at=utcnow() + timedelta(seconds=retry_in_s)
            )
        )


def fail_unpublishable(reasons: dict[uuid.UUID, str]) -> None:
    """Claimed jobs whose record cannot make a message (see ``workers.dispatcher``): failed,
    with the reason, so that no dispatcher claims them again."""
    now = utcnow()
    for job_id, reason in reasons.items():
        _execute(
            update(Job)
            .where(Job.id == job_id, Job.status == JobStatus.DISPATCHING.value)
            .values(
                status=JobStatus.FAILED.value,
                finished_at=now,
                error_type=UNPUBLISHABLE,
                error_message=reason,
            )
        )


@dataclass(frozen=True)
class Reaped:
    """What one reaper pass did with jobs whose worker went silent."""

    requeued: int
    dead: int


def reap_lost(stale_after_s: float) -> Reaped:
    """Requeue started jobs with a stale heartbeat, or mark them dead past their allowance.

    Nothing is reaped within two staleness periods of a noted store outage: heartbeats could
    not be written then, so they look stale without being so."""
    if recent_outage():
        return Reaped(0, 0)
    now = utcnow()
    lost = and_(
        Job.status == JobStatus.STARTED.value,
        Job.heartbeat_at < now - timedelta(seconds=stale_after_s),
    )
    allowance = Job.max_attempts + LOST_WORKER_ALLOWANCE
    message = "the worker running this job stopped sending heartbeats"
    requeued = _execute(
        update(Job)
        .where(lost, Job.attempts < allowance)
        .values(
            status=JobStatus.RETRYING.value,
            run_at=now,
            error_type="WorkerLost",
            error_message=message,
            error_traceback=None,
        )
    ).rowcount
    dead = _execute(
        update(Job)
        .where(lost, Job.attempts >= allowance)
        .values(
            status=JobStatus.DEAD.value,
            finished_at=now,
            error_type="WorkerLost",
            error_message=f"{message}; no attempts left",
            error_traceback=None,
        )
    ).rowcount
    return Reaped(int(requeued), int(dead))
