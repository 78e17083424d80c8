"""A worker's writes to a job record, each one UPDATE fenced by the attempt it belongs to.

The start guard is what makes redelivery harmless: a job starts only from ``queued`` or
``dispatching``, or from ``started`` when the previous holder's heartbeat has gone stale.
Every later write names the attempt number the start returned, so a worker that lost the
job (it was presumed dead and the job ran elsewhere) cannot overwrite the newer outcome.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Uuid, and_, bindparam, case, func, or_, select, update

from workers.jobtypes import LOST_WORKER_ALLOWANCE
from workers.storable import storable_text
from workers.store.engine import writer_connection
from workers.store.models import Job, JobStatus
from workers.store.types import JsonDocument, UtcDateTime, utcnow

_FRESH_STARTS = (JobStatus.QUEUED.value, JobStatus.DISPATCHING.value)


@dataclass(frozen=True)
class Claim:
    """What a successful start returns: the attempt number fences every later write."""

    job_id: uuid.UUID
    attempt: int
    max_attempts: int
    concurrency_key: str | None
    cancel_requested: bool
    queue: str = ""
    due_at: datetime | None = None


@dataclass(frozen=True)
class Failure:
    """An attempt's error, as recorded."""

    error_type: str
    message: str
    traceback: str | None
    timed_out: bool = False

    def columns(self) -> dict[str, Any]:
        """The job columns this failure is recorded in."""
        # A job's own text may hold what neither store takes (a NUL read from a file): it is
        # recorded with a replacement character, never lost to a refused write.
        return {
            "error_type": storable_text(self.error_type[:255]),
            "error_message": storable_text(self.message),
            "error_traceback": None if self.traceback is None else storable_text(self.traceback),
            "timed_out": self.timed_out,
        }


def _execute(statement: Any) -> Any:
    with writer_connection() as connection:
        return connection.execute(statement)


def _claim_statement() -> Any:
    # Built once: this runs for every job, and building the expression costs more than
    # executing it. Parameters: job_id, token, worker, now, stale_before.
    mine = and_(Job.status == JobStatus.STARTED.value, Job.claim_token == bindparam("token"))
    now = bindparam("now", type_=UtcDateTime())
    startable = or_(
        mine,
        # Not IN (...): an expanding parameter is rendered again on every execution.
        *(Job.status == status for status in _FRESH_STARTS),
        and_(  # taking over from a silent worker, within the lost-worker allowance
            Job.status == JobStatus.STARTED.value,
            Job.heartbeat_at < bindparam("stale_before", type_=UtcDateTime()),
            Job.attempts < Job.max_attempts + LOST_WORKER_ALLOWANCE,
        ),
    )
    return (
        update(Job)
        .where(Job.id == bindparam("job_id", type_=Uuid()), startable)
        .values(
            status=JobStatus.STARTED.value,
            started_at=case((mine, Job.started_at), else_=now),
            heartbeat_at=now,
            worker=bindparam("worker_name"),
            attempts=case((mine, Job.attempts), else_=Job.attempts + 1),
            claim_token=bindparam("token"),
        )
        .returning(
            Job.attempts,
            Job.max_attempts,
            Job.concurrency_key,
            Job.cancel_requested_at,
            Job.queue,
            func.coalesce(Job.run_at, Job.created_at),
        )
    )


_CLAIM = _claim_statement()


def claim_start(job_id: str, worker: str, stale_after_s: float, token: str) -> Claim | None:
    """Start an attempt if the job may start; ``None`` means another holder or a final state.

    ``token`` makes the start idempotent: retried after a store error whose reply was lost,
    it finds its own claim instead of mistaking it for another worker's."""
    now = utcnow()
    key = uuid.UUID(job_id)
    params = {"job_id": key, "token": token, "worker_name": worker, "now": now,
              "stale_before": now - timedelta(seconds=stale_after_s)}  # fmt: skip
    with writer_connection() as connection:
        row = connection.execute(_CLAIM, params).first()
    if row is None:
        return None
    return Claim(key, row[0], row[1], row[2], row[3] is not None, row[4], row[5])


