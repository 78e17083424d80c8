"""What follows a send, as a table: every row of the delivery decision (``decide``) and of a
run that finds its delivery lost mid-send (``decide_lost``)."""

from __future__ import annotations

import random

import pytest

from tasks.notifications.decision import Policy, decide, decide_lost
from tasks.notifications.outcomes import ErrorClass, Outcome, delivered, failed
from tasks.notifications.states import DeliveryStatus as S

POLICY = Policy(max_attempts=3, backoff_base_s=2.0, backoff_cap_s=600.0, retry_after_cap_s=60.0)
R, P = ErrorClass.RETRYABLE, ErrorClass.PERMANENT


def _maybe(error: str) -> Outcome:
    return failed(R, error, maybe_delivered=True)


CASES = [
    # outcome, attempt, idempotent, status, error_class
    (delivered(200, "id-1"), 1, False, S.SENT, None),
    (delivered(), 3, True, S.SENT, None),
    (failed(P, "400 Bad Request", status_code=400), 1, False, S.FAILED, "permanent"),
    (failed(P, "550 no such user"), 1, True, S.FAILED, "permanent"),
    (failed(R, "503", status_code=503), 1, False, S.RETRYING, "retryable"),
    (failed(R, "503", status_code=503), 2, False, S.RETRYING, "retryable"),
    (failed(R, "503", status_code=503), 3, False, S.DEAD, "retryable"),
    (failed(R, "connect timeout"), 1, False, S.RETRYING, "retryable"),
    (_maybe("read timeout"), 1, False, S.FAILED, "outcome_unknown"),
    (_maybe("read timeout"), 3, False, S.FAILED, "outcome_unknown"),
    (_maybe("read timeout"), 1, True, S.RETRYING, "retryable"),
    (_maybe("read timeout"), 3, True, S.DEAD, "retryable"),
]


@pytest.mark.parametrize(("outcome", "attempt", "idempotent", "status", "error_class"), CASES)
def test_decide(
    outcome: Outcome, attempt: int, idempotent: bool, status: S, error_class: str | None
) -> None:
    decision = decide(outcome, attempt, POLICY, idempotent, random.Random(1))
    assert (decision.status, decision.error_class) == (status, error_class)
    if status is S.RETRYING:
        assert 0 <= decision.delay_s <= POLICY.backoff_base_s * 2 ** (attempt - 1)
    else:
        assert decision.delay_s == 0


@pytest.mark.parametrize(
    ("retry_after_s", "expected"),
    [(7.0, 7.0), (0.0, None), (3_600.0, 60.0)],  # honoured, never sooner than back-off, capped
)
def test_retry_after_is_honoured_up_to_the_cap(
    retry_after_s: float, expected: float | None
) -> None:
    outcome = failed(R, "429", status_code=429, retry_after_s=retry_after_s)
    decision = decide(outcome, 1, POLICY, False, random.Random(1))
    assert decision.status is S.RETRYING
    if expected is None:
        assert decision.delay_s <= POLICY.backoff_base_s
    else:
        assert decision.delay_s == expected


@pytest.mark.parametrize(
    ("attempt", "idempotent", "status", "error_class"),
    [
        (1, False, S.FAILED, "outcome_unknown"),
        (3, False, S.FAILED, "outcome_unknown"),
        (1, True, S.SENDING, "outcome_unknown"),  # resent with the same key
        (3, True, S.DEAD, "outcome_unknown"),
    ],
)
def test_decide_lost(attempt: int, idempotent: bool, status: S, error_class: str) -> None:
    decision = decide_lost(attempt, POLICY, idempotent)
    assert (decision.status, decision.error_class) == (status, error_class)
    assert decision.reason is not None


def test_the_back_off_is_the_jobs_capped_exponential_with_full_jitter() -> None:
    rng = random.Random(7)
    delays = [POLICY.backoff_s(attempt, rng) for attempt in range(1, 12)]
    assert all(0 <= d <= min(600.0, 2.0 * 2 ** (n - 1)) for n, d in enumerate(delays, 1))
