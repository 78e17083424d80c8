"""Handing job messages to the broker, with public priorities translated on the way."""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial

from kombu.exceptions import OperationalError
from redis.exceptions import RedisError

from workers.app import app
from workers.errors import BrokerUnavailable
from workers.messages import Message, taskyard_headers
from workers.observability import tracing
from workers.priorities import BrokerFamily, to_broker
from workers.redis_client import shared_redis
from workers.settings import get_settings
from workers.speedups import enabled as speedups_enabled
from workers.speedups.redis_publish import push_messages


def publish(messages: Sequence[Message]) -> None:
    """Send ``messages``; raises :class:`BrokerUnavailable` when the broker refuses them.

    Through Celery's ``send_task`` on one producer; on Redis with the speedups on, pushed in
    one pipelined round trip instead (see :mod:`workers.speedups.redis_publish`)."""
    settings = get_settings()
    pushing = settings.broker_family == "redis" and speedups_enabled()
    try:
        if tracing.ACTIVE:
            send = partial(_send, pushing=pushing)
            tracing.publish_traced(messages, send, one_by_one=not pushing)
        else:
            _send(messages, pushing)
    except (OperationalError, OSError, RedisError) as error:
        raise BrokerUnavailable(
            "the broker is unreachable; nothing was enqueued, try again"
        ) from error


def _send(messages: Sequence[Message], pushing: bool) -> None:
    settings = get_settings()
    if pushing:
        push_messages(shared_redis(settings.broker_url), messages)
    else:
        send_with_celery(messages, settings.broker_family)


def send_with_celery(messages: Sequence[Message], family: BrokerFamily) -> None:
    """Publish ``messages`` with ``send_task`` on one producer (kombu's errors propagate)."""
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
                # job's task: the worker applies its task's own.
                time_limit=None,
                soft_time_limit=None,
                retry_policy={"max_retries": 2, "interval_start": 0.2, "interval_step": 0.5},
                # Given only when it replaces Celery's repr: an option is a message property
                # too, so even a None would change every message.
                **({"argsrepr": message.argsrepr} if message.argsrepr is not None else {}),
            )
