"""What a public job type is: its name, payload model, queue, priority, limits and retries."""

from __future__ import annotations

import random
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from limits import RateLimitItem
from pydantic import BaseModel, ConfigDict
from pydantic.types import Strict

from workers.errors import InternalJobType, UnknownJobType
from workers.limits import parse_rate_limit
from workers.priorities import DEFAULT_PRIORITY, check_priority
from workers.queues import QueueName

_NAME = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$")
#: Extra starts a job gets when its worker dies under it (not its own failures).
LOST_WORKER_ALLOWANCE = 3


class Payload(BaseModel):
    """Base of every job type's payload model: strict, like the request's own fields (``"100"``
    and ``true`` are not 100; JSON has no NaN), and closed (an unknown field is an error)."""

    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False)


def _loosened(model: type[BaseModel]) -> str | None:
    """What makes ``model`` coerce or ignore input, if anything does."""
    if not issubclass(model, Payload):
        return f"{model.__name__} must derive from workers.jobtypes.Payload"
    config = model.model_config
    if (config.get("strict"), config.get("extra"), config.get("allow_inf_nan")) != (
        True, "forbid", False,
    ):  # fmt: skip
        return f"{model.__name__} must keep Payload's strict=True, extra='forbid', no NaN"
    for name, info in model.model_fields.items():
        if any(isinstance(item, Strict) and not item.strict for item in info.metadata):
            return f"{model.__name__}.{name} must not turn strict mode off"
    return None


@dataclass(frozen=True)
class RetryPolicy:
    """Retry only ``transient`` errors (and time-outs), with capped exponential backoff and
    full jitter."""

    transient: tuple[type[Exception], ...]
    max_retries: int = 5
    backoff_base_s: float = 1.0
    backoff_cap_s: float = 300.0

    def delay_for(self, retries_done: int, rng: random.Random | None = None) -> float:
        """Seconds to wait before the next attempt, after ``retries_done`` retries."""
        ceiling = min(self.backoff_cap_s, self.backoff_base_s * 2**retries_done)
        return (rng or random).uniform(0, ceiling)


@dataclass(frozen=True)
class ConcurrencyLimit:
    """At most ``limit`` jobs of a type run at once per value of payload field ``key_field``."""

    key_field: str
    limit: int


@dataclass(frozen=True)
class JobType:
    """A registered job type; only these can be enqueued."""

    name: str
    payload_model: type[Payload]
    description: str
    queue: QueueName = QueueName.DEFAULT
    priority: int = DEFAULT_PRIORITY
    time_limit_s: float = 300.0
    soft_time_limit_s: float | None = None
    retry: RetryPolicy | None = None
    rate_limit: str | None = None
    concurrency: ConcurrencyLimit | None = None
    unique_for_s: int | None = None
    terminable: bool = False
    #: Set on a job type only Taskyard itself enqueues (``notify.deliver``): what a caller
    #: uses instead. The API, the CLI, schedules and replays refuse it by name.
    internal: str | None = None
    #: Payload fields sealed in the store and in the broker message and redacted everywhere
    #: else (``True``: every field); see :mod:`workers.sensitive`.
    sensitive: bool | tuple[str, ...] = False
    #: ``False`` only for a job type whose side effect is fenced by a durable claim of its own,
    #: committed before it acts (``notify.deliver``'s delivery claim): that commit flushes the
    #: start's WAL record with its own, so the start need not wait for a flush of its own.
    durable_start: bool = True

    def __post_init__(self) -> None:
        if not _NAME.fullmatch(self.name):
            raise ValueError(f"job type name {self.name!r} must look like 'family.action'")
        check_priority(self.priority)
        loosened = _loosened(self.payload_model)
        if loosened is not None:
            raise ValueError(f"{self.name}: {loosened}")
        soft = self.soft_time_limit_s
        if soft is not None and soft >= self.time_limit_s:
            raise ValueError(f"{self.name}: soft time limit must be below the hard limit")
        if self.rate_limit is not None:
            parse_rate_limit(self.rate_limit)  # fails at import on a malformed limit
        if self.concurrency is not None and self.concurrency.limit < 1:
            raise ValueError(f"{self.name}: concurrency limit must be at least 1")
        unsealable = self._unsealable()
        if unsealable is not None:
            raise ValueError(f"{self.name}: {unsealable}")

    def _unsealable(self) -> str | None:
        """Why ``sensitive`` cannot be kept sealed, if it cannot."""
        if isinstance(self.sensitive, tuple):
            unknown = set(self.sensitive) - set(self.payload_model.model_fields)
            if unknown or not self.sensitive:
                return f"sensitive names fields the payload does not have: {sorted(unknown)}"
        if self.concurrency is not None and self.is_sensitive(self.concurrency.key_field):
            return "the concurrency key field is stored in clear, so it cannot be sensitive"
        return None

    def is_sensitive(self, field: str) -> bool:
        """Whether payload field ``field`` is sealed."""
        sensitive = self.sensitive
        return sensitive is True or (isinstance(sensitive, tuple) and field in sensitive)

    @property
    def max_attempts(self) -> int:
        """Attempts the retry policy allows (1 without a policy)."""
        return 1 + (self.retry.max_retries if self.retry else 0)

    @property
    def rate_limit_item(self) -> RateLimitItem | None:
        """The parsed cluster-wide rate limit, e.g. ``100/minute``."""
        return parse_rate_limit(self.rate_limit) if self.rate_limit else None


class JobTypeRegistry:
    """The set of public job types, by name."""

    def __init__(self, types: Iterable[JobType]) -> None:
        self._types: dict[str, JobType] = {}
        for job_type in types:
            if job_type.name in self._types:
                raise ValueError(f"job type {job_type.name!r} registered twice")
            self._types[job_type.name] = job_type

    def get(self, name: str) -> JobType:
        """The job type called ``name``, or :class:`UnknownJobType`."""
        try:
            return self._types[name]
        except KeyError:
            known = ", ".join(sorted(self._types))
            raise UnknownJobType(f"unknown job type {name!r}; known types: {known}") from None

    def public(self, name: str) -> JobType:
        """The job type called ``name`` if callers may enqueue it: :class:`UnknownJobType`, or
        :class:`InternalJobType` for one only Taskyard enqueues."""
        job_type = self.get(name)
        if job_type.internal is not None:
            raise InternalJobType(
                f"job type {name!r} is internal and cannot be enqueued directly; "
                f"{job_type.internal}"
            )
        return job_type

    def __iter__(self) -> Iterator[JobType]:
        return iter(self._types.values())

    def __contains__(self, name: object) -> bool:
        return name in self._types
