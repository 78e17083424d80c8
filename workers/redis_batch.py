"""Publishing a batch of job messages to Redis in a few pipelined ``LPUSH`` commands.

Celery's ``send_task`` costs about a quarter of a millisecond of Python per message (routing,
option merging, a queue declaration check, a Redis client built per publish), which caps a
1,000-job batch near 4,000 jobs/s before the store has done anything. A batch instead asks
Celery for each message's headers and body (``app.amqp.as_task_v2``, the same call
``send_task`` makes), wraps them in kombu's Redis envelope, and pushes every message of a list
in one command.

The envelope is kombu's virtual-transport message as its Redis channel stores it: JSON with
the body base64-encoded, delivered through the default exchange (routing key = queue), which
is how ``send_task`` publishes to our direct queues too. ``tests/integration/test_publisher.py``
compares the two byte for byte where they can agree, so a kombu release that changes its
format fails there before any worker sees a message it cannot read.
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Sequence
from typing import Any

import redis

from workers.app import app
from workers.messages import Message, taskyard_headers
from workers.priorities import redis_list_key, to_broker

#: Messages per ``LPUSH`` command.
PUSH_CHUNK = 500
#: AMQP's "persistent", which kombu records on every message it publishes.
PERSISTENT = 2


def envelope(message: Message) -> tuple[str, str]:
    """The Redis list for ``message`` and the message as kombu's Redis channel stores it."""
    step = to_broker(message.priority, "redis")
    task = app.amqp.as_task_v2(
        message.job_id,
        message.task_name,
        args=[message.payload],
        kwargs={},
        ignore_result=True,
        reply_to=app.thread_oid,
    )
    headers: dict[str, Any] = {**task.headers, **taskyard_headers(message)}
    body = base64.b64encode(json.dumps(task.body).encode()).decode()
    stored = {
        "body": body,
        "content-encoding": "utf-8",
        "content-type": "application/json",
        "headers": headers,
        "properties": {
            **task.properties,
            "delivery_mode": PERSISTENT,
            "delivery_info": {"exchange": "", "routing_key": message.queue},
            "priority": step,
            "body_encoding": "base64",
            "delivery_tag": str(uuid.uuid4()),
        },
    }
    return redis_list_key(message.queue, step), json.dumps(stored)


def push_batch(client: redis.Redis, messages: Sequence[Message]) -> None:
    """Push ``messages`` in order, one pipelined round trip for the whole batch."""
    by_list: dict[str, list[str]] = {}
    for message in messages:
        key, stored = envelope(message)
        by_list.setdefault(key, []).append(stored)
    pipe = client.pipeline(transaction=False)
    for key, values in by_list.items():
        for start in range(0, len(values), PUSH_CHUNK):
            pipe.lpush(key, *values[start : start + PUSH_CHUNK])
    pipe.execute()
