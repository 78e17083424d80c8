"""What follows an attempt that did not succeed: a pure function of the job type, the attempt
and the error (``decide``), tested as a table in ``tests/unit/test_decision.py``.

The write that applies a decision is :func:`workers.store.transitions.settle`.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from billiard.exceptions import SoftTimeLimitExceeded, TimeLimitExceeded

from workers.jobcontext import JobCancelled, RetryAfter
from workers.jobtypes import JobType
from workers.store.models import JobStatus
from workers.store.transitions import CANCELLED

#: ``RetryAfter`` may reschedule a job this many attempts at most before it is dead.
RETRY_AFTER_MAX_ATTEMPTS = 25


class LimitReached(Exception):
    """A rate or concurrency limit refused the attempt: it is given back, tried after ``wait_s``."""

    def __init__(self, wait_s: float, reason: str) -> None:
        super().__init__(reason)
        self.wait_s = wait_s


@dataclass(frozen=True)
class Attempt:
    """The attempt that ended: its number (1 first), its budget, and whether a cancel is pending."""

    number: int
    max_attempts: int
    cancel_requested: bool = False


@dataclass(frozen=True)
class Decision:
    """Where the job goes next: ``retrying`` or ``scheduled`` after ``delay_s``, or a final
    status; ``error_type`` is ``None`` for a deferral (nothing went wrong)."""

    status: JobStatus
    error_type: str | None
    message: str
    delay_s: float = 0.0
    timed_out: bool = False


def error_type_of(error: BaseException) -> str:
    """The dotted name an error is recorded under."""
    kind = type(error)
    return f"{kind.__module__}.{kind.__qualname__}"


def decide(
    job_type: JobType, attempt: Attempt, error: BaseException, rng: random.Random | None = None
) -> Decision:
    """Retry, defer, cancel, fail or bury the job after ``attempt`` ended with ``error``.

    A pending cancel wins over anything that would run the job again and over a stop (a time
    limit, or the signal a cancel sends); an error that fails the job is recorded as it is."""
    timed_out = isinstance(error, SoftTimeLimitExceeded | TimeLimitExceeded)
    message = str(error) or type(error).__name__
    if isinstance(error, JobCancelled):
        return Decision(JobStatus.CANCELLED, CANCELLED, message)
    if isinstance(error, LimitReached):
        if attempt.cancel_requested:
            return Decision(JobStatus.CANCELLED, CANCELLED, "cancelled before it started")
        return Decision(JobStatus.SCHEDULED, None, message, delay_s=error.wait_s)
    if timed_out and attempt.cancel_requested:
        # A terminable job is stopped through the soft-limit signal: this is the cancel.
        hard = isinstance(error, TimeLimitExceeded)
        how = "killed at its hard time limit" if hard else "stopped by its worker"
        stopped = f"cancelled while running; {how}"
        return Decision(JobStatus.CANCELLED, CANCELLED, stopped, timed_out=hard)
    policy = job_type.retry
    if isinstance(error, RetryAfter):
        retryable, delay_s, budget = True, error.delay_s, RETRY_AFTER_MAX_ATTEMPTS
    else:
        retryable = policy is not None and (timed_out or isinstance(error, policy.transient))
        delay_s = policy.delay_for(attempt.number - 1, rng) if policy else 0.0
        budget = attempt.max_attempts
    kind = error_type_of(error)
    if not retryable:
        return Decision(JobStatus.FAILED, kind, message, timed_out=timed_out)
    if attempt.cancel_requested:
        ended = f"cancelled while running; its attempt ended with {kind}: {message}"
        return Decision(JobStatus.CANCELLED, CANCELLED, ended)
    if attempt.number >= budget:
        return Decision(JobStatus.DEAD, kind, message, timed_out=timed_out)
    return Decision(JobStatus.RETRYING, kind, message, delay_s, timed_out)
