"""The registry of job types: the public ones, and the internal ``notify.deliver`` that only
Taskyard enqueues. Data only: the API imports this, never the implementations."""

from __future__ import annotations

from pydantic import Field

from tasks.notifications.catalog import NOTIFY_DELIVER
from workers.jobtypes import ConcurrencyLimit, JobType, JobTypeRegistry, Payload, RetryPolicy


class NoopPayload(Payload):
    """``diag.noop`` takes nothing."""


class SleepPayload(Payload):
    """``diag.sleep``: how long to sleep."""

    ms: int = Field(ge=0, le=600_000, description="milliseconds to sleep")


class FailPayload(Payload):
    """``diag.fail``: the error to raise, and whether it is transient (retried)."""

    message: str = Field(min_length=1, max_length=2_000)
    transient: bool = False


class StepsPayload(Payload):
    """``diag.steps``: work in ``steps`` steps of ``step_ms``, reporting progress after each."""

    steps: int = Field(ge=1, le=10_000)
    step_ms: int = Field(ge=0, le=60_000)


class FlakyPayload(Payload):
    """``diag.flaky``: ask to be retried after ``retry_after_s`` until ``fail_times`` attempts."""

    fail_times: int = Field(ge=0, le=20)
    retry_after_s: float = Field(ge=0, le=3_600)


class LimitedPayload(Payload):
    """``diag.limited``: sleep ``ms`` under a cluster rate limit and a per-tenant cap."""

    tenant: str = Field(min_length=1, max_length=100)
    ms: int = Field(default=0, ge=0, le=60_000)


class SlowPayload(Payload):
    """``diag.slow``: sleep ``ms`` against a 1 s soft and 2 s hard limit."""

    ms: int = Field(ge=0, le=60_000)
    ignore_soft_limit: bool = False


class SealedPayload(Payload):
    """``diag.sealed``: an ``account`` in clear and a sensitive ``secret``; ``fail`` makes it
    log and raise with the secret in the text, as a careless job would."""

    account: str = Field(min_length=1, max_length=100)
    secret: str = Field(min_length=1, max_length=2_000)
    fail: bool = False


class DiagFailure(Exception):
    """The error ``diag.fail`` raises on purpose."""


class TransientDiagFailure(DiagFailure):
    """A ``diag.fail`` error its retry policy treats as transient."""


DIAG_NOOP = JobType(
    "diag.noop", NoopPayload, "Does nothing and returns {'ok': true}.", time_limit_s=30
)
DIAG_SLEEP = JobType(
    "diag.sleep",
    SleepPayload,
    "Sleeps for `ms` milliseconds; a cancel stops it at once (terminable).",
    time_limit_s=660,
    soft_time_limit_s=630,
    terminable=True,
)
DIAG_FAIL = JobType(
    "diag.fail",
    FailPayload,
    "Always raises; transient errors are retried, others fail at once.",
    time_limit_s=30,
    retry=RetryPolicy(transient=(TransientDiagFailure,), max_retries=3, backoff_base_s=0.2),
)

DIAG_STEPS = JobType(
    "diag.steps",
    StepsPayload,
    "Works in steps, reporting progress and honouring a cancel between steps.",
    time_limit_s=660,
)
DIAG_FLAKY = JobType(
    "diag.flaky",
    FlakyPayload,
    "Asks to be retried after `retry_after_s` until it has failed `fail_times` times.",
    time_limit_s=30,
)
DIAG_LIMITED = JobType(
    "diag.limited",
    LimitedPayload,
    "Sleeps under a cluster-wide limit of 20 per second and 2 at once per tenant.",
    time_limit_s=90,
    rate_limit="20/second",
    concurrency=ConcurrencyLimit(key_field="tenant", limit=2),
)
DIAG_SLOW = JobType(
    "diag.slow",
    SlowPayload,
    "Sleeps against a 1 s soft and 2 s hard time limit; time-outs are retried once.",
    time_limit_s=2,
    soft_time_limit_s=1,
    retry=RetryPolicy(transient=(), max_retries=1, backoff_base_s=0.1),
)
DIAG_SEALED = JobType(
    "diag.sealed",
    SealedPayload,
    "Returns the SHA-256 of `secret`, a sensitive field: sealed at rest and in the message.",
    time_limit_s=30,
    sensitive=("secret",),
)

CATALOG = JobTypeRegistry(
    [
        DIAG_NOOP,
        DIAG_SLEEP,
        DIAG_FAIL,
        DIAG_STEPS,
        DIAG_FLAKY,
        DIAG_LIMITED,
        DIAG_SLOW,
        DIAG_SEALED,
        NOTIFY_DELIVER,
    ]
)
