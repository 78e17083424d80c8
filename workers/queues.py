"""The four queues, declared once, and how tasks are routed to them."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from kombu.entity import Exchange, Queue

from workers.priorities import BROKER_MAX_PRIORITY


class QueueName(StrEnum):
    """Queues from the most urgent to the least."""

    CRITICAL = "critical"
    HIGH = "high"
    DEFAULT = "default"
    BULK = "bulk"


QUEUE_ORDER: tuple[QueueName, ...] = tuple(QueueName)

#: Task-name prefixes of internal (non job-type) task families and their queue.
PREFIX_ROUTES: dict[str, QueueName] = {
    "maintenance.": QueueName.DEFAULT,
    "schedules.": QueueName.DEFAULT,
    "alerts.": QueueName.DEFAULT,
}


def declared_queues() -> list[Queue]:
    """The kombu queues, each with native priorities enabled (``x-max-priority`` on AMQP)."""
    return [
        Queue(
            name.value,
            Exchange(name.value, type="direct"),
            routing_key=name.value,
            queue_arguments={"x-max-priority": BROKER_MAX_PRIORITY},
        )
        for name in QUEUE_ORDER
    ]


def route_task(
    name: str, args: Any, kwargs: Any, options: Any, task: Any = None, **kw: Any
) -> dict[str, str] | None:
    """Celery router: internal families by prefix; job types always name their queue on send."""
    for prefix, queue in PREFIX_ROUTES.items():
        if name.startswith(prefix):
            return {"queue": queue.value}
    return None
