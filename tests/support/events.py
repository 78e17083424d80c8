"""Listening to the workers' task events on the broker, as Flower does."""

from __future__ import annotations

import time
import uuid
from collections import defaultdict
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, suppress
from typing import Any

from celery.events.event import get_exchange
from kombu import Connection, Consumer, Message, Queue

from workers.app import app

#: The events a job that succeeds at its first attempt produces.
SUCCESS_EVENTS = frozenset({"task-received", "task-started", "task-succeeded"})


class TaskEvents:
    """The task events published since the listener's queue was bound."""

    def __init__(self, connection: Connection) -> None:
        self._connection = connection
        queue = Queue(f"test-events-{uuid.uuid4().hex[:8]}", get_exchange(connection),
                      routing_key="#", auto_delete=True, durable=False)  # fmt: skip
        self._consumer = Consumer(connection, [queue], callbacks=[self._take], accept=["json"])
        self._consumer.consume()
        self.types: dict[str, set[str]] = defaultdict(set)
        #: What each job's events show for its arguments (``task-received`` carries them).
        self.args: dict[str, list[str]] = defaultdict(list)
        self.publishes = 0
        self._drain(0.2)  # on Redis, the first read subscribes (events are pub/sub there)

    def _drain(self, timeout: float) -> None:
        with suppress(TimeoutError):
            self._connection.drain_events(timeout=timeout)

    def wait_for(self, job_ids: Iterable[str], timeout: float = 10.0) -> dict[str, set[str]]:
        """Read events until each job has its success events or ``timeout`` passes."""
        wanted = list(job_ids)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and any(
            not self.types[job_id] >= SUCCESS_EVENTS for job_id in wanted
        ):
            self._drain(0.5)
        return {job_id: self.types[job_id] for job_id in wanted}

    def _take(self, body: Any, message: Message) -> None:
        events = [e for e in (body if isinstance(body, list) else [body])
                  if e["type"].startswith("task-")]  # fmt: skip
        self.publishes += bool(events)
        for event in events:
            self.types[event["uuid"]].add(event["type"])
            if "args" in event:
                self.args[event["uuid"]].append(str(event["args"]))
        message.ack()

    def close(self) -> None:
        self._consumer.cancel()


@contextmanager
def task_events() -> Iterator[TaskEvents]:
    """A listener, on the app's broker, for the block's task events."""
    with app.connection_for_read() as connection:
        listener = TaskEvents(connection)
        try:
            yield listener
        finally:
            listener.close()
