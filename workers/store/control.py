"""Operator actions on records: cancelling jobs, marking replays, purging dead letters."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import delete, select, update

from workers.errors import JobNotFound, JobStateConflict
from workers.store.engine import session_scope
from workers.store.jobs import JobFilter
from workers.store.models import FINISHED_STATUSES, Job, JobStatus
from workers.store.types import utcnow

#: Not yet running: a cancel is final at once, and the job never starts.
CANCEL_NOW = (
    JobStatus.SCHEDULED.value,
    JobStatus.DISPATCHING.value,
    JobStatus.QUEUED.value,
    JobStatus.RETRYING.value,
)


@dataclass(frozen=True)
class CancelOutcome:
    """The record after a cancel, and whether it was final (else requested of a running job)."""

    job: Job
    final: bool


def cancel(job_id: uuid.UUID) -> CancelOutcome:
    """Cancel a waiting job at once, or ask a running one to stop at its next check."""
    now = utcnow()
    with session_scope() as session:
        job = session.get(Job, job_id, with_for_update=True)
        if job is None:
            raise JobNotFound(f"no job with id {job_id}")
        if job.status in FINISHED_STATUSES:
            raise JobStateConflict(f"job {job_id} already finished ({job.status})")
        job.cancel_requested_at = job.cancel_requested_at or now
        final = job.status in CANCEL_NOW
        if final:
            job.status = JobStatus.CANCELLED.value
            job.finished_at = now
            job.error_type = "Cancelled"
            job.error_message = "cancelled before it started"
    return CancelOutcome(job, final)


def mark_replayed(original: uuid.UUID, replay: uuid.UUID) -> None:
    """Link a dead letter to the job that replays it."""
    with session_scope() as session:
        session.execute(update(Job).where(Job.id == original).values(replayed_by=replay))


def dead_letter_ids(filters: JobFilter, limit: int) -> list[uuid.UUID]:
    """Ids of dead jobs matching ``filters`` that were not replayed yet, oldest death first."""
    query = (
        select(Job.id)
        .where(*JobFilter(**{**vars(filters), "status": JobStatus.DEAD.value}).conditions())
        .where(Job.replayed_by.is_(None))
        .order_by(Job.finished_at, Job.id)
        .limit(limit)
    )
    with session_scope() as session:
        return list(session.scalars(query))


def purge_batch(filters: JobFilter, limit: int) -> int:
    """Delete up to ``limit`` dead jobs matching ``filters``; returns how many went."""
    ids = select(Job.id).where(
        *JobFilter(**{**vars(filters), "status": JobStatus.DEAD.value}).conditions()
    )
    with session_scope() as session:
        batch = list(session.scalars(ids.limit(limit)))
        if batch:
            session.execute(delete(Job).where(Job.id.in_(batch)))
    return len(batch)
