"""Every change of a job's status, each one statement that re-checks the status it leaves.

The moves and who makes them are :data:`workers.store.models.TRANSITIONS`; each guard below
is derived from that table, so a move it does not list cannot happen here. By actor:

- producer and dispatcher: :func:`confirm_queued` (the producer's insert is in ``jobs``);
- dispatcher: :func:`claim_due`, :func:`claim_lost`, :func:`release`,
  :func:`fail_unpublishable`;
- worker: :func:`claim_start`, :func:`succeed`, :func:`settle` (what ``workers.decision``
  chose after an error). Every write after the start names the attempt the start returned,
  so a worker that lost the job (it was presumed dead and the job ran elsewhere) cannot
  overwrite the newer outcome;
- reaper (run by the dispatcher): :func:`reap_lost`;
- operator: :func:`cancel`.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import (
    ColumnElement,
    Integer,
    Select,
    Update,
    Uuid,
    and_,
    bindparam,
    case,
    func,
    literal_column,
    or_,
    select,
    update,
)

from workers import speedups
from workers.errors import JobNotFound, JobStateConflict
from workers.jobtypes import LOST_WORKER_ALLOWANCE
from workers.speedups import prepared
from workers.speedups.prepared import Prepared, Written
from workers.states import Actor
from workers.storable import storable_text
from workers.store import audit
from workers.store.engine import session_scope, writer_connection
from workers.store.models import FINISHED_STATUSES, Job, JobEvent, JobStatus
from workers.store.outage import recent_outage
from workers.store.records import JobRecord
from workers.store.types import JsonDocument, UtcDateTime, utcnow

if TYPE_CHECKING:
    from workers.decision import Decision

#: A claim not confirmed within this long (the dispatcher died mid-publish) is claimed again.
CLAIM_TIMEOUT = timedelta(seconds=60)
#: The ``error_type`` of a job whose worker went silent.
WORKER_LOST = "WorkerLost"
#: The ``error_type`` of every cancelled job, whether it had started or not.
CANCELLED = "Cancelled"
#: The ``error_type`` of a job whose stored record cannot be published (a queue or priority
#: that no producer writes: edited by hand, or by another version).
UNPUBLISHABLE = "UnpublishableJob"


def _leaving(event: JobEvent, actor: Actor | None = None) -> ColumnElement[bool]:
    # Not IN (...): an expanding parameter is rendered again on every execution.
    return or_(*(Job.status == status for status in sorted(JobStatus.sources(event, actor))))


def _execute(statement: Any, params: dict[str, Any] | None = None, durable: bool = True) -> Any:
    with writer_connection(durable=durable) as connection:
        return connection.execute(statement, params or {})


def _execute_hot(hot: Prepared, params: dict[str, Any], durable: bool = True) -> Written:
    """Run one of the writes every job makes: prepared on the server with the speedups on
    (:mod:`workers.speedups.prepared`), else through SQLAlchemy as every other write."""
    with writer_connection(durable=durable) as connection:
        if speedups.enabled() and prepared.supports(connection):
            return prepared.execute(connection, hot, params)
        result = connection.execute(hot.statement, params)
        return Written(result.all() if result.returns_rows else [], result.rowcount)


# -- the producer and the dispatcher ---------------------------------------------------------


def confirm_queued(ids: Sequence[uuid.UUID]) -> None:
    """Published: ``dispatching`` becomes ``queued`` (a job already started is left alone).

    ``dispatched_at`` becomes the confirmation time, which is after the message was published:
    the lost-message sweep compares it with the publish times of the messages in the broker.

    Not durable (see :func:`workers.store.engine.get_writer_engine`): a confirmation that a
    PostgreSQL crash undoes leaves the job ``dispatching``, so the dispatcher publishes it
    again after :data:`CLAIM_TIMEOUT` and the start guard skips whichever copy comes second.
    Not waiting for the WAL flush spares the disk a sync for every confirmation."""
    if ids:
        statement = (
            update(Job)
            .where(Job.id.in_(ids), _leaving(JobEvent.CONFIRM))
            .values(status=JobStatus.QUEUED.value, dispatched_at=utcnow())
        )
        _execute(statement, durable=False)


_CONFIRMABLE = JobStatus.sources(JobEvent.CONFIRM, Actor.PRODUCER)


def shown_confirmed(record: JobRecord) -> JobRecord:
    """``record``, just published, as it reads once its confirmation is written (the API may
    answer before that: see ``workers/store/confirmations.py``)."""
    if record.status in _CONFIRMABLE:
        return record.with_status(JobStatus.QUEUED.value)
    return record


# -- the dispatcher --------------------------------------------------------------------------


@dataclass(frozen=True)
class DueJob:
    """A claimed job, ready to be published."""

    id: uuid.UUID
    type: str
    payload: dict[str, Any]
    queue: str
    priority: int
    correlation_id: str | None


_DUE_COLUMNS = (Job.id, Job.type, Job.payload, Job.queue, Job.priority, Job.correlation_id)


def claim_due(limit: int) -> list[DueJob]:
    """Claim up to ``limit`` jobs whose time has come (and claims abandoned mid-publish)."""
    now = utcnow()
    claimable = or_(
        and_(_leaving(JobEvent.CLAIM), Job.run_at <= now),
        and_(_leaving(JobEvent.RECLAIM), Job.dispatched_at < now - CLAIM_TIMEOUT),
    )
    due_ids = select(Job.id).where(claimable).order_by(Job.run_at).limit(limit)
    statement = (
        update(Job)
        .where(Job.id.in_(due_ids.scalar_subquery()), claimable)
        .values(status=JobStatus.DISPATCHING.value, dispatched_at=now)
        .returning(*_DUE_COLUMNS)
        .execution_options(synchronize_session=False)
    )
    return [DueJob(*row) for row in _execute(statement)]


def claim_lost(ids: Sequence[uuid.UUID]) -> list[DueJob]:
    """Claim jobs whose message was lost, to publish them again (only those still queued)."""
    if not ids:
        return []
    statement = (
        update(Job)
        .where(Job.id.in_(ids), _leaving(JobEvent.REPUBLISH))
        .values(status=JobStatus.DISPATCHING.value, dispatched_at=utcnow())
        .returning(*_DUE_COLUMNS)
        .execution_options(synchronize_session=False)
    )
    return [DueJob(*row) for row in _execute(statement)]


def release(ids: Sequence[uuid.UUID], retry_in_s: float) -> None:
    """Publishing failed: hand the claims back to be tried again after ``retry_in_s``."""
    if ids:
        run_at = utcnow() + timedelta(seconds=retry_in_s)
        _execute(
            update(Job)
            .where(Job.id.in_(ids), _leaving(JobEvent.RELEASE))
            .values(status=JobStatus.SCHEDULED.value, run_at=run_at)
        )


def fail_unpublishable(reasons: dict[uuid.UUID, str]) -> None:
    """Claimed jobs whose record cannot make a message (see ``workers.dispatcher``): failed,
    with the reason, so that no dispatcher claims them again."""
    now = utcnow()
    for job_id, reason in reasons.items():
        _execute(
            update(Job)
            .where(Job.id == job_id, _leaving(JobEvent.REFUSE))
            .values(
                status=JobStatus.FAILED.value,
                finished_at=now,
                error_type=UNPUBLISHABLE,
                error_message=reason,
            )
        )


# -- the reaper ------------------------------------------------------------------------------


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
    lost = and_(_leaving(JobEvent.REAP), Job.heartbeat_at < now - timedelta(seconds=stale_after_s))
    allowance = Job.max_attempts + LOST_WORKER_ALLOWANCE
    message = "the worker running this job stopped sending heartbeats"
    failure = {"error_type": WORKER_LOST, "error_traceback": None}
    requeued = _execute(
        update(Job)
        .where(lost, Job.attempts < allowance)
        .values(status=JobStatus.RETRYING.value, run_at=now, error_message=message, **failure)
    ).rowcount
    dead = _execute(
        update(Job)
        .where(lost, Job.attempts >= allowance)
        .values(
            status=JobStatus.DEAD.value,
            finished_at=now,
            error_message=f"{message}; no attempts left",
            **failure,
        )
    ).rowcount
    return Reaped(int(requeued), int(dead))


# -- the operator ----------------------------------------------------------------------------


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
        before = {"status": job.status, "cancel_requested_at": job.cancel_requested_at}
        job.cancel_requested_at = job.cancel_requested_at or now
        final = JobStatus(job.status).may_become(JobStatus.CANCELLED, Actor.OPERATOR)
        if final:
            job.status = JobStatus.CANCELLED.value
            job.finished_at = now
            job.error_type = CANCELLED
            job.error_message = "cancelled before it started"
        action = "job.cancelled" if final else "job.cancel_requested"
        audit.record(
            session,
            action,
            audit.Target("job", job.id, job.type),
            before,
            {"status": job.status, "cancel_requested_at": job.cancel_requested_at},
        )
    return CancelOutcome(job, final)


# -- the worker ------------------------------------------------------------------------------


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


def _claim_statement() -> Any:
    # Built once: this runs for every job, and building the expression costs more than
    # executing it. Parameters: job_id, token, worker_name, now, stale_before.
    mine = and_(Job.status == JobStatus.STARTED.value, Job.claim_token == bindparam("token"))
    now = bindparam("now", type_=UtcDateTime())
    startable = or_(
        mine,
        _leaving(JobEvent.START),
        and_(  # taking over from a silent worker, within the lost-worker allowance
            _leaving(JobEvent.TAKE_OVER),
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


_CLAIM = Prepared("taskyard_claim_start", _claim_statement())


def claim_start(
    job_id: str, worker: str, stale_after_s: float, token: str, durable: bool = True
) -> Claim | None:
    """Start an attempt if the job may start; ``None`` means another holder or a final state.

    ``token`` makes the start idempotent: retried after a store error whose reply was lost,
    it finds its own claim instead of mistaking it for another worker's. ``durable=False``:
    see :attr:`workers.jobtypes.JobType.durable_start`."""
    now = utcnow()
    key = uuid.UUID(job_id)
    params = {"job_id": key, "token": token, "worker_name": worker, "now": now,
              "stale_before": now - timedelta(seconds=stale_after_s)}  # fmt: skip
    row = _execute_hot(_CLAIM, params, durable=durable).first()
    if row is None:
        return None
    return Claim(key, row[0], row[1], row[2], row[3] is not None, row[4], row[5])


#: The fence of every write after the start: this job, this attempt, still running.
FENCE = and_(
    Job.id == bindparam("fence_id", type_=Uuid()),
    Job.attempts == bindparam("fence_attempt"),
    Job.status == JobStatus.STARTED.value,
)
_SUCCEED = Prepared(
    "taskyard_succeed",
    update(Job)
    .where(FENCE)
    .values(
        status=JobStatus.SUCCEEDED.value,
        finished_at=bindparam("finished_at_", type_=UtcDateTime()),
        result=bindparam("result_", type_=JsonDocument),
        progress=100,
        error_type=None,
        error_message=None,
        error_traceback=None,
    ),
)


def fence(claim: Claim) -> dict[str, Any]:
    """The parameters of :data:`FENCE` for ``claim``."""
    return {"fence_id": claim.job_id, "fence_attempt": claim.attempt}


def succeed(claim: Claim, result: Any) -> bool:
    """Record success and the JSON result (a statement built once: the hot path)."""
    params = {**fence(claim), "finished_at_": utcnow(), "result_": result}
    # An outcome may be lost in a server crash: the reaper then runs the job again.
    return _execute_hot(_SUCCEED, params, durable=False).rowcount == 1


def succeed_with(
    claim: Claim, result: Any, write: Update, params: dict[str, Any]
) -> tuple[bool, bool]:
    """Record success together with ``write``, another record's fenced ``UPDATE`` whose
    parameters (``params``) are named apart from the job's (``notify.deliver``'s settle), and
    only if ``write`` matched a row: one round trip on PostgreSQL, where both are one
    statement; one after the other on SQLite, where a round trip costs nothing. Returns
    whether ``write`` matched and whether the success was recorded. Not durable, like
    :func:`succeed`."""
    values = {**params, **fence(claim), "finished_at_": utcnow(), "result_": result}
    with writer_connection(durable=False) as connection:
        if connection.dialect.name != "postgresql":
            if connection.execute(write, values).rowcount != 1:
                return False, False
            return True, connection.execute(_SUCCEED.statement, values).rowcount == 1
        wrote, succeeded = connection.execute(_with_success(write), values).one()
        return wrote == 1, succeeded == 1


@cache
def _with_success(write: Update) -> Select[Any]:
    """``write`` and :data:`_SUCCEED` as one PostgreSQL statement (built once per ``write``).
    Every data-modifying ``WITH`` runs whether it is read or not; the success waits for a
    row from ``write``, and the rows each returned tell which matched."""
    one = literal_column("1", Integer).label("one")
    wrote = write.returning(one).cte("wrote")
    success = cast(Update, _SUCCEED.statement)
    succeeded = success.where(select(wrote.c.one).exists()).returning(one).cte("succeeded")
    return select(
        select(func.count()).select_from(wrote).scalar_subquery(),
        select(func.count()).select_from(succeeded).scalar_subquery(),
    )


def settle(claim: Claim, decision: Decision, traceback: str | None) -> bool:
    """Apply what :func:`workers.decision.decide` chose after the attempt ``claim`` ended."""
    if not JobStatus.STARTED.may_become(decision.status, Actor.WORKER):
        raise ValueError(f"a worker cannot make a started job {decision.status}")
    now = utcnow()
    values: dict[str, Any]
    if decision.status is JobStatus.SCHEDULED:  # the attempt is given back
        values = {"attempts": claim.attempt - 1, "started_at": None, "worker": None,
                  "progress_message": storable_text(decision.message[:200])}  # fmt: skip
    else:
        # A job's own text may hold what neither store takes (a NUL read from a file): it is
        # recorded with a replacement character, never lost to a refused write.
        values = {"error_type": storable_text((decision.error_type or "")[:255]) or None,
                  "error_message": storable_text(decision.message),
                  "error_traceback": None if traceback is None else storable_text(traceback),
                  "timed_out": decision.timed_out}  # fmt: skip
    if decision.status in (JobStatus.SCHEDULED, JobStatus.RETRYING):
        values["run_at"] = now + timedelta(seconds=decision.delay_s)
    else:
        values["finished_at"] = now
    statement = update(Job).where(FENCE).values(status=decision.status.value, **values)
    return bool(_execute(statement, fence(claim), durable=False).rowcount == 1)
