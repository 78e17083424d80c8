"""Paused queues: workers stop consuming them, producers still enqueue (jobs wait, counted).

The state is a Redis set (``TASKYARD_REDIS_URL``), so it outlives every process: a worker
that starts or restarts while a queue is paused leaves that queue out before it consumes
anything. Pausing and resuming act at once through Celery's control API
(:mod:`workers.worker_control`). Imported by :mod:`workers.signals`, so it never imports the app.
"""

from __future__ import annotations

import logging
from typing import Any

from redis.exceptions import RedisError

from workers.redis_client import shared_redis
from workers.settings import get_settings

log = logging.getLogger(__name__)

PAUSED_KEY = "taskyard:queues:paused"


def paused_queues() -> frozenset[str]:
    """The queues paused now."""
    members: set[bytes] = shared_redis(get_settings().locks_url).smembers(PAUSED_KEY)  # type: ignore[assignment]
    return frozenset(member.decode() for member in members)


def mark_paused(queue: str, paused: bool) -> None:
    """Record ``queue`` as paused, or as not paused (idempotent)."""
    client = shared_redis(get_settings().locks_url)
    if paused:
        client.sadd(PAUSED_KEY, queue)
    else:
        client.srem(PAUSED_KEY, queue)


def leave_out_paused(worker: Any) -> None:
    """At a worker's start (``worker_init``), after ``-Q`` is applied: leave out the paused
    queues. An unreachable Redis is logged and every queue consumed."""
    queues = worker.app.amqp.queues
    own = sorted(queues.consume_from)
    try:
        paused = paused_queues() & set(own)
    except RedisError as error:
        log.warning(
            "cannot read the paused queues (%s); consuming all of %s",
            type(error).__name__, ", ".join(own), extra={"action": "queue.pause_unknown"},
        )  # fmt: skip
        return
    for queue in sorted(paused):
        queues.deselect(queue)
        log.info(
            "queue %s is paused: not consuming it", queue,
            extra={"action": "queue.paused", "queue": queue},
        )  # fmt: skip
