"""Paused queues: workers stop consuming them, producers still enqueue (jobs wait, counted).

The state is a Redis set (``TASKYARD_REDIS_URL``), so it outlives every process: a worker
that starts or restarts while a queue is paused leaves that queue out before it consumes
anything. Pausing and resuming act at once through Celery's control API
(``cancel_consumer`` to every worker, ``add_consumer`` to the workers started for the queue,
which each names in its reply to ``taskyard_queues``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from celery.worker.control import inspect_command
from redis.exceptions import RedisError

from workers import app as app_module  # the module: workers.app imports this one (signals)
from workers.redis_client import shared_redis
from workers.settings import get_settings

log = logging.getLogger(__name__)

PAUSED_KEY = "taskyard:queues:paused"
#: How long a pause or resume waits for the workers' replies.
REPLY_S = 2.0
#: The queues this worker process was started for (``-Q``), paused or not.
_own_queues: list[str] = []


def paused_queues() -> frozenset[str]:
    """The queues paused now."""
    members: set[bytes] = shared_redis(get_settings().locks_url).smembers(PAUSED_KEY)  # type: ignore[assignment]
    return frozenset(member.decode() for member in members)


@dataclass(frozen=True)
class WorkerQueues:
    """What one worker says of its queues: those it was started for and those it consumes."""

    node: str
    own: tuple[str, ...]
    consuming: tuple[str, ...]


def worker_queues(timeout_s: float = REPLY_S) -> list[WorkerQueues]:
    """Every worker that answers within ``timeout_s``, by node name."""
    replies = (
        app_module.app.control.broadcast("taskyard_queues", reply=True, timeout=timeout_s) or []
    )
    found = []
    for reply in replies:
        for node, answer in reply.items():
            if isinstance(answer, dict) and "own" in answer:
                own, consuming = answer["own"], answer.get("consuming", [])
                found.append(WorkerQueues(node, tuple(own), tuple(consuming)))
    return sorted(found, key=lambda worker: worker.node)


def pause_queue(queue: str) -> list[str]:
    """Pause ``queue``: record it, then tell every worker to stop consuming it. Returns the
    workers that confirmed (a worker that misses the word leaves it out at its next start)."""
    shared_redis(get_settings().locks_url).sadd(PAUSED_KEY, queue)
    replies = app_module.app.control.cancel_consumer(queue, reply=True, timeout=REPLY_S) or []
    log.info("queue %s paused", queue, extra={"action": "queue.paused", "queue": queue})
    return sorted(node for reply in replies for node in reply)


def resume_queue(queue: str) -> list[str]:
    """Resume ``queue``: forget the pause, then tell the workers started for it to consume it
    again. Returns those workers."""
    shared_redis(get_settings().locks_url).srem(PAUSED_KEY, queue)
    owners = [w.node for w in worker_queues() if queue in w.own]
    if owners:
        app_module.app.control.add_consumer(queue, destination=owners, reply=True, timeout=REPLY_S)
    log.info("queue %s resumed", queue, extra={"action": "queue.resumed", "queue": queue})
    return owners


def leave_out_paused(worker: Any) -> None:
    """At a worker's start (``worker_init``), after ``-Q`` is applied: remember its queues and
    leave out the paused ones. An unreachable Redis is logged and every queue consumed."""
    queues = worker.app.amqp.queues
    _own_queues[:] = sorted(queues.consume_from)
    try:
        paused = paused_queues() & set(_own_queues)
    except RedisError as error:
        log.warning(
            "cannot read the paused queues (%s); consuming all of %s",
            type(error).__name__, ", ".join(_own_queues), extra={"action": "queue.pause_unknown"},
        )  # fmt: skip
        return
    for queue in sorted(paused):
        queues.deselect(queue)
        log.info(
            "queue %s is paused: not consuming it", queue,
            extra={"action": "queue.paused", "queue": queue},
        )  # fmt: skip


@inspect_command(name="taskyard_queues")  # type: ignore[untyped-decorator]
def _report_queues(state: Any) -> dict[str, list[str]]:
    """Control command: the queues this worker was started for, and those it consumes now."""
    consumer = state.consumer.task_consumer
    consuming = [queue.name for queue in consumer.queues] if consumer is not None else []
    return {"own": list(_own_queues), "consuming": consuming}
