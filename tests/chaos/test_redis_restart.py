"""Restart Redis (AOF on) while jobs are enqueued and worked: every 202 ends `succeeded`, and
the worker's task events reach Flower again after it reconnects."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from tests.chaos.conftest import FAST_RECOVERY
from tests.support.dispatcher import running_dispatcher
from tests.support.events import SUCCESS_EVENTS, task_events
from tests.support.jobs import wait_finished
from tests.support.processes import celery_worker_command, running
from tests.support.runtime import taskyard_runtime
from tests.support.waiting import wait_for
from workers.embedded_redis import EmbeddedRedis, start_embedded_redis
from workers.store.keys import create_key
from workers.store.models import JobStatus

ENQUEUE_FOR_S = 8.0


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[EmbeddedRedis]:
    server = start_embedded_redis(tmp_path / "redis", appendonly=True)
    try:
        yield server
    finally:
        server.stop()


class Enqueuer(threading.Thread):
    """POSTs diag.sleep jobs for a while, keeping the ids of every 202."""

    def __init__(self, client: TestClient, key: str) -> None:
        super().__init__(daemon=True)
        self.client, self.headers = client, {"Authorization": f"Bearer {key}"}
        self.accepted: list[str] = []
        self.refused: dict[int, int] = {}

    def run(self) -> None:
        deadline = time.monotonic() + ENQUEUE_FOR_S
        while time.monotonic() < deadline:
            body = {"type": "diag.sleep", "payload": {"ms": 20}}
            response = self.client.post("/v1/jobs", json=body, headers=self.headers)
            if response.status_code == 202:
                self.accepted.append(response.json()["id"])
            else:
                self.refused[response.status_code] = self.refused.get(response.status_code, 0) + 1
            time.sleep(0.01)


def test_redis_restart_loses_no_accepted_job(
    own_redis: EmbeddedRedis, preferred_database_url: str, tmp_path: Path
) -> None:
    env = {
        "TASKYARD_BROKER_URL": own_redis.url(0),
        "TASKYARD_DATABASE_URL": preferred_database_url,
        "TASKYARD_LOG_FORMAT": "text",
        **FAST_RECOVERY,
    }
    with taskyard_runtime(env):
        key = create_key(f"chaos-{uuid.uuid4().hex[:6]}", ["admin"]).secret
        command = celery_worker_command(["default"], "chaos", concurrency=2)
        with (
            running(command, tmp_path / "worker.log"),
            running_dispatcher(),
            TestClient(create_app()) as client,
        ):
            # Given jobs being enqueued over HTTP and worked
            enqueuer = Enqueuer(client, key)
            enqueuer.start()
            wait_for(lambda: len(enqueuer.accepted) >= 50, timeout=30, what="enqueues")

            # When Redis shuts down and comes back on its append-only file
            own_redis.stop()
            time.sleep(1.0)  # stay down long enough for enqueues to be refused
            restarted = start_embedded_redis(own_redis.socket_path.parent, appendonly=True)
            own_redis.process = restarted.process
            enqueuer.join()

            # Then every job the API accepted ran to success
            records = [wait_finished(job_id, timeout=120) for job_id in enqueuer.accepted]

            # And the reconnected worker's task events reach a subscriber again
            with task_events() as events:
                body = {"type": "diag.noop"}
                after = client.post("/v1/jobs", json=body, headers=enqueuer.headers).json()["id"]
                assert events.wait_for([after]) == {after: SUCCESS_EVENTS}

    assert [r.status for r in records] == [JobStatus.SUCCEEDED] * len(records)
    assert len(records) >= 50
    assert set(enqueuer.refused) <= {503}, enqueuer.refused
