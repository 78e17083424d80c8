"""What a workload asks of a system under test, Taskyard or bare Celery, so most workloads are
written once for both."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Literal, Protocol, cast

import redis

from bench.stack import BenchError

SystemName = Literal["taskyard", "plain", "bare"]
#: Jobs per publish call when filling a queue (the producer API's batch limit).
CHUNK = 1_000


@dataclass(frozen=True)
class Job:
    """What to run: a no-op, or a sleep of ``ms`` milliseconds."""

    kind: Literal["noop", "sleep"] = "noop"
    ms: int = 0


NOOP = Job()


@dataclass(frozen=True)
class Sent:
    """A job sent one at a time, and the wall-clock time just before the call."""

    id: str
    at: float


@dataclass(frozen=True)
class Span:
    """When a job started and finished (wall-clock seconds); ``None`` until known."""

    start: float | None
    finish: float | None

    def started_after(self, at: float) -> float:
        """Seconds from ``at`` to the start."""
        if self.start is None:
            raise BenchError("a job's start went unrecorded")
        return self.start - at

    def finished_after(self, at: float) -> float:
        """Seconds from ``at`` to the finish."""
        if self.finish is None:
            raise BenchError("a job's finish went unrecorded")
        return self.finish - at


class Observer(Protocol):
    """Reads when jobs started and finished (job records, or task events)."""

    def spans(self, ids: Sequence[str], timeout: float, finished: bool = True) -> dict[str, Span]:
        """Spans of ``ids`` once all have started (and ``finished``); raises after ``timeout``."""
        ...


class System(Protocol):
    """A system under test on its own Redis database."""

    name: SystemName
    label: str
    redis: redis.Redis

    def reset(self) -> None:
        """Empty its queues (declared bindings stay) and its job records."""
        ...

    def publish(self, job: Job, count: int, queue: str) -> None:
        """Fill ``queue`` with ``count`` copies of ``job``, a chunk per producer."""
        ...

    def send_one(self, job: Job, queue: str) -> Sent:
        """Enqueue one job as an application would."""
        ...

    def worker(
        self,
        queues: Sequence[str],
        name: str,
        concurrency: int,
        *,
        priority: bool = False,
        ready: bool = True,
    ) -> AbstractContextManager[subprocess.Popen[bytes]]:
        """A worker consuming ``queues`` (``ready``: once it says so), stopped on exit."""
        ...

    def queue_keys(self, queue: str) -> list[str]:
        """The Redis lists holding ``queue``'s messages, one per priority step."""
        ...

    def observe(self, routing_key: str = "task.#") -> AbstractContextManager[Observer]:
        """Start watching job starts and finishes (``routing_key`` narrows task events)."""
        ...


def waiting(system: System, queues: Sequence[str]) -> int:
    """Messages waiting in ``queues`` (not yet fetched by a worker)."""
    pipe = system.redis.pipeline(transaction=False)
    for queue in queues:
        for key in system.queue_keys(queue):
            pipe.llen(key)
    return sum(int(n) for n in cast(list[int], pipe.execute()))


def unacked(system: System) -> int:
    """Messages fetched by a worker and not acknowledged yet."""
    return cast(int, system.redis.hlen("unacked"))


def purge_keeping_bindings(client: redis.Redis) -> None:
    """Delete every key but kombu's exchange bindings (producers cache their declarations)."""
    doomed = [k for k in client.scan_iter(count=1_000) if not k.startswith(b"_kombu.binding.")]
    for start in range(0, len(doomed), 500):
        client.delete(*doomed[start : start + 500])


def poll(check: Callable[[], object], what: str, timeout: float, interval: float = 0.01) -> float:
    """Poll ``check()`` until truthy; return the monotonic time at which it first was."""
    deadline = time.monotonic() + timeout
    while True:
        now = time.monotonic()
        if check():
            return now
        if now > deadline:
            raise BenchError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(interval)
