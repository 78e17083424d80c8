"""What follows an attempt that did not succeed, as a table: every row of the retry policy,
time-outs, ``RetryAfter``, cancels, limit deferrals, unknown errors, attempts exhausted."""

from __future__ import annotations

import random
from typing import NamedTuple

import pytest
from billiard.exceptions import SoftTimeLimitExceeded, TimeLimitExceeded

from workers.decision import (
    RETRY_AFTER_MAX_ATTEMPTS,
    Attempt,
    Decision,
    LimitReached,
    decide,
)
from workers.jobcontext import JobCancelled, RetryAfter
from workers.jobtypes import JobType, Payload, RetryPolicy
from workers.store.models import JobStatus as S
from workers.store.transitions import CANCELLED


class Empty(Payload):
    pass


class Flaky(Exception):
    """What the retrying type declares transient."""


#: 1 + 2 retries; backoff ceilings 1, 2, then capped at 3 s.
RETRIED = JobType(
    "t.retried",
    Empty,
    "",
    retry=RetryPolicy(transient=(Flaky,), max_retries=2, backoff_base_s=1, backoff_cap_s=3),
)
PLAIN = JobType("t.plain", Empty, "")


class Ceiling(random.Random):
    """Full jitter at its top: the delay is the backoff ceiling, so rows can name it."""

    def uniform(self, a: float, b: float) -> float:
        return b


class Row(NamedTuple):
    job_type: JobType
    attempt: Attempt
    error: BaseException
    status: S
    error_type: str | None
    delay_s: float = 0.0
    timed_out: bool = False


def first(max_attempts: int = 3, cancel: bool = False) -> Attempt:
    return Attempt(1, max_attempts, cancel)


SOFT = "billiard.exceptions.SoftTimeLimitExceeded"
HARD = "billiard.exceptions.TimeLimitExceeded"
FLAKY = f"{__name__}.Flaky"
ROWS = {
    # the retry policy, attempt by attempt
    "transient, 1st of 3": Row(RETRIED, first(), Flaky(), S.RETRYING, FLAKY, 1.0),
    "transient, 2nd of 3": Row(RETRIED, Attempt(2, 3), Flaky(), S.RETRYING, FLAKY, 2.0),
    "transient, last: dead": Row(RETRIED, Attempt(3, 3), Flaky(), S.DEAD, FLAKY),
    "backoff capped": Row(RETRIED, Attempt(4, 6), Flaky(), S.RETRYING, FLAKY, 3.0),
    "not transient: failed": Row(RETRIED, first(), ValueError(), S.FAILED, "builtins.ValueError"),
    "no policy: failed": Row(PLAIN, first(1), Flaky(), S.FAILED, FLAKY),
    "unknown error": Row(PLAIN, first(1), KeyError("k"), S.FAILED, "builtins.KeyError"),
    # time-outs: retried only under a policy, always marked
    "soft limit, policy": Row(RETRIED, first(), SoftTimeLimitExceeded(), S.RETRYING, SOFT, 1.0,
                              True),
    "hard limit, policy": Row(RETRIED, first(), TimeLimitExceeded(2), S.RETRYING, HARD, 1.0, True),
    "soft limit, last": Row(RETRIED, Attempt(3, 3), SoftTimeLimitExceeded(), S.DEAD, SOFT,
                            timed_out=True),
    "soft limit, no policy": Row(PLAIN, first(1), SoftTimeLimitExceeded(), S.FAILED, SOFT,
                                 timed_out=True),
    "hard limit, no policy": Row(PLAIN, first(1), TimeLimitExceeded(2), S.FAILED, HARD,
                                 timed_out=True),
    # RetryAfter: the job's own delay, its own budget, policy or not
    "RetryAfter": Row(PLAIN, first(1), RetryAfter(7), S.RETRYING, "workers.jobcontext.RetryAfter",
                      7.0),
    "RetryAfter, budget spent": Row(PLAIN, Attempt(RETRY_AFTER_MAX_ATTEMPTS, 1), RetryAfter(7),
                                    S.DEAD, "workers.jobcontext.RetryAfter"),
    # a limit gives the attempt back: no error
    "limit deferral": Row(PLAIN, first(1), LimitReached(1.5, "full"), S.SCHEDULED, None, 1.5),
    # cancels read as cancels, whatever stopped the job
    "JobCancelled": Row(PLAIN, first(1), JobCancelled("x"), S.CANCELLED, CANCELLED),
    "stopped by the cancel signal": Row(RETRIED, first(cancel=True), SoftTimeLimitExceeded(),
                                        S.CANCELLED, CANCELLED),
    "hard limit after a cancel": Row(PLAIN, first(1, True), TimeLimitExceeded(2), S.CANCELLED,
                                     CANCELLED, timed_out=True),
    "cancel beats a retry": Row(RETRIED, first(cancel=True), Flaky(), S.CANCELLED, CANCELLED),
    "cancel beats RetryAfter": Row(PLAIN, first(1, True), RetryAfter(7), S.CANCELLED, CANCELLED),
    "cancel beats a deferral": Row(PLAIN, first(1, True), LimitReached(1, "full"), S.CANCELLED,
                                   CANCELLED),
    "a failure stays a failure": Row(PLAIN, first(1, True), ValueError("x"), S.FAILED,
                                     "builtins.ValueError"),
}  # fmt: skip


@pytest.mark.parametrize("row", ROWS.values(), ids=ROWS.keys())
def test_decide(row: Row) -> None:
    decision = decide(row.job_type, row.attempt, row.error, Ceiling())

    assert (decision.status, decision.error_type, decision.delay_s, decision.timed_out) == (
        row.status,
        row.error_type,
        row.delay_s,
        row.timed_out,
    )


def test_a_stopped_cancel_never_reads_as_a_time_limit() -> None:
    decision = decide(RETRIED, first(cancel=True), SoftTimeLimitExceeded())

    assert decision == Decision(
        S.CANCELLED, CANCELLED, "cancelled while running; stopped by its worker"
    )


def test_jitter_stays_under_the_ceiling() -> None:
    delays = {decide(RETRIED, Attempt(2, 3), Flaky()).delay_s for _ in range(200)}

    assert all(0 <= d <= 2.0 for d in delays)
    assert len(delays) > 1
