"""Enqueueing jobs (one or a batch), reading them back, and cancelling or replaying one."""

from __future__ import annotations

import uuid
from functools import partial
from typing import Annotated, Any

from anyio import to_thread
from fastapi import APIRouter, Request, Response
from fastapi.concurrency import run_in_threadpool
from kombu.exceptions import OperationalError
from pydantic import BaseModel
from redis.exceptions import RedisError

from api.auth import (
    CorrelationId,
    JobReadKey,
    WriteKey,
    check_read,
    check_write,
    job_reader,
    owner,
    spend,
    writer,
)
from api.errors import error_body
from api.idempotency import (
    DEDUPLICATED_HEADER,
    IdempotencyHeader,
    deduplicated,
    idempotency_key,
)
from api.listing import Cursor, Limit, TypeFilter, job_page
from api.refusals import refuse_idempotency_header
from api.resource_routes import ResourceRoutes
from api.schemas import (
    BatchAccepted,
    BatchIn,
    BatchOut,
    BatchRejected,
    CancelOut,
    ErrorDetail,
    JobIn,
    JobOut,
    JobPage,
    error_responses,
)
from api.submissions import CoalescedSubmissions
from tasks.jobs.control import cancel_job, replay_job
from tasks.jobs.producer import Producer, Rejected, enqueue_many, prepare
from workers.errors import BrokerUnavailable, JobNotFound
from workers.queues import QueueName
from workers.scopes import is_admin
from workers.store import jobs
from workers.store.models import ApiKey, Job, JobStatus
from workers.store.records import JobRecord

router = APIRouter(prefix="/v1/jobs", tags=["jobs"])

BatchResult = BatchAccepted | BatchRejected

#: A batch would name 1000 jobs with one key; a replay enqueues a new job on every call.
BatchKeyRefused = Annotated[None, refuse_idempotency_header("give each item its idempotency_key")]
_REPLAY_REFUSAL = refuse_idempotency_header(
    "every replay enqueues a new job; the original's replayed_by names the last one"
)
_DEDUPLICATED = deduplicated(
    JobOut, "An idempotency or unique key resolved the request to an existing job."
)


def _json(model: BaseModel, status_code: int, headers: dict[str, str] | None = None) -> Response:
    """``model`` serialized once, as FastAPI would, without validating it again on the way out
    (the enqueue endpoints are the hot path; their models are built from records)."""
    return Response(model.model_dump_json(), status_code, headers, "application/json")


@router.post(
    "",
    status_code=202,
    summary="Enqueue a job",
    response_model=JobOut,
    responses={**_DEDUPLICATED, **error_responses(401, 403, 409, 413, 422, 503)},
)
async def create_job(
    body: JobIn,
    key: WriteKey,
    cid: CorrelationId,
    request: Request,
    idempotency_header: IdempotencyHeader = None,
) -> Response:
    """Validate, record and publish one job (``scheduled`` instead when delayed): 202.

    When an idempotency key (per API key) or a unique key names a job already, that job is
    returned with 200 and `Taskyard-Deduplicated: true`; an idempotency key used before with
    a different request is a 409 `idempotency_conflict` naming the original job.
    """
    job = body.to_request(idempotency_key(body.idempotency_key, idempotency_header))
    submissions: CoalescedSubmissions = request.app.state.submissions
    prepared = prepare(job, api_key_id=key.id, correlation_id=cid, scopes=key.scopes)
    submission = await submissions.submit(prepared)
    out = JobOut.from_record(submission.job)
    if not submission.created:
        return _json(out, 200, {DEDUPLICATED_HEADER: "true"})
    return _json(out, 202)


@router.post(
    "/batch",
    status_code=202,
    summary="Enqueue up to 1000 jobs",
    response_model=BatchOut,
    responses=error_responses(401, 403, 413, 422, 503),
)
async def create_jobs(
    body: BatchIn,
    key: WriteKey,
    cid: CorrelationId,
    request: Request,
    _: BatchKeyRefused = None,
) -> Response:
    """Enqueue every acceptable item; the others (unknown type, bad payload, a scope for its
    type, queue or priority, an idempotency conflict) report why. Keys go in each item: an
    `Idempotency-Key` header is a 422. Each job counts against the key's rate limit.

    A malformed item (wrong field types, priority out of range, unknown queue) fails the
    whole request with 422, as for a single job.
    """
    if len(body.jobs) > 1:  # the request itself counted one
        await run_in_threadpool(spend, key, len(body.jobs) - 1)
    enqueue = partial(_enqueue_batch, body, key, cid, request.app.state.producer)
    return await to_thread.run_sync(enqueue, limiter=request.app.state.batch_limiter)


