"""Enqueueing jobs (one or a batch), reading them back, and cancelling or replaying one."""

from __future__ import annotations

import uuid
from functools import partial
from typing import Annotated, Any

from anyio import to_thread
from fastapi import APIRouter, Request, Response
from kombu.exceptions import OperationalError
from pydantic import BaseModel
from redis.exceptions import RedisError

from api.auth import CorrelationId, ReadKey, WriteKey, check_write, forbidden
from api.errors import error_body
from api.idempotency import (
    DEDUPLICATED_HEADER,
    IdempotencyHeader,
    deduplicated,
    idempotency_key,
)
from api.listing import Cursor, Limit, TypeFilter, job_page
from api.refusals import refuse_idempotency_header
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
from tasks.jobs.producer import JobRequest, Producer, Rejected, enqueue_many, prepare
from workers.errors import BrokerUnavailable, JobNotFound
from workers.queues import QueueName
from workers.scopes import JOBS_WRITE, is_admin, may_write, write_scope_for
from workers.store import jobs
from workers.store.models import ApiKey, Job, JobStatus
from workers.store.records import JobRecord

router = APIRouter(prefix="/v1/jobs", tags=["jobs"])

BatchResult = BatchAccepted | BatchRejected

#: A batch would name 1000 jobs with one key; a replay enqueues a new job on every call.
BatchKeyRefused = Annotated[None, refuse_idempotency_header("give each item its idempotency_key")]
ReplayKeyRefused = Annotated[
    None,
    refuse_idempotency_header(
        "every replay enqueues a new job; the original's replayed_by names the last one"
    ),
]
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
    check_write(key, body.type)
    submissions: CoalescedSubmissions = request.app.state.submissions
    prepared = prepare(job, api_key_id=key.id, correlation_id=cid)
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
    """Enqueue every acceptable item; the others (unknown type, bad payload, scope, an
    idempotency conflict) report why. Keys go in each item: an `Idempotency-Key` header is
    a 422.

    A malformed item (wrong field types, priority out of range, unknown queue) fails the
    whole request with 422, as for a single job.
    """
    enqueue = partial(_enqueue_batch, body, key, cid, request.app.state.producer)
    return await to_thread.run_sync(enqueue, limiter=request.app.state.batch_limiter)


def _enqueue_batch(body: BatchIn, key: ApiKey, cid: str | None, producer: Producer) -> Response:
    results: dict[int, BatchResult] = {}
    allowed: list[tuple[int, JobRequest]] = []
    for index, item in enumerate(body.jobs):
        if may_write(key.scopes, item.type):
            allowed.append((index, item.to_request()))
        else:
            problem = forbidden(write_scope_for(item.type), JOBS_WRITE)
            error = _error_detail(problem.code, problem.message, problem.details)
            results[index] = BatchRejected(index=index, error=error)
    requests = [request for _, request in allowed]
    outcomes = (
        enqueue_many(requests, api_key_id=key.id, correlation_id=cid, producer=producer)
        if requests
        else []
    )
    for (index, _), outcome in zip(allowed, outcomes, strict=True):
        results[index] = _batch_result(index, outcome)
    ordered = [results[index] for index in range(len(body.jobs))]
    accepted = sum(isinstance(result, BatchAccepted) for result in ordered)
    return _json(
        BatchOut(accepted=accepted, rejected=len(ordered) - accepted, results=ordered), 202
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


def _job_id(job_id: str) -> uuid.UUID:
    try:
        return uuid.UUID(job_id)
    except ValueError:
        raise JobNotFound(f"no job with id {job_id!r}; job ids are UUIDs") from None


def _writable_job(job_id: str, key: ApiKey) -> Job:
    """The job, when ``key`` may enqueue its type (the rule for acting on it): else 404 or 403."""
    record = jobs.get_job(_job_id(job_id))
    check_write(key, record.type)
    return record


@router.get("/{job_id}", summary="Get a job", responses=error_responses(401, 403, 404, 503))
def get_job(job_id: str, key: ReadKey) -> JobOut:
    """The job's current record."""
    return JobOut.from_record(jobs.get_job(_job_id(job_id)), is_admin(key.scopes))


@router.post(
    "/{job_id}/cancel",
    status_code=202,
    summary="Cancel a job",
    responses=error_responses(401, 403, 404, 409, 503),
)
def cancel(job_id: str, key: WriteKey) -> CancelOut:
    """Cancel a job that has not finished. A waiting job is cancelled at once (`final`); a
    running one is asked to stop (`final` false) and becomes `cancelled` when it does.
    409 `job_state_conflict` when it has finished already. Needs the scope to enqueue its type.
    """
    record = _writable_job(job_id, key)
    try:
        outcome = cancel_job(record.id)
    except (RedisError, OperationalError, OSError) as error:
        message = "the cancel is recorded, but the broker is unreachable to stop the job now"
        raise BrokerUnavailable(message) from error
    return CancelOut(job=JobOut.from_record(outcome.job), final=outcome.final)


@router.post(
    "/{job_id}/replay",
    status_code=202,
    summary="Replay a job",
    responses=error_responses(401, 403, 404, 409, 422, 503),
)
def replay(job_id: str, key: WriteKey, _: ReplayKeyRefused = None) -> JobOut:
    """Enqueue a dead, failed or cancelled job again as a new job (its `replay_of` names the
    original); 409 `job_state_conflict` for any other status. Needs the scope to enqueue its type.
    Every call enqueues a new job: an `Idempotency-Key` header is a 422.
    """
    record = _writable_job(job_id, key)
    return JobOut.from_record(replay_job(record.id))


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
    key: ReadKey,
    status: JobStatus | None = None,
    job_type: TypeFilter = None,
    queue: QueueName | None = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> JobPage:
    """Jobs matching the filters, newest first, a page at a time."""
    filters = jobs.JobFilter(
        status=status.value if status else None,
        type=job_type,
        queue=queue.value if queue else None,
    )
    return job_page(filters, cursor, limit, is_admin(key.scopes))
