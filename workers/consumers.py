"""What this worker process records of its consumer, and tells the ``taskyard_worker`` control
command (read by :mod:`workers.worker_control`): the queues it was started for and consumes
now, its concurrency, the jobs it holds and runs, how many it processed, and when its consumer
last fetched a message. Imported by :mod:`workers.signals`, so it never imports the app.
"""

from __future__ import annotations

import time
from typing import Any

from celery.worker import state as worker_state
from celery.worker.control import inspect_command


class _Consumer:
    """This worker process's own record: its queues and its consumer's last fetch."""

    own_queues: tuple[str, ...] = ()
    started_at = 0.0
    fetched_at = 0.0


def worker_started(worker: Any) -> None:
    """``worker_init``, after ``-Q`` applies: remember the queues this worker was started for."""
    _Consumer.own_queues = tuple(sorted(worker.app.amqp.queues.consume_from))
    _Consumer.started_at = _Consumer.fetched_at = time.time()


def message_fetched(**_: Any) -> None:
    """``task_received`` (the consumer took a message from the broker): note when."""
    _Consumer.fetched_at = time.time()


@inspect_command(name="taskyard_worker")  # type: ignore[untyped-decorator]
def _report(state: Any) -> dict[str, Any]:
    """Control command: this worker's queues, load and last fetch (``WorkerView``)."""
    consumer = state.consumer.task_consumer
    return {
        "own": list(_Consumer.own_queues),
        "consuming": [q.name for q in consumer.queues] if consumer is not None else [],
        "concurrency": int(state.consumer.controller.concurrency or 0),
        "held": len(worker_state.reserved_requests),
        "active": len(worker_state.active_requests),
        "processed": int(worker_state.all_total_count[0]),
        "started_at": _Consumer.started_at,
        "fetched_at": _Consumer.fetched_at,
    }
