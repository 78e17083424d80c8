"""How many messages wait in each queue, per public priority where the broker can tell."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import func, select

from workers.app import app
from workers.priorities import REDIS_PRIORITY_STEPS, from_broker, redis_list_key
from workers.queues import QUEUE_ORDER
from workers.redis_client import shared_redis
from workers.settings import get_settings
from workers.store.engine import session_scope
from workers.store.models import Job, JobStatus
from workers.store.types import utcnow


@dataclass(frozen=True)
class QueueDepth:
    """Messages ready in one queue; ``by_priority`` maps public priority to count (Redis only)."""

    name: str
    depth: int
    by_priority: dict[int, int] = field(default_factory=dict)


def _redis_depths(url: str) -> list[QueueDepth]:
    client = shared_redis(url)
    pipe = client.pipeline(transaction=False)
    for queue in QUEUE_ORDER:
        for step in REDIS_PRIORITY_STEPS:
            pipe.llen(redis_list_key(queue.value, step))
    counts = iter(pipe.execute())
    depths = []
    for queue in QUEUE_ORDER:
        per_step = {from_broker(step, "redis"): int(next(counts)) for step in REDIS_PRIORITY_STEPS}
        by_priority = {p: n for p, n in sorted(per_step.items(), reverse=True) if n}
        depths.append(QueueDepth(queue.value, sum(per_step.values()), by_priority))
    return depths


def _amqp_depths() -> list[QueueDepth]:
    # Declaring (idempotent, same arguments) rather than a passive check: a queue nothing has
    # used yet reports 0 instead of closing the channel with NOT_FOUND.
    depths = []
    with app.connection_for_read() as connection:
        channel = connection.default_channel
        for queue in QUEUE_ORDER:
            bound = app.amqp.queues[queue.value].bind(channel)
            bound.exchange.declare()
            declared = bound.queue_declare()
            depths.append(QueueDepth(queue.value, declared.message_count))
    return depths


def queue_depths() -> list[QueueDepth]:
    """Depth of every queue, most urgent first."""
    settings = get_settings()
    if settings.broker_family == "redis":
        return _redis_depths(settings.broker_url)
    return _amqp_depths()


def oldest_queued_ages() -> dict[str, float]:
    """Seconds the oldest queued job of each queue has waited since it became due (enqueue, or
    the end of its delay or backoff), as the queue wait counts; 0 for an empty queue."""
    query = (
        select(Job.queue, func.min(func.coalesce(Job.run_at, Job.created_at)))
        .where(Job.status == JobStatus.QUEUED.value)
        .group_by(Job.queue)
    )
    with session_scope() as session:
        oldest = {queue: due for queue, due in session.execute(query)}
    now = utcnow()
    return {
        queue.value: max(0.0, (now - oldest[queue.value]).total_seconds())
        if queue.value in oldest
        else 0.0
        for queue in QUEUE_ORDER
    }
