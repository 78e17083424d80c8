"""Operator actions that need the job-type catalog: cancel (and stop), replay, bulk replay,
and sealing sensitive payloads under a new data key."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from sqlalchemy import func, select

from tasks.jobs.catalog import CATALOG
from tasks.jobs.producer import JobRequest, submit
from workers.app import app
from workers.errors import (
    BrokerUnavailable,
    InternalJobType,
    JobStateConflict,
    StoreUnavailable,
    TaskyardError,
)
from workers.sensitive import is_sealed, opened_payload, resealed_payload
from workers.store import control, jobs, transitions
from workers.store.engine import session_scope
from workers.store.jobs import JobFilter
from workers.store.models import REPLAYABLE_STATUSES, Job, JobStatus
from workers.store.records import JobRecord
from workers.store.resealing import ResealReport, reseal_rows
from workers.store.transitions import CancelOutcome

#: Signal that raises ``SoftTimeLimitExceeded`` inside a prefork child: the job can clean up.
STOP_SIGNAL = "SIGUSR1"
REPLAY_BATCH = 200


def cancel_job(job_id: uuid.UUID) -> CancelOutcome:
    """Cancel a job; a running job of a terminable type is also stopped through its worker.
    A job of an internal type is refused (:class:`InternalJobType`): it carries a record of its
    own (a delivery), cancelled through that record's own endpoint."""
    job_type = jobs.get_job(job_id).type
    if job_type in CATALOG and CATALOG.get(job_type).internal is not None:
        raise InternalJobType(
            f"job {job_id} is a {job_type} job, internal to Taskyard; cancel what it carries "
            "instead (POST /v1/deliveries/{delivery_id}/cancel, `taskyard deliveries cancel`)"
        )
    outcome = transitions.cancel(job_id)
    job = outcome.job
    if not outcome.final and job.type in CATALOG and CATALOG.get(job.type).terminable:
        app.control.revoke(str(job.id), terminate=True, signal=STOP_SIGNAL)
    return outcome


def replay_job(job_id: uuid.UUID, scopes: Sequence[str] | None = None) -> JobRecord:
    """Enqueue a dead, failed or cancelled job again as a new job linked to the original;
    ``scopes`` (an API key's) must allow its type, queue and priority."""
    original = jobs.get_job(job_id)
    if original.status not in REPLAYABLE_STATUSES:
        raise JobStateConflict(f"job {job_id} {JobStatus(original.status).in_words}; only "
                               "dead, failed or cancelled jobs can be replayed")  # fmt: skip
    payload = original.payload
    if original.type in CATALOG and CATALOG.get(original.type).sensitive:
        payload = opened_payload(CATALOG.get(original.type), payload)  # sealed again anew
    request = JobRequest(original.type, payload, original.queue, original.priority)
    replay = submit(request, api_key_id=original.api_key_id, correlation_id=original.correlation_id,
                    replay_of=original.id, scopes=scopes).job  # fmt: skip
    control.mark_replayed(original.id, replay.id)
    return replay


@dataclass
class ReplayReport:
    """What a bulk replay did: new jobs, and dead letters it could not replay."""

    replayed: list[JobRecord] = field(default_factory=list)
    errors: dict[uuid.UUID, str] = field(default_factory=dict)


def replay_dead_letters(
    filters: JobFilter,
    limit: int | None = None,
    on_progress: Callable[[int], None] | None = None,
    scopes: Sequence[str] | None = None,
) -> ReplayReport:
    """Replay dead letters matching ``filters`` (at most ``limit`` tried), oldest first, each
    as :func:`replay_job` with ``scopes``.

    A dead letter that cannot be replayed (its type is gone, its payload no longer valid) is
    reported and skipped; an outage of the broker or the store stops the whole run.
    """
    report = ReplayReport()
    tried = 0
    while limit is None or tried < limit:
        want = REPLAY_BATCH if limit is None else min(REPLAY_BATCH, limit - tried)
        skipped = set(report.errors)
        batch = [
            i for i in control.dead_letter_ids(filters, want + len(skipped)) if i not in skipped
        ]
        if not batch:
            break
        for job_id in batch[:want]:
            tried += 1
            try:
                report.replayed.append(replay_job(job_id, scopes))
            except (BrokerUnavailable, StoreUnavailable):
                raise
            except TaskyardError as error:
                report.errors[job_id] = error.message
            if on_progress is not None:
                on_progress(1)
    return report


def _sensitive_types() -> list[str]:
    return [job_type.name for job_type in CATALOG if job_type.sensitive]


def count_sensitive_jobs() -> int:
    """How many stored jobs are of a sensitive type (a data-key rotation's total)."""
    with session_scope() as session:
        query = select(func.count()).select_from(Job).where(Job.type.in_(_sensitive_types()))
        return int(session.scalar(query) or 0)


def _reseal_job(record: Job) -> bool | None:
    resealed = resealed_payload(CATALOG.get(record.type), record.payload)
    if resealed is None:
        return None
    was_plain = any(
        CATALOG.get(record.type).is_sensitive(name) and not is_sealed(record.payload[name])
        for name in resealed
    )
    record.payload = resealed
    return was_plain


def reseal_payloads(progress: Callable[[int], None] | None = None) -> ResealReport:
    """Seal every stored sensitive payload under the first data key: sealed fields again,
    fields stored in clear (before their type was marked sensitive) for the first time."""
    where = Job.type.in_(_sensitive_types())
    return reseal_rows(Job, [Job.created_at, Job.id], _reseal_job, where, progress)
