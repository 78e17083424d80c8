"""One attempt of a job, from the start guard to its recorded outcome.

Retries do not use Celery's countdown (an ETA held in a worker's memory, redelivered when
the visibility timeout passes): a retry parks the job in the store as ``retrying`` with a
``run_at``, and the dispatcher publishes it when due.
"""

from __future__ import annotations

import logging
import time
import traceback
import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from billiard.exceptions import SoftTimeLimitExceeded, TimeLimitExceeded
from celery.exceptions import Ignore

from workers.heartbeat import Slot, heartbeats
from workers.jobcontext import JobCancelled, JobContext, RetryAfter
from workers.jobtypes import JobType
from workers.limits import acquire_slot as take_concurrency_slot
from workers.limits import release_slot, semaphore_key, take_rate_slot
from workers.observability import metrics
from workers.settings import get_settings
from workers.storable import check_document
from workers.store import lifecycle
from workers.store.lifecycle import Claim, Failure
from workers.store.models import JobStatus
from workers.store.resilience import persistently
from workers.store.types import utcnow

log = logging.getLogger(__name__)

#: ``RetryAfter`` may reschedule a job this many attempts at most before it is dead.
RETRY_AFTER_MAX_ATTEMPTS = 25
#: How long a job refused by its concurrency limit waits before trying again.
CONCURRENCY_RETRY_S = 1.0

JobFunction = Callable[..., Any]
#: ``job.started`` is DEBUG: the outcome line carries the attempt, and logging is a real share
#: of a short job's cost (see bench/results).
_LEVELS = {"job.started": logging.DEBUG, "job.failed": logging.WARNING, "job.dead": logging.WARNING}


def run_attempt(spec: JobType, fn: JobFunction, takes_context: bool, job_id: str,
                worker: str, payload: dict[str, Any], queue: str = "") -> Any:  # fmt: skip
    """Run one attempt of ``job_id``; raises ``Ignore`` when there is nothing to report."""
    settings = get_settings()
    token = uuid.uuid4().hex
    claim = persistently(lifecycle.claim_start, job_id, worker, settings.stale_after_s, token)
    if claim is None:
        status = persistently(lifecycle.status_of, job_id)
        _log("job.skipped", job_id, spec, queue, reason=f"status is {status or 'unknown'}")
        raise Ignore()
    slot = _take_limits(spec, claim, worker)
    context = JobContext(claim)
    heartbeats().track(context, slot)
    if claim.due_at is not None:
        wait_s = max(0.0, (utcnow() - claim.due_at).total_seconds())
        metrics.QUEUE_WAIT.labels(claim.queue).observe(wait_s)
    began = time.monotonic()
    try:
        return _execute(spec, fn, takes_context, context, payload)
    finally:
        metrics.JOB_DURATION.labels(spec.name, claim.queue).observe(time.monotonic() - began)
        heartbeats().untrack(context)
        if slot is not None:
            release_slot(settings.locks_url, slot.key, slot.holder)


def _take_limits(spec: JobType, claim: Claim, worker: str) -> Slot | None:
    settings = get_settings()
    item = spec.rate_limit_item
    if item is not None:
        wait_s = take_rate_slot(settings.locks_url, spec.name, item)
        if wait_s is not None:
            _defer(spec, claim, wait_s, f"rate limit {spec.rate_limit} reached")
    if spec.concurrency is None or claim.concurrency_key is None:
        return None
    slot = Slot(
        semaphore_key(spec.name, claim.concurrency_key),
        f"{worker}:{claim.job_id}",
        spec.concurrency.limit,
    )
    if not take_concurrency_slot(
        settings.locks_url, slot.key, slot.holder, slot.limit, settings.stale_after_s
    ):
        reason = f"{spec.concurrency.limit} already running for {claim.concurrency_key}"
        _defer(spec, claim, CONCURRENCY_RETRY_S, reason)
    return slot


def _defer(spec: JobType, claim: Claim, wait_s: float, reason: str) -> None:
    persistently(lifecycle.defer, claim, utcnow() + timedelta(seconds=wait_s), reason)
    _log("job.deferred", str(claim.job_id), spec, claim.queue, reason=reason,
         wait_s=round(wait_s, 3))  # fmt: skip
    raise Ignore()


