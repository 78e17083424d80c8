"""The dead-letter set: jobs that used up their attempts; listed, and replayed in bulk."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from api.auth import JobReadKey, QueueAdminKey, check_queue, owner
from api.listing import Cursor, Limit, TypeFilter, job_page
from api.schemas import JobPage, ReplayFailure, ReplayIn, ReplayOut, error_responses
from tasks.jobs.control import replay_dead_letters
from workers.queues import QueueName
from workers.scopes import is_admin
from workers.store.jobs import JobFilter
from workers.store.models import JobStatus
from workers.timestamps import Rfc3339

router = APIRouter(prefix="/v1/dead-letters", tags=["dead-letters"])

Since = Annotated[Rfc3339 | None, Query(description="Died at or after this time (RFC 3339).")]
Until = Annotated[Rfc3339 | None, Query(description="Died before this time (RFC 3339).")]


@router.get("", summary="List dead letters", responses=error_responses(401, 403, 422, 503))
def list_dead_letters(
    key: JobReadKey,
    job_type: TypeFilter = None,
    queue: QueueName | None = None,
    since: Since = None,
    until: Until = None,
    replayed: Annotated[
        bool | None, Query(description="Only those replayed already (true) or not (false).")
    ] = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> JobPage:
    """Dead jobs matching the filters, a page at a time, in the order of `GET /v1/jobs` (newest
    enqueued first); `since` and `until` bound the time of death (`finished_at`). A
    `jobs:read:own` key lists only the jobs it enqueued."""
    filters = JobFilter(
        status=JobStatus.DEAD.value,
        type=job_type,
        queue=queue.value if queue else None,
        finished_after=since,
        finished_before=until,
        replayed=replayed,
        api_key_id=owner(key),
    )
    return job_page(filters, cursor, limit, is_admin(key.scopes))


@router.post(
    "/replay",
    status_code=202,
    summary="Replay dead letters",
    responses=error_responses(401, 403, 422, 503),
)
def replay(body: ReplayIn, key: QueueAdminKey) -> ReplayOut:
    """Enqueue again, as new jobs, up to `limit` dead letters matching the filters that were
    not replayed yet, oldest death first. Each replay links to its original (`replay_of`,
    `replayed_by`), so replaying twice never takes a dead letter twice. Needs `admin`; a key
    limited to queues (`jobs:queue:<queue>`) names one of them in `queue`, and a dead letter
    above its `jobs:priority:<max>` is reported in `errors`.
    """
    for queue in [body.queue] if body.queue else QueueName:
        check_queue(key, queue.value)
    filters = JobFilter(
        type=body.type,
        queue=body.queue.value if body.queue else None,
        finished_after=body.since,
        finished_before=body.until,
    )
    report = replay_dead_letters(filters, body.limit, scopes=key.scopes)
    return ReplayOut(
        replayed=len(report.replayed),
        jobs=[job.id for job in report.replayed],
        errors=[ReplayFailure(job_id=i, message=m) for i, m in report.errors.items()],
    )