def status_of(job_id: str) -> str | None:
    """The job's status, or ``None`` if no record exists (used to explain a skipped start)."""
    status: str | None = _execute(select(Job.status).where(Job.id == uuid.UUID(job_id))).scalar()
    return status


def cancel_requested(job_id: str) -> bool:
    """Whether a cancel was requested for ``job_id``."""
    statement = select(Job.cancel_requested_at).where(Job.id == uuid.UUID(job_id))
    return _execute(statement).scalar() is not None


_FENCE = and_(
    Job.id == bindparam("fence_id", type_=Uuid()),
    Job.attempts == bindparam("fence_attempt"),
    Job.status == JobStatus.STARTED.value,
)
_SUCCEED = (
    update(Job)
    .where(_FENCE)
    .values(
        status=JobStatus.SUCCEEDED.value,
        finished_at=bindparam("finished_at_", type_=UtcDateTime()),
        result=bindparam("result_", type_=JsonDocument),
        progress=100,
        error_type=None,
        error_message=None,
        error_traceback=None,
    )
)


def _fence(claim: Claim) -> dict[str, Any]:
    return {"fence_id": claim.job_id, "fence_attempt": claim.attempt}


def _execute_with(statement: Any, params: dict[str, Any]) -> Any:
    # An outcome may be lost in a server crash: the reaper then runs the job again.
    with writer_connection(durable=False) as connection:
        return connection.execute(statement, params)


def _fenced(claim: Claim, **values: Any) -> bool:
    statement = update(Job).where(_FENCE).values(**values)
    return bool(_execute_with(statement, _fence(claim)).rowcount == 1)


def succeed(claim: Claim, result: Any) -> bool:
    """Record success and the JSON result (a statement built once: the hot path)."""
    params = {**_fence(claim), "finished_at_": utcnow(), "result_": result}
    return bool(_execute_with(_SUCCEED, params).rowcount == 1)


def finish_with_error(claim: Claim, status: JobStatus, failure: Failure) -> bool:
    """Record a final error: ``failed``, ``dead`` or ``cancelled``."""
    return _fenced(
        claim,
        status=status.value,
        finished_at=utcnow(),
        **failure.columns(),
    )


def schedule_retry(claim: Claim, run_at: datetime, failure: Failure) -> bool:
    """Park the job as ``retrying`` until ``run_at``; the dispatcher publishes it then."""
    return _fenced(
        claim,
        status=JobStatus.RETRYING.value,
        run_at=run_at,
        **failure.columns(),
    )


def defer(claim: Claim, run_at: datetime, reason: str) -> bool:
    """Give the attempt back (a rate or concurrency limit): ``scheduled`` again at ``run_at``."""
    return _fenced(
        claim,
        status=JobStatus.SCHEDULED.value,
        run_at=run_at,
        attempts=claim.attempt - 1,
        started_at=None,
        worker=None,
        progress_message=reason[:200],
    )


def report_progress(claim: Claim, percent: int, message: str | None) -> bool:
    """Store the job's own progress report."""
    note = storable_text((message or "")[:200]) or None
    return _fenced(claim, progress=percent, progress_message=note)


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
    return {row[0] for row in _execute_with(statement, {}) if row[1] is not None}


def current_claim(job_id: str) -> Claim | None:
    """The running attempt of ``job_id`` as a claim (for the pool parent after a hard kill)."""
    statement = select(
        Job.attempts, Job.max_attempts, Job.concurrency_key, Job.cancel_requested_at
    ).where(Job.id == uuid.UUID(job_id), Job.status == JobStatus.STARTED.value)
    row = _execute(statement).first()
    if row is None:
        return None
    return Claim(uuid.UUID(job_id), row[0], row[1], row[2], row[3] is not None)
