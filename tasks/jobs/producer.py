"""The one way jobs are enqueued, used by the API, the CLI and in-process Python callers.

Two steps: :func:`prepare` validates a request and builds its record (no I/O), and
:meth:`Producer.submit` records and publishes a batch of prepared jobs. :func:`submit`,
:func:`enqueue` and :func:`enqueue_many` put the two together for one request or many.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, fields, replace
from datetime import UTC, datetime, timedelta
from typing import Any, TypedDict, Unpack

from pydantic import ValidationError

from tasks.jobs.catalog import CATALOG
from workers.errors import InvalidJob, MissingScope, TaskyardError
from workers.jobtypes import JobType
from workers.messages import Message
from workers.priorities import check_priority
from workers.publisher import publish
from workers.queues import QueueName
from workers.scopes import JOBS_WRITE, may_write, missing_for_job, write_scope_for
from workers.sensitive import sealed_args_repr, sealed_payload
from workers.settings import get_settings
from workers.storable import Unstorable, check_document, check_text
from workers.store import jobs, transitions
from workers.store.models import JobStatus
from workers.store.records import JobRecord
from workers.store.types import utcnow
from workers.timestamps import in_store_range

#: Marks published jobs ``queued`` (a :class:`Producer`'s strategy).
Confirm = Callable[[Sequence[uuid.UUID]], None]
MAX_DELAY = timedelta(days=365)
#: The fields of a request that name it rather than ask for something: left out of its hash.
NOT_HASHED = frozenset({"idempotency_key"})
#: Text a request hands the store, and the most characters each column holds.
TEXT_LIMITS = {"type": 200, "idempotency_key": 200, "unique_key": 200}
MAX_CORRELATION_ID = 64


@dataclass(frozen=True)
class JobRequest:
    """What a caller asks for; ``queue`` and ``priority`` default to the job type's."""

    type: str
    payload: dict[str, Any] = field(default_factory=dict)
    queue: str | None = None
    priority: int | None = None
    delay_s: float | None = None
    run_at: datetime | None = None
    idempotency_key: str | None = None
    unique_key: str | None = None
    unique_for_s: int | None = None


@dataclass(frozen=True)
class Submission:
    """The job a request resolved to, and whether this request created it."""

    job: JobRecord
    created: bool


@dataclass(frozen=True)
class Rejected:
    """A request in a batch that did not validate."""

    index: int
    error: TaskyardError


@dataclass(frozen=True)
class Prepared:
    """A request that validated: the record to insert and, when keyed, how to deduplicate it."""

    new: jobs.NewJob
    dedupe: jobs.Dedupe | None


def _check_storable(request: JobRequest, correlation_id: str | None) -> None:
    """Refuse what the store cannot hold on both backends: a NUL or an overlong text, and in
    the payload (keys included) a NUL, an integer beyond 64 bits, NaN or deep nesting."""
    try:
        for name, limit in TEXT_LIMITS.items():
            check_text(name, getattr(request, name), limit)
        check_text("correlation_id", correlation_id, MAX_CORRELATION_ID)
    except Unstorable as error:
        details = [{"field": error.where, "message": error.message}]
        raise InvalidJob(f"{error.where} {error.message}", details) from None
    try:
        check_document(request.payload)
    except Unstorable as error:
        details = [{"field": error.where or "payload", "message": error.message}]
        raise InvalidJob(
            f"invalid payload for {request.type[:200]}: {error.message}", details
        ) from None


def _payload(job_type: JobType, payload: dict[str, Any]) -> dict[str, Any]:
    try:
        return job_type.payload_model.model_validate(payload).model_dump(mode="json")
    except ValidationError as error:
        details = [
            {"field": ".".join(str(p) for p in e["loc"]) or "payload", "message": e["msg"]}
            for e in error.errors()
        ]
        raise InvalidJob(f"invalid payload for {job_type.name}", details) from None


def _queue(job_type: JobType, requested: str | None) -> QueueName:
    try:
        return QueueName(requested) if requested is not None else job_type.queue
    except ValueError:
        choices = ", ".join(q.value for q in QueueName)
        raise InvalidJob(f"unknown queue {requested!r}; choose one of {choices}") from None


def _run_at(request: JobRequest) -> datetime | None:
    if request.delay_s is not None and request.run_at is not None:
        raise InvalidJob("give delay_s or run_at, not both")
    now = utcnow()
    if request.delay_s is not None:
        if not 0 <= request.delay_s <= MAX_DELAY.total_seconds():
            raise InvalidJob("delay_s must be between 0 and 31536000 (a year)")
        return now + timedelta(seconds=request.delay_s) if request.delay_s > 0 else None
    if request.run_at is not None:
        try:
            run_at = in_store_range(request.run_at)
        except ValueError as error:
            raise InvalidJob(f"run_at: {error}") from None
        if run_at - now > MAX_DELAY:
            raise InvalidJob("run_at must be within a year")
        return run_at if run_at > now else None
    return None


