"""Public priorities translate per broker; queues and reliability settings are as designed."""

from __future__ import annotations

import pytest

from workers.celery_config import broker_transport_options, build_celery_config
from workers.priorities import from_broker, to_broker
from workers.queues import QUEUE_ORDER, QueueName, declared_queues, route_task
from workers.settings import Settings


@pytest.mark.parametrize(("public", "redis"), [(9, 0), (5, 4), (0, 9)])
def test_redis_serves_zero_first_so_public_priorities_are_inverted(public: int, redis: int) -> None:
    assert to_broker(public, "redis") == redis
    assert from_broker(redis, "redis") == public


def test_rabbitmq_priorities_pass_through() -> None:
    assert [to_broker(p, "amqp") for p in range(10)] == list(range(10))


@pytest.mark.parametrize("bad", [-1, 10, True])
def test_priority_outside_zero_to_nine_is_refused(bad: int) -> None:
    with pytest.raises(ValueError, match="from 0 to 9"):
        to_broker(bad, "redis")


def test_queues_are_declared_once_most_urgent_first_with_native_priorities() -> None:
    queues = declared_queues()

    assert [q.name for q in queues] == ["critical", "high", "default", "bulk"]
    assert QUEUE_ORDER[0] is QueueName.CRITICAL
    assert all(q.queue_arguments == {"x-max-priority": 9} for q in queues)


def test_internal_families_route_by_prefix_and_job_types_name_their_queue() -> None:
    assert route_task("maintenance.purge", (), {}, {}) == {"queue": "default"}
    assert route_task("diag.noop", (), {}, {}) is None


def test_reliability_defaults() -> None:
    config = build_celery_config(Settings(broker_url="redis://r:6379/0"))

    assert config["task_acks_late"] is True
    assert config["task_reject_on_worker_lost"] is True
    assert config["worker_prefetch_multiplier"] == 1
    assert config["accept_content"] == ["json"]
    assert config["task_create_missing_queues"] is False
    assert config["worker_send_task_events"] is True
    assert config["task_default_priority"] == to_broker(5, "redis")


def test_producer_and_worker_share_ten_redis_priority_steps() -> None:
    options = broker_transport_options(Settings(broker_url="redis://r:6379/0"))

    assert options["priority_steps"] == list(range(10))
    assert options["queue_order_strategy"] == "priority"
    assert options["visibility_timeout"] == 30
    assert options["unacked_restore_interval"] == 2
