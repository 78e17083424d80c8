"""A worker's task events reach event receivers (Flower) complete, several to a publish."""

from __future__ import annotations

import base64
import json
import time
from collections import defaultdict
from typing import Any

from redis import Redis

from tasks.jobs.producer import JobRequest, enqueue
from tests.support.jobs import wait_finished
from tests.support.worker import embedded_worker

JOBS = 20
TASK_EVENTS = ("task-received", "task-started", "task-succeeded")


def _task_events(message: dict[str, Any]) -> list[dict[str, Any]]:
    """The task events in one published event message (a batch is a list)."""
    envelope = json.loads(message["data"])
    body = json.loads(base64.b64decode(envelope["body"]))
    events = body if isinstance(body, list) else [body]
    return [event for event in events if event["type"].startswith("task-")]


def test_every_task_event_arrives_and_one_publish_carries_several(
    runtime: dict[str, str],
) -> None:
    # Given a subscriber to the worker's event exchange
    redis = Redis.from_url(runtime["TASKYARD_BROKER_URL"])
    subscriber = redis.pubsub(ignore_subscribe_messages=True)
    subscriber.psubscribe("*celeryev*")
    seen: dict[str, set[str]] = defaultdict(set)
    publishes = 0

    with embedded_worker(queues=["default"]):
        # When twenty jobs run
        ids = [str(enqueue(JobRequest("diag.noop")).id) for _ in range(JOBS)]
        for job_id in ids:
            wait_finished(job_id)

        # Then each job's received, started and succeeded events arrive within seconds
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and any(
            len(seen[job_id]) < len(TASK_EVENTS) for job_id in ids
        ):
            message = subscriber.get_message(timeout=0.5)
            if message is None:
                continue
            events = _task_events(message)
            publishes += bool(events)
            for event in events:
                seen[event["uuid"]].add(event["type"])
    subscriber.close()

    assert {job_id: seen[job_id] for job_id in ids} == {job_id: set(TASK_EVENTS) for job_id in ids}
    # And they came batched (Celery's own flush, once per loop turn, took 27 publishes here)
    assert publishes <= JOBS * len(TASK_EVENTS) // 5, f"{publishes} publishes"
