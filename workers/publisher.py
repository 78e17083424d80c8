"""Handing job messages to the broker, with public priorities translated on the way."""

from __future__ import annotations

import time
from collections.abc import Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from typing import Any

from kombu.exceptions import OperationalError

from workers.app import app
from workers.errors import BrokerUnavailable
from workers.observability.context import CORRELATION_HEADER
from workers.priorities import to_broker
from workers.settings import get_settings

#: Messages per pipelined round trip when publishing a batch.
BATCH_SIZE = 500
#: Header carrying the publish time (epoch seconds), which orders messages for the lost-message
#: sweep (see ``workers.lost_messages``).
PUBLISHED_AT_HEADER = "taskyard_published_at"


@dataclass(frozen=True)
class Message:
    """One job message: the task name is the job type's name, the payload its only argument."""

    job_id: str
    task_name: str
    payload: dict[str, Any]
    queue: str
    priority: int
    correlation_id: str | None = None


def _batched(producer: Any, count: int) -> AbstractContextManager[Any]:
    # On Redis, a batch sends its messages in pipelined round trips instead of one each;
    # kombu publishes immediately on transports without batches.
    return producer.batch(max_size=BATCH_SIZE) if count > 1 else nullcontext()


def publish(messages: Sequence[Message]) -> None:
    """Send ``messages`` over one producer; raises :class:`BrokerUnavailable` on failure."""
    family = get_settings().broker_family
    try:
        with app.producer_or_acquire() as producer, _batched(producer, len(messages)):
            for message in messages:
                app.send_task(
                    message.task_name,
                    args=[message.payload],
                    task_id=message.job_id,
                    queue=message.queue,
                    routing_key=message.queue,
                    priority=to_broker(message.priority, family),
                    headers={
                        CORRELATION_HEADER: message.correlation_id,
                        PUBLISHED_AT_HEADER: time.time(),
                    },
                    producer=producer,
                    # The store holds results; skipping the result backend spares a Redis
                    # SUBSCRIBE per job and a RuntimeError (not an outage error) when it is down.
                    ignore_result=True,
                    retry_policy={"max_retries": 2, "interval_start": 0.2, "interval_step": 0.5},
                )
    except (OperationalError, OSError) as error:
        raise BrokerUnavailable(
            "the broker is unreachable; nothing was enqueued, try again"
        ) from error
