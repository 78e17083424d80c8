"""Operator actions on records: marking replays, purging dead letters (a cancel, like every
change of a job's status, is in ``transitions``)."""

from __future__ import annotations

import uuid

from sqlalchemy import delete, select, update

from workers.store import audit
from workers.store.engine import session_scope
from workers.store.jobs import JobFilter
from workers.store.models import Job, JobStatus


def mark_replayed(original: uuid.UUID, replay: uuid.UUID) -> None:
    """Link a dead letter to the job that replays it (audited as ``job.replayed``)."""
    with session_scope() as session:
        session.execute(update(Job).where(Job.id == original).values(replayed_by=replay))
        audit.record(session, "job.replayed", audit.Target("job", original),
                     after={"replayed_by": replay})  # fmt: skip


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
    """Delete up to ``limit`` dead jobs matching ``filters``; returns how many went (audited
    as one ``dead_letters.purged`` row per batch, naming the filters and the jobs)."""
    ids = select(Job.id).where(
        *JobFilter(**{**vars(filters), "status": JobStatus.DEAD.value}).conditions()
    )
    with session_scope() as session:
        batch = list(session.scalars(ids.limit(limit)))
        if batch:
            session.execute(delete(Job).where(Job.id.in_(batch)))
            purged = {"filters": vars(filters), "jobs": batch}
            audit.record(session, "dead_letters.purged", audit.Target("dead_letters"), after=purged)
    return len(batch)
