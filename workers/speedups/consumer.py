"""The worker's consumer, which sends its task events to Flower in batches.

Replaces: Celery's consumer (``celery.worker.consumer:Consumer``, ``worker_consumer``), whose
event dispatcher flushes its buffer of task events (``task-received``, ``task-started``,
``task-succeeded``...) on the next turn of the event loop. On a busy worker a turn rarely
holds more than one event, so each event becomes a Redis ``PUBLISH`` of its own: three
round trips per job in the worker's main process.

Buys: a large share of the worker's main-process time per job, and with it drain throughput
(``docs/performance.md``, "Task events"). Flower sees a state change up to
:data:`EVENT_FLUSH_S` later.

Unnecessary when: Celery's event dispatcher can flush on a timer (or batches by itself). It
overrides the consumer's ``on_send_event_buffered`` hook, calls its private
``_flush_events``, and sets the dispatcher's ``buffer_limit``
(``tests/unit/test_speedups_upstream.py`` pins all three).

This consumer flushes :data:`EVENT_FLUSH_S` after the first buffered event instead, so one
publish carries the events of several jobs. Every event keeps the time it was made at; Flower
and other event receivers take batches (``task.multi``) as Celery sends them.

Flushes stay on the event loop's thread. Celery's dispatcher also flushes at once, from
whichever thread sends the event, when its buffer reaches a limit (24 events); a thread pool
would then write to the broker connection while the loop reads from it, which py-amqp does
not survive. The consumer raises that limit to :data:`EVENT_BUFFER_LIMIT`, more events than
a worker makes in one interval.
"""

from __future__ import annotations

from typing import Any

from kombu.asynchronous.timer import Entry
from vine import promise

from workers import screening

#: The longest a task event waits in the worker before it is published (seconds).
EVENT_FLUSH_S = 0.1
#: Buffered events that make the dispatcher publish at once, from the sending thread.
EVENT_BUFFER_LIMIT = 5000


class Consumer(screening.Consumer):
    """Celery's consumer, with task events flushed on a short timer rather than every turn."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._event_flush: Entry | None = None
        self._arm_event_flush = promise(self._schedule_event_flush)

    def on_send_event_buffered(self) -> None:
        """Called for each buffered event: make sure a flush is due within the interval."""
        dispatcher = self.event_dispatcher  # a new one comes with each broker connection
        if dispatcher is not None:
            dispatcher.buffer_limit = EVENT_BUFFER_LIMIT
        if self.hub is None or self._flush_pending():
            return
        # A thread pool buffers events from its threads: the hub's ready set takes callbacks
        # from any thread (the same one once), its timer only from the loop's own.
        self.hub.call_soon(self._arm_event_flush)

    def _flush_pending(self) -> bool:
        # A reconnect may cancel the entry; the next event then schedules another.
        entry = self._event_flush
        return entry is not None and not entry.canceled

    def _schedule_event_flush(self) -> None:
        if not self._flush_pending():
            self._event_flush = self.hub.call_later(EVENT_FLUSH_S, self._flush_due_events)

    def _flush_due_events(self) -> None:
        self._event_flush = None
        self._flush_events()

    def shutdown(self) -> None:
        """Publish what is buffered before the event dispatcher closes."""
        self._flush_events()
        super().shutdown()
