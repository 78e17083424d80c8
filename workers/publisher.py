"""Handing job messages to the broker, with public priorities translated on the way."""

from __future__ import annotations

from collections.abc import Sequence

from kombu.exceptions import OperationalError
from redis.exceptions import RedisError

from workers.app import app
from workers.errors import BrokerUnavailable
from workers.messages import Message, taskyard_headers
from workers.priorities import to_broker
from workers.redis_batch import push_batch
from workers.redis_client import shared_redis
from workers.settings import get_settings


def publish(messages: Sequence[Message]) -> None:
    """Send ``messages``; raises :class:`BrokerUnavailable` when the broker refuses them.

    One message goes through Celery's ``send_task``. A batch on Redis is pushed in pipelined
    ``LPUSH`` commands (see :mod:`workers.redis_batch`); on RabbitMQ it goes through one
    producer."""
    family = get_settings().broker_family
    try:
        if family == "redis" and len(messages) > 1:
            push_batch(shared_redis(get_settings().broker_url), messages)
            return
        with app.producer_or_acquire() as producer:
            for message in messages:
                app.send_task(
                    message.task_name,
                    args=[message.payload],
                    task_id=message.job_id,
                    queue=message.queue,
                    routing_key=message.queue,
                    priority=to_broker(message.priority, family),
                    headers=taskyard_headers(message),
                    producer=producer,
                    # The store holds results; skipping the result backend spares a Redis
                    # SUBSCRIBE per job and a RuntimeError (not an outage error) when it is down.
                    ignore_result=True,
                    # No limits in the message, whether or not this process registered the
                    # job's task: the worker applies its task's own (as for a batch).
                    time_limit=None,
                    soft_time_limit=None,
                    retry_policy={"max_retries": 2, "interval_start": 0.2, "interval_step": 0.5},
                )
    except (OperationalError, OSError, RedisError) as error:
        raise BrokerUnavailable(
            "the broker is unreachable; nothing was enqueued, try again"
        ) from error
