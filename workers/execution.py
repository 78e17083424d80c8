"""One attempt of a job, from the start guard to its recorded outcome (what follows an error
is :func:`workers.decision.decide`; every status it writes goes through ``transitions``).

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
from dataclasses import replace
from typing import Any, NoReturn

from billiard.exceptions import SoftTimeLimitExceeded, TimeLimitExceeded
from celery.exceptions import Ignore

from workers.decision import Attempt, LimitReached, decide
from workers.errors import SealingUnavailable
from workers.heartbeat import Permit, heartbeats
from workers.jobcontext import JobCancelled, JobContext
from workers.jobtypes import JobType
from workers.limits import acquire_permit, release_permit, semaphore_key, take_rate_permit
from workers.observability import metrics
from workers.observability.redaction import mask, redacting
from workers.sensitive import clear_texts, opened_payload
from workers.settings import get_settings
from workers.storable import check_document
from workers.store import lifecycle, transitions
from workers.store.models import JobStatus
from workers.store.resilience import persistently
from workers.store.transitions import Claim
from workers.store.types import utcnow

log = logging.getLogger(__name__)

#: How long a job refused by its concurrency limit waits before trying again.
CONCURRENCY_RETRY_S = 1.0

JobFunction = Callable[..., Any]
#: ``job.started`` is DEBUG: the outcome line carries the attempt, and logging is a real share
#: of a short job's cost (see bench/results).
_LEVELS = {"job.started": logging.DEBUG, "job.failed": logging.WARNING, "job.dead": logging.WARNING}
_ACTIONS = {JobStatus.SCHEDULED: "job.deferred"}
#: Outcomes Celery need not hear of: the job runs again later, or was cancelled.
_HANDLED = frozenset({JobStatus.RETRYING, JobStatus.SCHEDULED, JobStatus.CANCELLED})
_UNTRACED = frozenset({JobStatus.SCHEDULED, JobStatus.CANCELLED})


def run_attempt(job_type: JobType, fn: JobFunction, takes_context: bool, job_id: str,
                worker: str, payload: dict[str, Any], queue: str = "") -> Any:  # fmt: skip
    """Run one attempt of ``job_id``; raises ``Ignore`` when there is nothing to report."""
    settings = get_settings()
    token = uuid.uuid4().hex
    claim = persistently(transitions.claim_start, job_id, worker, settings.stale_after_s, token,
                         job_type.durable_start)  # fmt: skip
    if claim is None:
        status = persistently(lifecycle.status_of, job_id)
        _log("job.skipped", job_id, job_type, queue, reason=f"status is {status or 'unknown'}")
        raise Ignore()
    permit = _take_limits(job_type, claim, worker)
    context = JobContext(claim)
    heartbeats().track(context, permit)
    if claim.due_at is not None:
        wait_s = max(0.0, (utcnow() - claim.due_at).total_seconds())
        metrics.child(metrics.QUEUE_WAIT, job_type.name, claim.queue).observe(wait_s)
    began = time.monotonic()
    try:
        return _execute(job_type, fn, takes_context, context, payload)
    finally:
        took_s = time.monotonic() - began
        metrics.child(metrics.JOB_DURATION, job_type.name, claim.queue).observe(took_s)
        heartbeats().untrack(context)
        if permit is not None:
            release_permit(settings.locks_url, permit.key, permit.holder)


def run_sealed(job_type: JobType, fn: JobFunction, takes_context: bool, job_id: str,
               worker: str, payload: dict[str, Any], queue: str = "") -> Any:  # fmt: skip
    """:func:`run_attempt` for a sensitive job type: the payload's sealed fields are opened for
    the job's code, and their values masked in every log record, recorded error and Sentry
    event made meanwhile."""
    try:
        opened = opened_payload(job_type, payload)
    except SealingUnavailable as error:
        _fail_unopened(job_type, job_id, worker, error)
    with redacting(clear_texts(job_type, opened)):
        try:
            return run_attempt(job_type, fn, takes_context, job_id, worker, opened, queue)
        except BaseException as exc:
            # Celery logs it, and Sentry reports it, once this block has ended.
            exc.args = tuple(mask(a) if isinstance(a, str) else a for a in exc.args)
            raise


def _fail_unopened(
    job_type: JobType, job_id: str, worker: str, error: SealingUnavailable
) -> NoReturn:
    """Record a sensitive job this worker cannot open (no key of its own opens the payload) as
    ended by ``error``, which names the setting, instead of leaving it queued."""
    stale_after_s = get_settings().stale_after_s
    claim = persistently(transitions.claim_start, job_id, worker, stale_after_s, uuid.uuid4().hex)
    if claim is not None:
        record_error(job_type, claim, error)
    raise Ignore() from error


def _take_limits(job_type: JobType, claim: Claim, worker: str) -> Permit | None:
    settings = get_settings()
    item = job_type.rate_limit_item
    if item is not None:
        wait_s = take_rate_permit(settings.locks_url, "job", job_type.name, item)
        if wait_s is not None:
            _give_back(
                job_type, claim, LimitReached(wait_s, f"rate limit {job_type.rate_limit} reached")
            )
    if job_type.concurrency is None or claim.concurrency_key is None:
        return None
    permit = Permit(
        semaphore_key(job_type.name, claim.concurrency_key),
        f"{worker}:{claim.job_id}",
        job_type.concurrency.limit,
    )
    if not acquire_permit(
        settings.locks_url, permit.key, permit.holder, permit.limit, settings.stale_after_s
    ):
        reason = f"{job_type.concurrency.limit} already running for {claim.concurrency_key}"
        _give_back(job_type, claim, LimitReached(CONCURRENCY_RETRY_S, reason))
    return permit


def _give_back(job_type: JobType, claim: Claim, limit: LimitReached) -> None:
    record_error(job_type, claim, limit)
    raise Ignore() from limit


def _execute(job_type: JobType, fn: JobFunction, takes_context: bool, context: JobContext,
             payload: dict[str, Any]) -> Any:  # fmt: skip
    claim = context.claim
    _log("job.started", context.job_id, job_type, claim.queue, attempt=claim.attempt)
    try:
        if context.cancelled:
            raise JobCancelled("cancelled before it started")
        model = job_type.payload_model.model_validate(payload)
        result = fn(model, context) if takes_context else fn(model)
        check_document(result, "result")  # one neither store holds fails the attempt, clearly
    except Exception as exc:
        # A terminable job is stopped through the soft-limit signal, sent right after the
        # cancel is recorded: the heartbeat may not have relayed it yet.
        cancelled = context.cancelled or (
            isinstance(exc, SoftTimeLimitExceeded)
            and persistently(lifecycle.cancel_requested, context.job_id)
        )
        if record_error(job_type, claim, exc, cancelled) in _HANDLED:
            raise Ignore() from exc
        raise
    if not context.success_recorded:
        persistently(transitions.succeed, claim, result)
    _log("job.succeeded", context.job_id, job_type, claim.queue, attempt=claim.attempt)
    return result


def record_error(
    job_type: JobType, claim: Claim, exc: BaseException, cancelled: bool = False
) -> JobStatus:
    """Record how the attempt ``claim`` ended with ``exc`` (see :func:`decide`); returns the
    status the job moved to."""
    attempt = Attempt(claim.attempt, claim.max_attempts, cancelled or claim.cancel_requested)
    decision = decide(job_type, attempt, exc)
    # A deferral is no error, and a cancel is the operator's, not the job's: no traceback.
    trace = None if decision.status in _UNTRACED else mask(_traceback(exc))
    message = mask(decision.message)  # a sensitive job's values, while it runs
    if message is not decision.message:
        decision = replace(decision, message=message)
    persistently(transitions.settle, claim, decision, trace)
    action = _ACTIONS.get(decision.status, f"job.{decision.status.value}")
    fields: dict[str, Any] = {"attempt": claim.attempt}
    if decision.status is JobStatus.RETRYING:
        fields["delay_s"] = decision.delay_s
    elif decision.status is JobStatus.SCHEDULED:  # the attempt was given back
        fields = {"reason": decision.message, "wait_s": round(decision.delay_s, 3)}
    _log(action, str(claim.job_id), job_type, claim.queue, **fields)
    return decision.status


def record_hard_time_limit(job_type: JobType, job_id: str, exc: TimeLimitExceeded) -> None:
    """After the pool killed an attempt at its hard limit, record it (runs in the parent)."""
    claim = persistently(lifecycle.current_claim, job_id)
    if claim is not None:
        record_error(job_type, claim, exc)


def _traceback(exc: BaseException) -> str:
    return "".join(traceback.format_exception(exc))


def _log(action: str, job_id: str, job_type: JobType, queue: str = "", **fields: Any) -> None:
    """One log line per state change; every outcome but ``started`` is also counted."""
    queue = queue or job_type.queue.value
    level = _LEVELS.get(action, logging.INFO)
    if log.isEnabledFor(level):  # job.started is DEBUG: nothing to build at INFO
        extra = {"action": action, "job_id": job_id, "job_type": job_type.name, "queue": queue}
        log.log(level, action, extra={**extra, **fields})
    outcome = action.removeprefix("job.")
    if outcome != "started":
        metrics.child(metrics.JOB_ATTEMPTS, job_type.name, queue, outcome).inc()
