"""Diagnostic job types for operators, tests and benchmarks."""

from __future__ import annotations

import hashlib
import logging
import time

from billiard.exceptions import SoftTimeLimitExceeded

from tasks.jobs.catalog import (
    DIAG_FAIL,
    DIAG_FLAKY,
    DIAG_LIMITED,
    DIAG_NOOP,
    DIAG_SEALED,
    DIAG_SLEEP,
    DIAG_SLOW,
    DIAG_STEPS,
    DiagFailure,
    FailPayload,
    FlakyPayload,
    LimitedPayload,
    NoopPayload,
    SealedPayload,
    SleepPayload,
    SlowPayload,
    StepsPayload,
    TransientDiagFailure,
)
from workers.jobcontext import JobContext, RetryAfter
from workers.jobtask import job_task

log = logging.getLogger(__name__)


@job_task(DIAG_NOOP)
def noop(payload: NoopPayload) -> dict[str, bool]:
    """Return ``{"ok": true}``. Idempotent; never retried."""
    return {"ok": True}


@job_task(DIAG_SLEEP)
def sleep(payload: SleepPayload) -> dict[str, int]:
    """Sleep ``ms`` milliseconds. Idempotent; never retried; terminable."""
    time.sleep(payload.ms / 1000)
    return {"slept_ms": payload.ms}


@job_task(DIAG_FAIL)
def fail(payload: FailPayload) -> None:
    """Raise ``message``; retried with backoff when ``transient``. Idempotent."""
    if payload.transient:
        raise TransientDiagFailure(payload.message)
    raise DiagFailure(payload.message)


@job_task(DIAG_STEPS)
def steps(payload: StepsPayload, context: JobContext) -> dict[str, int]:
    """Work step by step, reporting progress; stops cleanly when cancelled. Idempotent."""
    for done in range(payload.steps):
        context.raise_if_cancelled()
        time.sleep(payload.step_ms / 1000)
        context.progress(100 * (done + 1) // payload.steps, f"step {done + 1}/{payload.steps}")
    return {"steps": payload.steps}


@job_task(DIAG_FLAKY)
def flaky(payload: FlakyPayload, context: JobContext) -> dict[str, int]:
    """Ask for a retry after ``retry_after_s`` until ``fail_times`` attempts have failed."""
    if context.attempt <= payload.fail_times:
        raise RetryAfter(payload.retry_after_s, f"attempt {context.attempt} asks to wait")
    return {"attempts": context.attempt}


@job_task(DIAG_LIMITED)
def limited(payload: LimitedPayload) -> dict[str, str]:
    """Sleep ``ms`` under the type's rate and per-tenant concurrency limits. Idempotent."""
    time.sleep(payload.ms / 1000)
    return {"tenant": payload.tenant}


@job_task(DIAG_SLOW)
def slow(payload: SlowPayload) -> dict[str, int]:
    """Sleep against the soft and hard time limits; optionally ignore the soft one."""
    try:
        time.sleep(payload.ms / 1000)
    except SoftTimeLimitExceeded:
        if not payload.ignore_soft_limit:
            raise
        time.sleep(payload.ms / 1000)
    return {"slept_ms": payload.ms}


@job_task(DIAG_SEALED)
def sealed(payload: SealedPayload) -> dict[str, str]:
    """Return the SHA-256 of the secret (proof it arrived intact, without showing it); with
    ``fail``, log it and raise with it in the message. Idempotent; never retried."""
    if payload.fail:
        log.warning("diag.sealed refusing %s for %s", payload.secret, payload.account)
        raise DiagFailure(f"refused secret {payload.secret}")
    return {"secret_sha256": hashlib.sha256(payload.secret.encode()).hexdigest()}
