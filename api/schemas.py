"""Request and response bodies of the API (pydantic), and the record-to-JSON mapping."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool

from api.resources import Page, RecordOut
from tasks.jobs.catalog import CATALOG
from tasks.jobs.producer import MAX_DELAY, JobRequest
from workers.priorities import MAX_PRIORITY, MIN_PRIORITY
from workers.queues import QueueName
from workers.sensitive import opened_payload, redacted_payload
from workers.store.models import Job, JobStatus
from workers.store.records import JobRecord
from workers.timestamps import Rfc3339

MAX_BATCH = 1000
MAX_KEY = 200
MAX_DELAY_S = MAX_DELAY.total_seconds()
#: Job type names: no control characters (the producer refuses NUL for every caller; the API
#: also keeps other control characters out of names and list filters).
TYPE_PATTERN = r"^[^\x00-\x1f\x7f]+$"


def priority_field() -> Any:
    """An optional public priority: 0 (least urgent) to 9 (most urgent), no coercion."""
    return Field(default=None, ge=MIN_PRIORITY, le=MAX_PRIORITY, strict=True,
                 description="0 (least urgent) to 9 (most urgent).")  # fmt: skip


def delay_field(verb: str) -> Any:
    """An optional delay in seconds, up to a year, finite, no coercion."""
    described = f"{verb} no sooner than this many seconds from now (not with `run_at`)."
    return Field(default=None, ge=0, le=MAX_DELAY_S, strict=True, allow_inf_nan=False,
                 description=described)  # fmt: skip


def run_at_field(verb: str) -> Any:
    """An optional time to wait for (RFC 3339 with a time zone), within a year."""
    described = f"{verb} no sooner than this time, within a year (not with `delay_s`)."
    return Field(default=None, description=described)


def key_field(description: str) -> Any:
    """An optional key a caller names something by: 1 to :data:`MAX_KEY` characters."""
    return Field(default=None, min_length=1, max_length=MAX_KEY, description=description)


def idempotency_key_field(noun: str) -> Any:
    """An optional idempotency key in the body (the header is the other way to send it)."""
    return key_field(
        f"Repeat the request with the same key to get the same {noun} back "
        "(per API key; also accepted as the `Idempotency-Key` header)."
    )


class JobIn(BaseModel):
    """A job to enqueue; ``queue`` and ``priority`` default to the job type's own."""

    model_config = ConfigDict(extra="forbid")

    type: str = Field(min_length=1, max_length=200, pattern=TYPE_PATTERN, examples=["diag.noop"])
    payload: dict[str, Any] = Field(default_factory=dict, description="Validated per job type.")
    queue: QueueName | None = None
    priority: int | None = priority_field()
    delay_s: float | None = delay_field("Run")
    run_at: Rfc3339 | None = run_at_field("Run")
    idempotency_key: str | None = idempotency_key_field("job")
    unique_key: str | None = key_field(
        "At most one open job of this type holds the key for `unique_for_s` seconds."
    )
    unique_for_s: int | None = Field(
        default=None,
        gt=0,
        le=int(MAX_DELAY_S),
        strict=True,
        description="How long `unique_key` (or, without one, the payload) stays unique.",
    )

    def to_request(self, idempotency_key: str | None = None) -> JobRequest:
        """The producer's request for this job (``idempotency_key`` when the header gave it).

        Every field passes on by name, so one the producer does not know fails at once."""
        values = dict(self)
        values["queue"] = self.queue.value if self.queue is not None else None
        values["idempotency_key"] = self.idempotency_key or idempotency_key
        return JobRequest(**values)


class BatchIn(BaseModel):
    """Up to 1000 jobs; well-formed items are validated and accepted or rejected one by one."""

    model_config = ConfigDict(extra="forbid")

    jobs: list[JobIn] = Field(min_length=1, max_length=MAX_BATCH)


class JobError(BaseModel):
    """Why the job's last attempt failed."""

    type: str | None
    message: str | None
    traceback: str | None


