"""Publishing job messages to Redis in one pipelined round trip, without ``send_task``.

Replaces: Celery's ``send_task`` on kombu's Redis transport, per message (routing, option
merging, a queue declaration check, a Redis client built per publish).

Buys: most of the publishing cost of a batch and of coalesced single enqueues
(``docs/performance.md``, "Publishing to Redis").

Unnecessary when: Celery can publish many messages in one call, or kombu's Redis channel can
take a batch of messages for one ``LPUSH``. It relies on kombu's virtual-transport message
format and on ``app.amqp.as_task_v2`` (both pinned: ``tests/integration/test_publisher.py``
compares what this module stores with what ``send_task`` stores, field by field).

Celery still writes the headers: ``as_task_v2`` runs once per task name and process, and each
message gets its own id, argument repr, correlation id and publish time on top. The envelope
is kombu's virtual-transport message as its Redis channel stores it: JSON with the body
base64-encoded, delivered through the default exchange (routing key = queue), which is how
``send_task`` publishes to our direct queues too.
"""

from __future__ import annotations

import base64
import json
import os
import uuid
from collections.abc import Sequence
from functools import lru_cache
from typing import Any, NamedTuple

import orjson
import redis

from workers.app import app
from workers.messages import Message, taskyard_headers
from workers.priorities import redis_list_key, to_broker
from workers.speedups.argsrepr import args_repr

#: Messages per ``LPUSH`` command.
PUSH_CHUNK = 500
#: AMQP's "persistent", which kombu records on every message it publishes.
PERSISTENT = 2
_PLACEHOLDER_ID = "00000000-0000-0000-0000-000000000000"


class _CeleryParts(NamedTuple):
    headers: dict[str, Any]
    #: The body's third part: no callbacks, errbacks, chain or chord.
    embed: dict[str, Any]
    repr_levels: int


@lru_cache(maxsize=512)
def _celery_parts(task_name: str, pid: int) -> _CeleryParts:
    """What Celery puts in every message of ``task_name`` (the per-message headers are
    replaced). Keyed by process too: the ``origin`` header names it."""
    task = app.amqp.as_task_v2(_PLACEHOLDER_ID, task_name, args=[], kwargs={}, ignore_result=True)
    return _CeleryParts(task.headers, task.body[2], app.conf.task_repr_maxlevels)


def envelope(message: Message, reply_to: str) -> tuple[str, bytes]:
    """The Redis list for ``message`` and the message as kombu's Redis channel stores it.

    The body is JSON from the standard library, as Celery writes it (it keeps a payload's
    NaN and integers past 64 bits); the envelope around it holds only strings, finite numbers
    and ``None``, which orjson writes as the standard library would, only faster."""
    step = to_broker(message.priority, "redis")
    celery = _celery_parts(message.task_name, os.getpid())
    args = [message.payload]
    stored = {
        "body": base64.b64encode(json.dumps([args, {}, celery.embed]).encode()).decode(),
        "content-encoding": "utf-8",
        "content-type": "application/json",
        "headers": {
            **celery.headers,
            "id": message.job_id,
            "root_id": message.job_id,
            "argsrepr": message.argsrepr
            or args_repr(args, app.amqp.argsrepr_maxsize, celery.repr_levels),
            **taskyard_headers(message),
        },
        "properties": {
            "correlation_id": message.job_id,
            "reply_to": reply_to,
            "delivery_mode": PERSISTENT,
            "delivery_info": {"exchange": "", "routing_key": message.queue},
            "priority": step,
            "body_encoding": "base64",
            "delivery_tag": str(uuid.uuid4()),
        },
    }
    return redis_list_key(message.queue, step), orjson.dumps(stored)


def push_messages(client: redis.Redis, messages: Sequence[Message]) -> None:
    """Push ``messages`` in order, in one pipelined round trip."""
    reply_to = app.thread_oid
    by_list: dict[str, list[bytes]] = {}
    for message in messages:
        key, stored = envelope(message, reply_to)
        by_list.setdefault(key, []).append(stored)
    if len(by_list) == 1 and len(messages) <= PUSH_CHUNK:
        ((key, values),) = by_list.items()
        client.lpush(key, *values)
        return
    pipe = client.pipeline(transaction=False)
    for key, values in by_list.items():
        for start in range(0, len(values), PUSH_CHUNK):
            pipe.lpush(key, *values[start : start + PUSH_CHUNK])
    pipe.execute()
