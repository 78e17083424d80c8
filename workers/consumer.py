"""The worker's consumer, which sends its task events to Flower in batches.

Celery's consumer buffers task events (``task-received``, ``task-started``,
``task-succeeded``...) and flushes the buffer on the next turn of its event loop. On a busy
worker a turn rarely holds more than one event, so each event becomes a Redis ``PUBLISH`` of
its own: three round trips per job in the worker's main process, about a third of that
process's time when jobs are short (see docs/performance.md). This consumer flushes at most
every :data:`EVENT_FLUSH_S` instead, or as soon as Celery's buffer limit (24 events) is
reached, so one publish carries the events of several jobs. Every event keeps the time it
was made at; Flower and other event receivers take batches (``task.multi``) as Celery sends
them.
"""

from __future__ import annotations

from typing import Any

from celery.worker.consumer import Consumer as CeleryConsumer
from vine import promise

#: The longest a task event waits in the worker before it is published (seconds).
EVENT_FLUSH_S = 0.1


class Consumer(CeleryConsumer):  # type: ignore[misc]
    """Celery's consumer, with task events flushed on a short timer rather than every turn."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._event_flush_due = False
        self._arm_event_flush = promise(self._schedule_event_flush)

    def on_send_event_buffered(self) -> None:
        """Called for each buffered event: make sure a flush is due within the interval."""
        if self.hub is None or self._event_flush_due:
            return
        self._event_flush_due = True
        # Events of a thread pool are buffered from its threads; the hub's ready set takes
        # callbacks from any thread, its timer only from the loop's own.
        self.hub.call_soon(self._arm_event_flush)

    def _schedule_event_flush(self) -> None:
        self.hub.call_later(EVENT_FLUSH_S, self._flush_due_events)

    def _flush_due_events(self) -> None:
        self._event_flush_due = False
        self._flush_events()

    def shutdown(self) -> None:
        """Publish what is buffered before the event dispatcher closes."""
        self._flush_events()
        super().shutdown()
