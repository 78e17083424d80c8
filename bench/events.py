"""Start and finish times of bare Celery tasks, from the task events its workers send anyway
(``worker_send_task_events`` is on for both systems)."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from types import TracebackType
from typing import Any

from celery import Celery
from celery.events.receiver import EventReceiver

from bench.stack import BenchError
from bench.system import Span, poll


class _Receiver(EventReceiver):  # type: ignore[misc]
    """An event receiver that says when it is consuming and wakes no worker up."""

    def __init__(self, *args: Any, ready: threading.Event, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._ready = ready

    def on_consume_ready(self, *args: Any, **kwargs: Any) -> None:
        self._ready.set()


class EventObserver:
    """Collects ``task-started`` and ``task-succeeded`` timestamps in a background thread."""

    def __init__(self, app: Celery, routing_key: str = "task.#") -> None:
        self.starts: dict[str, float] = {}
        self.finishes: dict[str, float] = {}
        self._app = app
        self._routing_key = routing_key
        self._ready = threading.Event()
        self._receiver: _Receiver | None = None
        self._thread: threading.Thread | None = None
        self._connection: Any = None

    def _started(self, event: dict[str, Any]) -> None:
        self.starts[event["uuid"]] = float(event["timestamp"])

    def _succeeded(self, event: dict[str, Any]) -> None:
        self.finishes[event["uuid"]] = float(event["timestamp"])

    def __enter__(self) -> EventObserver:
        self._connection = self._app.connection_for_read()
        handlers = {"task-started": self._started, "task-succeeded": self._succeeded}
        self._receiver = _Receiver(
            self._connection,
            handlers=handlers,
            app=self._app,
            routing_key=self._routing_key,
            ready=self._ready,
        )
        self._thread = threading.Thread(
            target=self._receiver.capture, kwargs={"wakeup": False}, daemon=True
        )
        self._thread.start()
        if not self._ready.wait(10):
            raise BenchError("the task-event receiver did not start")
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._receiver is not None:
            self._receiver.should_stop = True
        if self._thread is not None:
            self._thread.join(10)
        if self._connection is not None:
            self._connection.release()

    def spans(self, ids: Sequence[str], timeout: float, finished: bool = True) -> dict[str, Span]:
        """Spans of ``ids`` once every one has started (and finished, if asked)."""
        seen = self.finishes if finished else self.starts
        poll(lambda: all(i in seen for i in ids), f"events of {len(ids)} tasks", timeout, 0.02)
        return {i: Span(self.starts.get(i), self.finishes.get(i)) for i in ids}
