"""A message pushed straight to Redis (the speedup) is the one ``send_task`` would have
published: this pins kombu's message format and Celery's headers it relies on."""

from __future__ import annotations

import base64
import json
import uuid
from importlib import import_module
from typing import Any

import pytest
import redis

from workers.messages import PUBLISHED_AT_HEADER, Message
from workers.priorities import redis_list_key, to_broker
from workers.publisher import publish, send_with_celery
from workers.redis_client import shared_redis
from workers.sensitive import sealed_args_repr
from workers.settings import get_settings
from workers.speedups.redis_publish import push_messages

#: What differs between any two messages, however they were published.
PER_MESSAGE = {("properties", "delivery_tag"), ("headers", PUBLISHED_AT_HEADER)}


@pytest.fixture
def broker(runtime: dict[str, str]) -> redis.Redis:
    import_module("tasks.jobs.diag")  # registered here, as in a worker: limits stay off messages
    client = shared_redis(get_settings().broker_url)
    client.flushdb()
    return client


def _comparable(raw: bytes) -> dict[str, Any]:
    stored = json.loads(raw)
    for section, key in PER_MESSAGE:
        assert stored[section].pop(key)
    return stored


def test_a_pushed_message_equals_the_one_send_task_publishes(broker: redis.Redis) -> None:
    # Given one message published by Celery's send_task, then alone and in a batch by Taskyard
    message = Message(str(uuid.uuid4()), "diag.sleep", {"ms": 5, "note": "é"}, "bulk", 7, "cid")
    send_with_celery([message], "redis")
    push_messages(broker, [message])
    push_messages(broker, [message, message])

    # Then the four stored messages are the same but for their tag and publish time
    stored = broker.lrange(redis_list_key("bulk", to_broker(7, "redis")), 0, -1)
    by_celery, *pushed = [_comparable(raw) for raw in reversed(stored)]
    assert len(pushed) == 3
    assert pushed == [by_celery] * 3
    assert by_celery["headers"]["timelimit"] == [None, None]  # the worker applies its own


def test_values_beyond_strict_json_are_stored_as_send_task_stores_them(
    broker: redis.Redis,
) -> None:
    # Given a payload Python's JSON takes but stricter encoders refuse or change
    payload = {"nan": float("nan"), "big": 2**100, "quote": "it's", "deep": {"a": {"b": [1]}}}
    message = Message(str(uuid.uuid4()), "diag.noop", payload, "default", 5, None)

    # When Celery's send_task and Taskyard publish it
    send_with_celery([message], "redis")
    push_messages(broker, [message])

    # Then both stored the same message, body bytes and argument repr included
    stored = broker.lrange(redis_list_key("default", to_broker(5, "redis")), 0, -1)
    by_celery, pushed = [_comparable(raw) for raw in reversed(stored)]
    assert pushed == by_celery
    assert "NaN" in base64.b64decode(pushed["body"]).decode()


def test_a_batch_keeps_its_order_within_each_priority(broker: redis.Redis) -> None:
    # Given a batch mixing two priorities of one queue
    messages = [
        Message(str(uuid.uuid4()), "diag.noop", {}, "default", priority, None)
        for priority in (9, 1, 9, 1, 9)
    ]
    publish(messages)

    # Then each priority's list gives its messages back first in, first out
    for priority in (9, 1):
        key = redis_list_key("default", to_broker(priority, "redis"))
        taken = [json.loads(broker.rpop(key))["headers"]["id"] for _ in range(broker.llen(key))]
        assert taken == [m.job_id for m in messages if m.priority == priority]


def test_a_sealed_payload_is_shown_redacted_by_both_paths(broker: redis.Redis) -> None:
    # Given a message whose payload has a sealed field (workers.sensitive)
    payload = {"account": "acme", "secret": {"$sealed": "gAAAAA-token"}}
    message = Message(str(uuid.uuid4()), "diag.sealed", payload, "default", 5,
                      argsrepr=sealed_args_repr(payload))  # fmt: skip

    # When Celery's send_task and the pipelined push publish it
    send_with_celery([message], "redis")
    push_messages(broker, [message])

    # Then both carry the sealed payload, shown redacted, and otherwise the same message
    stored = broker.lrange(redis_list_key("default", to_broker(5, "redis")), 0, -1)
    by_celery, pushed = [_comparable(raw) for raw in reversed(stored)]
    assert by_celery["headers"]["argsrepr"] == "[{'account': 'acme', 'secret': '[redacted]'}]"
    by_celery["properties"].pop("argsrepr", None)  # send_task also passes its options on
    assert pushed == by_celery
