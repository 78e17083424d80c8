"""Public priority (0-9, 9 the most urgent) and its translation to each broker's numbering."""

from __future__ import annotations

from typing import Literal

MIN_PRIORITY = 0
MAX_PRIORITY = 9
DEFAULT_PRIORITY = 5
BROKER_MAX_PRIORITY = 9
#: One list per priority on Redis; producers and workers must share this value.
REDIS_PRIORITY_STEPS: list[int] = list(range(MIN_PRIORITY, MAX_PRIORITY + 1))

BrokerFamily = Literal["redis", "amqp"]
#: kombu's separator between a queue's name and its priority step (``sep`` transport option).
REDIS_SEP = ":"


def check_priority(priority: int) -> int:
    """Return ``priority`` if it is a public priority, else raise ``ValueError``."""
    if isinstance(priority, bool) or not MIN_PRIORITY <= priority <= MAX_PRIORITY:
        raise ValueError(f"priority must be an integer from {MIN_PRIORITY} to {MAX_PRIORITY}")
    return priority


def to_broker(priority: int, family: BrokerFamily) -> int:
    """Translate a public priority to the broker's: Redis serves 0 first, RabbitMQ 9 first."""
    check_priority(priority)
    return MAX_PRIORITY - priority if family == "redis" else priority


def from_broker(priority: int, family: BrokerFamily) -> int:
    """Translate a broker priority back to the public scale."""
    return MAX_PRIORITY - priority if family == "redis" else priority


def redis_list_key(queue: str, step: int) -> str:
    """The Redis list kombu keeps for ``queue`` at broker priority ``step``."""
    return f"{queue}{REDIS_SEP}{step}" if step else queue
