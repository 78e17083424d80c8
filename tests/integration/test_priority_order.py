"""Inside one queue, public priority 9 runs first and 0 last, on Redis and on RabbitMQ."""

from __future__ import annotations

import random
from collections.abc import Iterator

import pytest

from tasks.jobs.producer import JobRequest, enqueue_many
from tests.support.jobs import wait_finished
from tests.support.rabbitmq import require_rabbitmq, scratch_vhost
from tests.support.runtime import taskyard_runtime
from tests.support.services import RedisServer
from tests.support.worker import embedded_worker
from workers.queue_depth import queue_depths
from workers.store.models import JobStatus
from workers.store.records import JobRecord


@pytest.fixture(scope="module", params=["redis", "rabbitmq"])
def broker_runtime(
    request: pytest.FixtureRequest,
    redis_service: RedisServer,
    redis_db: int,
    preferred_database_url: str,
) -> Iterator[str]:
    env = {
        "TASKYARD_DATABASE_URL": preferred_database_url,
        "TASKYARD_REDIS_URL": redis_service.url(redis_db),
        "TASKYARD_LOG_LEVEL": "WARNING",
    }
    if request.param == "redis":
        with taskyard_runtime({**env, "TASKYARD_BROKER_URL": redis_service.url(redis_db)}):
            yield "redis"
        return
    require_rabbitmq()
    with scratch_vhost() as url, taskyard_runtime({**env, "TASKYARD_BROKER_URL": url}):
        yield "rabbitmq"


def test_higher_public_priority_starts_first(broker_runtime: str) -> None:
    # Given two jobs of every priority 0-9 queued in one queue, in shuffled order
    priorities = [p for p in range(10) for _ in range(2)]
    random.Random(7).shuffle(priorities)
    requests = [JobRequest("diag.sleep", {"ms": 5}, priority=p) for p in priorities]
    queued = [j for j in enqueue_many(requests) if isinstance(j, JobRecord)]
    assert sum(q.depth for q in queue_depths() if q.name == "default") == len(priorities)

    # When one worker with a single pool process drains the queue
    with embedded_worker(queues=["default"], concurrency=1):
        records = [wait_finished(j.id) for j in queued]

    # Then jobs started from the most urgent priority (9) to the least (0)
    assert all(r.status == JobStatus.SUCCEEDED for r in records)
    started = [r.priority for r in sorted(records, key=lambda r: r.started_at or r.created_at)]
    assert started == sorted(started, reverse=True), started


@pytest.mark.parametrize("broker_runtime", ["redis"], indirect=True)
def test_redis_queue_depth_is_reported_per_public_priority(broker_runtime: str) -> None:
    # RabbitMQ reports one depth per queue; Redis keeps one list per priority.
    enqueue_many([JobRequest("diag.noop", queue="bulk", priority=p) for p in (9, 9, 0)])

    bulk = next(q for q in queue_depths() if q.name == "bulk")

    assert bulk.depth == 3
    assert bulk.by_priority == {9: 2, 0: 1}