def _enqueue_batch(body: BatchIn, key: ApiKey, cid: str | None, producer: Producer) -> Response:
    requests = [item.to_request() for item in body.jobs]
    outcomes = enqueue_many(
        requests, api_key_id=key.id, correlation_id=cid, producer=producer, scopes=key.scopes
    )
    results = [_batch_result(index, outcome) for index, outcome in enumerate(outcomes)]
    accepted = sum(isinstance(result, BatchAccepted) for result in results)
    return _json(
        BatchOut(accepted=accepted, rejected=len(results) - accepted, results=results), 202
    )


def _error_detail(code: str, message: str, details: Any) -> ErrorDetail:
    """A batch item's error, bounded like every error response."""
    return ErrorDetail.model_validate(error_body(code, message, details)["error"])


def _batch_result(index: int, outcome: JobRecord | Rejected) -> BatchResult:
    if isinstance(outcome, Rejected):
        error = outcome.error
        return BatchRejected(
            index=index, error=_error_detail(error.code, error.message, error.details)
        )
    return BatchAccepted(index=index, job=JobOut.from_record(outcome))


routes = ResourceRoutes(router, "job", JobNotFound, JobOut, read=job_reader, write=writer)


def _shown(key: ApiKey, job: Job) -> JobOut:
    """``job`` as ``key`` sees it: a sensitive type's sealed fields opened for ``admin``, else
    redacted."""
    return JobOut.from_record(job, is_admin(key.scopes))


routes.add_get(
    "Get a job",
    """The job's current record. A `jobs:read:own` key reads only the jobs it enqueued: any
    other is a 404. A sensitive job type's sealed payload fields read `[redacted]` unless the
    key holds `admin`.""",
    jobs.get_job,
    check_read,
    _shown,
)


def _writable_job(job_id: uuid.UUID, key: ApiKey) -> Job:
    """The job, when ``key`` may enqueue its type on its queue (the rule for acting on it):
    else 404 or 403."""
    return check_write(key, check_read(key, jobs.get_job(job_id)))


def _cancel(job_id: uuid.UUID, key: ApiKey) -> CancelOut:
    """Cancel a job that has not finished. A waiting job is cancelled at once (`final`); a
    running one is asked to stop (`final` false) and becomes `cancelled` when it does.
    409 `job_state_conflict` when it has finished already. Needs the scope to enqueue its type
    on its queue.
    """
    record = _writable_job(job_id, key)
    try:
        outcome = cancel_job(record.id)
    except (RedisError, OperationalError, OSError) as error:
        message = "the cancel is recorded, but the broker is unreachable to stop the job now"
        raise BrokerUnavailable(message) from error
    return CancelOut(job=JobOut.from_record(outcome.job), final=outcome.final)


def _replay(job_id: uuid.UUID, key: ApiKey) -> JobOut:
    """Enqueue a dead, failed or cancelled job again as a new job (its `replay_of` names the
    original); 409 `job_state_conflict` for any other status. Needs the scope to enqueue its type
    on its queue at its priority. Every call enqueues a new job: an `Idempotency-Key` header is
    a 422.
    """
    record = _writable_job(job_id, key)
    return JobOut.from_record(replay_job(record.id, key.scopes))


routes.add_action("cancel", "Cancel a job", _cancel, 409)
replay = routes.add_action("replay", "Replay a job", _replay, 409, 422, refusal=_REPLAY_REFUSAL)
# The path before "replay" became the one word for an operator's run-again ("retry" names the
# worker's automatic next attempt); kept so existing clients and scripts keep working.
router.add_api_route(
    "/{job_id}/retry",
    replay,
    methods=["POST"],
    status_code=202,
    summary="Replay a job (deprecated alias)",
    description="Deprecated: the same as `POST /v1/jobs/{job_id}/replay`; use that path.",
    responses=error_responses(401, 403, 404, 409, 422, 503),
    deprecated=True,
)


@router.get("", summary="List jobs", responses=error_responses(401, 403, 422, 503))
def list_jobs(
    key: JobReadKey,
    status: JobStatus | None = None,
    job_type: TypeFilter = None,
    queue: QueueName | None = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> JobPage:
    """Jobs matching the filters, newest first, a page at a time (for a `jobs:read:own` key,
    only the jobs it enqueued)."""
    filters = jobs.JobFilter(
        status=status.value if status else None,
        type=job_type,
        queue=queue.value if queue else None,
        api_key_id=owner(key),
    )
    return job_page(filters, cursor, limit, is_admin(key.scopes))
