"""A running attempt's other traffic with its record: heartbeats, progress, and the reads
that explain a start refused or a cancel pending (its status changes are in ``transitions``)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any

from sqlalchemy import and_, or_, select, update

from workers.storable import storable_text
from workers.store.engine import writer_connection
from workers.store.models import Job, JobStatus
from workers.store.transitions import FENCE, Claim, fence
from workers.store.types import utcnow


def _execute(statement: Any, params: dict[str, Any] | None = None, durable: bool = True) -> Any:
    with writer_connection(durable=durable) as connection:
        return connection.execute(statement, params or {})


def status_of(job_id: str) -> str | None:
    """The job's status, or ``None`` if no record exists (used to explain a skipped start)."""
    status: str | None = _execute(select(Job.status).where(Job.id == uuid.UUID(job_id))).scalar()
    return status


def cancel_requested(job_id: str) -> bool:
    """Whether a cancel was requested for ``job_id``."""
    statement = select(Job.cancel_requested_at).where(Job.id == uuid.UUID(job_id))
    return _execute(statement).scalar() is not None


def report_progress(claim: Claim, percent: int, message: str | None) -> bool:
    """Store the job's own progress report."""
    statement = (
        update(Job)
        .where(FENCE)
        .values(progress=percent, progress_message=storable_text((message or "")[:200]) or None)
    )
    return bool(_execute(statement, fence(claim), durable=False).rowcount == 1)


def heartbeat(attempts: Iterable[tuple[uuid.UUID, int]]) -> set[uuid.UUID]:
    """Refresh the heartbeat of running attempts; returns those with a cancel requested."""
    pairs = list(attempts)
    if not pairs:
        return set()
    matches = or_(*(and_(Job.id == job_id, Job.attempts == n) for job_id, n in pairs))
    statement = (
        update(Job)
        .where(matches, Job.status == JobStatus.STARTED.value)
        .values(heartbeat_at=utcnow())
        .returning(Job.id, Job.cancel_requested_at)
    )
    return {row[0] for row in _execute(statement, durable=False) if row[1] is not None}


def current_claim(job_id: str) -> Claim | None:
    """The running attempt of ``job_id`` as a claim (for the pool parent after a hard kill)."""
    statement = select(
        Job.attempts, Job.max_attempts, Job.concurrency_key, Job.cancel_requested_at
    ).where(Job.id == uuid.UUID(job_id), Job.status == JobStatus.STARTED.value)
    row = _execute(statement).first()
    if row is None:
        return None
    return Claim(uuid.UUID(job_id), row[0], row[1], row[2], row[3] is not None)