def _execute(spec: JobType, fn: JobFunction, takes_context: bool, context: JobContext,
             payload: dict[str, Any]) -> Any:  # fmt: skip
    claim = context.claim
    _log("job.started", context.job_id, spec, claim.queue, attempt=claim.attempt)
    try:
        if context.cancelled:
            raise JobCancelled("cancelled before it started")
        model = spec.payload_model.model_validate(payload)
        result = fn(model, context) if takes_context else fn(model)
        check_document(result, "result")  # one neither store holds fails the attempt, clearly
    except JobCancelled as exc:
        persistently(lifecycle.finish_with_error, claim, JobStatus.CANCELLED, _failure(exc))
        _log("job.cancelled", context.job_id, spec, claim.queue, attempt=claim.attempt)
        raise Ignore() from exc
    except SoftTimeLimitExceeded as exc:
        # A terminable job is stopped through the soft-limit signal: was this a cancel?
        if context.cancelled or persistently(lifecycle.cancel_requested, context.job_id):
            persistently(lifecycle.finish_with_error, claim, JobStatus.CANCELLED, _failure(exc))
            _log("job.cancelled", context.job_id, spec, claim.queue, attempt=claim.attempt,
                 stopped=True)  # fmt: skip
            raise Ignore() from exc
        record_error(spec, claim, exc, timed_out=True)
        raise
    except Exception as exc:
        if record_error(spec, claim, exc, timed_out=False) is JobStatus.RETRYING:
            raise Ignore() from exc
        raise
    persistently(lifecycle.succeed, claim, result)
    _log("job.succeeded", context.job_id, spec, claim.queue, attempt=claim.attempt)
    return result


def record_error(spec: JobType, claim: Claim, exc: BaseException, timed_out: bool) -> JobStatus:
    """Record a failed attempt and decide what follows: ``retrying``, ``failed`` or ``dead``."""
    failure = _failure(exc, timed_out)
    if isinstance(exc, RetryAfter):
        retryable, delay_s, budget = True, exc.delay_s, RETRY_AFTER_MAX_ATTEMPTS
    else:
        policy = spec.retry
        retryable = policy is not None and (timed_out or isinstance(exc, policy.transient))
        delay_s = policy.delay_for(claim.attempt - 1) if policy else 0.0
        budget = claim.max_attempts
    if retryable and claim.attempt < budget:
        run_at = utcnow() + timedelta(seconds=delay_s)
        persistently(lifecycle.schedule_retry, claim, run_at, failure)
        _log("job.retrying", str(claim.job_id), spec, claim.queue, attempt=claim.attempt,
             delay_s=delay_s)  # fmt: skip
        return JobStatus.RETRYING
    status = JobStatus.DEAD if retryable else JobStatus.FAILED
    persistently(lifecycle.finish_with_error, claim, status, failure)
    _log(f"job.{status.value}", str(claim.job_id), spec, claim.queue, attempt=claim.attempt)
    return status


def record_hard_time_limit(spec: JobType, job_id: str, exc: TimeLimitExceeded) -> None:
    """After the pool killed an attempt at its hard limit, record it (runs in the parent)."""
    claim = persistently(lifecycle.current_claim, job_id)
    if claim is not None:
        record_error(spec, claim, exc, timed_out=True)


def _failure(exc: BaseException, timed_out: bool = False) -> Failure:
    kind = type(exc)
    return Failure(
        error_type=f"{kind.__module__}.{kind.__qualname__}",
        message=str(exc) or kind.__name__,
        traceback="".join(traceback.format_exception(exc)),
        timed_out=timed_out,
    )


def _log(action: str, job_id: str, spec: JobType, queue: str = "", **fields: Any) -> None:
    """One log line per state change; every outcome but ``started`` is also counted."""
    queue = queue or spec.queue.value
    level = _LEVELS.get(action, logging.INFO)
    log.log(level, action, extra={"action": action, "job_id": job_id, "job_type": spec.name,
                                  "queue": queue, **fields})  # fmt: skip
    outcome = action.removeprefix("job.")
    if outcome != "started":
        metrics.JOB_ATTEMPTS.labels(spec.name, queue, outcome).inc()