def _fingerprint(*parts: Any) -> str:
    canonical = json.dumps(parts, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def request_hash(request: JobRequest, resolved: dict[str, Any]) -> str:
    """What an idempotency key compares: every field of ``request`` but :data:`NOT_HASHED`,
    so a field added to :class:`JobRequest` is covered without a change here.

    ``resolved`` replaces what the producer settled (the validated payload, the type's default
    queue, priority and unique window), so leaving out a default asks for the same job as
    giving it. ``delay_s`` counts as given, not as the time it resolves to: a repeat a minute
    later asks for the same delay and gets the first job back, due when the first request made
    it due. ``run_at`` counts as the instant (any offset)."""
    asked = {f.name: getattr(request, f.name) for f in fields(request) if f.name not in NOT_HASHED}
    unknown = set(resolved) - set(asked)
    if unknown:
        raise ValueError(f"not request fields: {sorted(unknown)}")
    return _fingerprint({**asked, **resolved})


def _resolved(request: JobRequest, new: jobs.NewJob, unique_for: int | None) -> dict[str, Any]:
    """The request's values as the producer settled them, for :func:`request_hash`."""
    run_at = request.run_at.astimezone(UTC).isoformat() if request.run_at is not None else None
    delay_s = float(request.delay_s) if request.delay_s else None  # 0 is no delay, as omitted
    return {
        "type": new.type, "payload": new.payload, "queue": new.queue, "priority": new.priority,
        "delay_s": delay_s, "run_at": run_at, "unique_for_s": unique_for,
    }  # fmt: skip


def _dedupe(
    request: JobRequest, job_type: JobType, new: jobs.NewJob, scope: str
) -> jobs.Dedupe | None:
    unique_for = request.unique_for_s or job_type.unique_for_s
    if unique_for is not None and not 0 < unique_for <= MAX_DELAY.total_seconds():
        raise InvalidJob("unique_for_s must be between 1 and 31536000 (a year)")
    if request.unique_key is not None and unique_for is None:
        raise InvalidJob("unique_key needs unique_for_s (the job type sets none)")
    if request.idempotency_key is None and unique_for is None:
        return None
    now = utcnow()
    window = get_settings().idempotency_window_s
    return jobs.Dedupe(
        scope=scope,
        request_hash=request_hash(request, _resolved(request, new, unique_for)),
        idempotency_key=request.idempotency_key,
        idempotency_until=now + timedelta(seconds=window) if request.idempotency_key else None,
        unique_key=(request.unique_key or _fingerprint(new.payload)[:40]) if unique_for else None,
        unique_until=now + timedelta(seconds=unique_for) if unique_for else None,
    )


def prepare(
    request: JobRequest,
    *,
    api_key_id: uuid.UUID | None = None,
    correlation_id: str | None = None,
    replay_of: uuid.UUID | None = None,
    scopes: Sequence[str] | None = None,
    internal: bool = False,
) -> Prepared:
    """Validate ``request`` and build its record (no I/O); :class:`InvalidJob` when it is bad.
    An internal job type (see :attr:`JobType.internal`) only with ``internal``: Taskyard's
    own producers (deliveries) say so, every caller's path refuses it. ``scopes`` are the
    calling API key's (``None``: no key, as for the CLI and beat): :class:`MissingScope` when
    they do not allow the type, or the queue and priority the job resolves to."""
    _check_storable(request, correlation_id)
    if scopes is not None and not may_write(scopes, request.type):
        raise MissingScope(write_scope_for(request.type), JOBS_WRITE)
    job_type = CATALOG.get(request.type) if internal else CATALOG.public(request.type)
    payload = _payload(job_type, request.payload)
    priority = job_type.priority if request.priority is None else request.priority
    try:
        check_priority(priority)
    except ValueError as error:
        raise InvalidJob(str(error)) from None
    queue = _queue(job_type, request.queue).value
    missing = None if scopes is None else missing_for_job(scopes, queue, priority)
    if missing is not None:
        raise MissingScope(missing)
    concurrency_key = None
    if job_type.concurrency is not None:
        concurrency_key = str(payload.get(job_type.concurrency.key_field, ""))[:200] or None
    new = jobs.NewJob(
        id=uuid.uuid4(),
        type=job_type.name,
        queue=queue,
        priority=priority,
        payload=payload,
        correlation_id=correlation_id,
        api_key_id=api_key_id,
        run_at=_run_at(request),
        max_attempts=job_type.max_attempts,
        concurrency_key=concurrency_key,
        replay_of=replay_of,
    )
    scope = str(api_key_id) if api_key_id else "internal"
    dedupe = _dedupe(request, job_type, new, scope)  # compares the payload in clear
    if job_type.sensitive:
        new = replace(new, payload=sealed_payload(job_type, payload))
    return Prepared(new, dedupe)


class Producer:
    """Records and publishes prepared jobs; how published jobs are confirmed ``queued`` is
    its ``confirm`` strategy (at once by default; the API hands them to a background thread,
    :class:`workers.store.confirmations.BackgroundConfirmations`)."""

    def __init__(self, confirm: Confirm = transitions.confirm_queued) -> None:
        self.confirm = confirm

    def submit(self, batch: Sequence[Prepared]) -> list[Submission | Rejected]:
        """Record and publish ``batch``, in order: jobs without keys in one insert (all or
        none) and one publish, whose failure raises; keyed ones one by one, each resolved to
        the job its keys name or :class:`Rejected` (at its index in ``batch``) when refused."""
        plain = [prepared.new for prepared in batch if prepared.dedupe is None]
        records = iter(self._record_and_publish(plain) if plain else [])
        results: list[Submission | Rejected] = []
        for index, prepared in enumerate(batch):
            if prepared.dedupe is None:
                results.append(Submission(next(records), created=True))
                continue
            try:
                results.append(self._submit_keyed(prepared.new, prepared.dedupe))
            except TaskyardError as error:
                results.append(Rejected(index, error))
        return results

    def _submit_keyed(self, new: jobs.NewJob, dedupe: jobs.Dedupe) -> Submission:
        record, created = jobs.insert_deduplicated(new, dedupe)
        if created:
            (record,) = self._publish([new], [record])
        return Submission(record, created)

    def _record_and_publish(self, new: Sequence[jobs.NewJob]) -> list[JobRecord]:
        """Insert jobs that carry no keys, all or none, and publish those not delayed."""
        return self._publish(new, jobs.insert_jobs(new))

    def _publish(self, new: Sequence[jobs.NewJob], records: list[JobRecord]) -> list[JobRecord]:
        """Publish the jobs just inserted as ``dispatching`` (``records``, in the order of
        ``new``), deleting them again if the broker refuses, and have them confirmed
        ``queued``: the records as they then read. The messages are built from ``new``."""
        ready = [index for index, job in enumerate(new) if job.status == JobStatus.DISPATCHING]
        if not ready:
            return records
        messages = [_message(new[index]) for index in ready]
        ids = [new[index].id for index in ready]
        try:
            publish(messages)
        except TaskyardError:
            jobs.delete_jobs(ids)
            raise
        self.confirm(ids)
        for index in ready:
            records[index] = transitions.shown_confirmed(records[index])
        return records


#: The job types whose messages show their arguments redacted (one set lookup per message).
SENSITIVE_TYPES = frozenset(job_type.name for job_type in CATALOG if job_type.sensitive)


def _message(job: jobs.NewJob) -> Message:
    shown = sealed_args_repr(job.payload) if job.type in SENSITIVE_TYPES else None
    return Message(str(job.id), job.type, job.payload, job.queue, job.priority,
                   job.correlation_id, shown)  # fmt: skip


#: Confirms at once: for the CLI, beat, maintenance and in-process callers.
PRODUCER = Producer()


class Origin(TypedDict, total=False):
    """Who asks, as :func:`prepare` takes it."""

    api_key_id: uuid.UUID | None
    correlation_id: str | None
    replay_of: uuid.UUID | None
    scopes: Sequence[str] | None


def submit(request: JobRequest, **origin: Unpack[Origin]) -> Submission:
    """Enqueue one job with :data:`PRODUCER`, or resolve it to the existing job its
    idempotency or unique key names; raises what refused it."""
    (outcome,) = PRODUCER.submit([prepare(request, **origin)])
    if isinstance(outcome, Rejected):
        raise outcome.error
    return outcome


def enqueue(request: JobRequest, **origin: Unpack[Origin]) -> JobRecord:
    """Enqueue one job and return its record (an existing one if a key deduplicated it)."""
    return submit(request, **origin).job


def enqueue_many(
    requests: Sequence[JobRequest], *, producer: Producer = PRODUCER, **origin: Unpack[Origin]
) -> list[JobRecord | Rejected]:
    """Enqueue a batch with ``producer``: each request's record, or why it was refused."""
    outcomes: list[Prepared | Rejected] = []
    for index, request in enumerate(requests):
        try:
            outcomes.append(prepare(request, **origin))
        except TaskyardError as error:
            outcomes.append(Rejected(index, error))
    submitted = iter(producer.submit([o for o in outcomes if isinstance(o, Prepared)]))
    results: list[JobRecord | Rejected] = []
    for index, outcome in enumerate(outcomes):
        if isinstance(outcome, Rejected):
            results.append(outcome)
            continue
        done = next(submitted)
        results.append(Rejected(index, done.error) if isinstance(done, Rejected) else done.job)
    return results