class JobOut(RecordOut):
    """A job record."""

    id: uuid.UUID
    type: str
    status: JobStatus
    queue: str
    priority: int
    payload: dict[str, Any]
    attempts: int
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    worker: str | None
    result: Any
    error: JobError | None
    correlation_id: str | None
    max_attempts: int
    run_at: datetime | None = Field(description="When a scheduled job becomes due.")
    heartbeat_at: datetime | None = Field(description="The running job's last sign of life.")
    progress: int | None = Field(description="0-100, as last reported by the job.")
    progress_message: str | None
    cancel_requested_at: datetime | None = Field(
        description="When a cancel was asked for (a running job stops at its next check)."
    )
    timed_out: bool
    replay_of: uuid.UUID | None = Field(description="The job this one replays.")
    replayed_by: uuid.UUID | None = Field(description="The job that replayed this one.")

    @classmethod
    def from_record(cls, job: Job | JobRecord, reveal: bool = False) -> JobOut:
        """The public view of a stored job (priorities are public 0-9 in the store already):
        a sensitive type's sealed fields redacted, or opened with ``reveal`` (``admin``)."""
        values = {name: getattr(job, name) for name in _READ}
        job_type = CATALOG.get(job.type) if job.type in CATALOG else None
        if job_type is not None and job_type.sensitive:
            shown = opened_payload if reveal else redacted_payload
            values["payload"] = shown(job_type, values["payload"])
        error_type, message, traceback = (values.pop(name) for name in _ERROR_COLUMNS)
        if error_type is not None or message is not None:
            values["error"] = JobError(type=error_type, message=message, traceback=traceback)
        else:
            values["error"] = None
        return cls.model_validate(values)


_ERROR_COLUMNS = ("error_type", "error_message", "error_traceback")
#: The record's columns that :meth:`JobOut.from_record` reads.
_READ = (*(name for name in JobOut.model_fields if name != "error"), *_ERROR_COLUMNS)


class ErrorDetail(BaseModel):
    """What went wrong: a stable ``code``, a message for people, structured ``details``."""

    code: str
    message: str
    details: Any = None


class ErrorResponse(BaseModel):
    """The body of every error response."""

    error: ErrorDetail


class BatchAccepted(BaseModel):
    """An item of a batch that was enqueued."""

    index: int
    job: JobOut


class BatchRejected(BaseModel):
    """An item of a batch that was not enqueued, and why."""

    index: int
    error: ErrorDetail


class BatchOut(BaseModel):
    """The outcome of a batch, one result per item in request order."""

    accepted: int
    rejected: int
    results: list[BatchAccepted | BatchRejected]


class JobPage(Page[JobOut]):
    """A page of jobs, newest first; pass ``next_cursor`` back as ``cursor`` for the next."""


class CancelOut(BaseModel):
    """The job after a cancel; ``final`` is false when a running job was asked to stop."""

    job: JobOut
    final: bool


class ReplayIn(BaseModel):
    """Which dead letters to replay (not replayed yet), oldest death first; ``{}`` for any."""

    model_config = ConfigDict(extra="forbid")

    type: str | None = Field(default=None, min_length=1, max_length=200, pattern=TYPE_PATTERN)
    queue: QueueName | None = None
    since: Rfc3339 | None = Field(default=None, description="Died at or after this time.")
    until: Rfc3339 | None = Field(default=None, description="Died before this time.")
    limit: int = Field(default=1000, ge=1, le=10_000, strict=True)


class ReplayFailure(BaseModel):
    """A dead letter that could not be replayed, and why."""

    job_id: uuid.UUID
    message: str


class ReplayOut(BaseModel):
    """What a bulk replay did: ids of the new jobs, and the dead letters it could not replay."""

    replayed: int
    jobs: list[uuid.UUID]
    errors: list[ReplayFailure]


class QueueOut(BaseModel):
    """Messages waiting in a queue; ``by_priority`` maps public priority (9 first) to count."""

    name: str
    depth: int
    by_priority: dict[str, int]
    paused: bool = Field(description="Workers do not consume it; jobs wait (`PATCH` to change).")


class QueuePatch(BaseModel):
    """Pause (`true`) or resume (`false`) a queue."""

    model_config = ConfigDict(extra="forbid")

    paused: StrictBool


class QueuePauseOut(BaseModel):
    """A queue paused or resumed, and the workers that were told so."""

    name: str
    paused: bool
    workers: list[str]


class QueuesOut(BaseModel):
    """Every queue, most urgent first."""

    queues: list[QueueOut]


class HealthOut(BaseModel):
    """The process is alive."""

    status: Literal["ok"] = "ok"


class ReadyOut(BaseModel):
    """Whether the store and broker answer; ``message`` names what fails."""

    status: Literal["ready", "unready"]
    checks: dict[str, str]
    message: str | None = None


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` documenting the error shape for ``statuses``."""
    return {status: {"model": ErrorResponse} for status in statuses}
