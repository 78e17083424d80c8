"""Operator actions that need the job-type catalog: cancel (and stop), replay, bulk replay."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

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
from workers.store import control, jobs, transitions
from workers.store.jobs import JobFilter
from workers.store.models import REPLAYABLE_STATUSES, JobStatus
from workers.store.records import JobRecord
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
    request = JobRequest(original.type, original.payload, original.queue, original.priority)
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
