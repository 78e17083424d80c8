"""What a workload asks of a system under test, Taskyard or bare Celery, so most workloads are
written once for both."""

from __future__ import annotations

import subprocess
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from itertools import count
from typing import Literal, Protocol, cast

import redis

from bench.stack import BenchError, Services, spawn, wait_until_ready, worker_command

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


class System(ABC):
    """A system under test on its own Redis database; its workers start the one way below."""

    name: SystemName
    label: str
    redis: redis.Redis
    #: The Celery app its workers run (``celery -A``).
    worker_app: str

    def __init__(self, services: Services) -> None:
        self.services = services
        self._starts = count(1)

    @abstractmethod
    def reset(self) -> None:
        """Empty its queues (declared bindings stay) and its job records."""

    @abstractmethod
    def publish(self, job: Job, count: int, queue: str) -> None:
        """Fill ``queue`` with ``count`` copies of ``job``, a chunk per producer."""

    @abstractmethod
    def send_one(self, job: Job, queue: str) -> Sent:
        """Enqueue one job as an application would."""

    @abstractmethod
    def worker_env(self, priority: bool) -> Mapping[str, str]:
        """The environment of its workers (``priority``: order queues strictly, if optional)."""

    @abstractmethod
    def queue_keys(self, queue: str) -> list[str]:
        """The Redis lists holding ``queue``'s messages, one per priority step."""

    @abstractmethod
    def observe(self, routing_key: str = "task.#") -> AbstractContextManager[Observer]:
        """Start watching job starts and finishes (``routing_key`` narrows task events)."""

    @contextmanager
    def worker(
        self,
        queues: Sequence[str],
        name: str,
        concurrency: int,
        *,
        priority: bool = False,
        ready: bool = True,
    ) -> Iterator[subprocess.Popen[bytes]]:
        """A worker as the Procfile starts one, consuming ``queues`` (``ready``: once it says
        so), stopped on exit; its log is ``<system>-<name>-<n>.log``."""
        log = self.services.logs / f"{self.name}-{name}-{next(self._starts)}.log"
        command = worker_command(self.worker_app, queues, name, concurrency)
        with spawn(command, log, self.worker_env(priority)) as process:
            if ready:
                wait_until_ready(process, log, b" ready.")
            yield process


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
