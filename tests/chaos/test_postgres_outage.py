"""Stop PostgreSQL for 10 s under load: the API answers 503 (never 500), workers retry their
record writes, and afterwards every job's record is right. Uses a private cluster."""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from tests.chaos.conftest import FAST_RECOVERY
from tests.support.dispatcher import running_dispatcher
from tests.support.jobs import wait_finished
from tests.support.postgres import can_start_cluster, scratch_cluster
from tests.support.processes import celery_worker_command, running
from tests.support.runtime import taskyard_runtime
from tests.support.services import RedisServer, scratch_postgres_database
from tests.support.waiting import wait_for
from workers.store import jobs
from workers.store.keys import create_key
from workers.store.models import JobStatus

JOBS = 40
OUTAGE_S = 10.0

pytestmark = pytest.mark.skipif(not can_start_cluster(), reason="needs PostgreSQL server binaries")


def test_store_outage_is_a_503_and_no_record_goes_wrong(
    redis_service: RedisServer, redis_db: int, tmp_path: Path
) -> None:
    with scratch_cluster() as cluster, scratch_postgres_database(cluster.admin_url) as database:
        env = {
            "TASKYARD_BROKER_URL": redis_service.url(redis_db),
            "TASKYARD_DATABASE_URL": database,
            "TASKYARD_LOG_FORMAT": "text",
            **FAST_RECOVERY,
        }
        with taskyard_runtime(env):
            headers = {"Authorization": f"Bearer {create_key('chaos', ['admin']).secret}"}
            body = {"type": "diag.sleep", "payload": {"ms": 300}}
            command = celery_worker_command(["default"], "pgchaos", concurrency=2)
            with (
                running(command, tmp_path / "worker.log"),
                running_dispatcher(),
                TestClient(create_app()) as api,
            ):
                # Given jobs accepted and being worked
                ids = [api.post("/v1/jobs", json=body, headers=headers).json()["id"]
                       for _ in range(JOBS)]  # fmt: skip
                succeeded = lambda: sum(  # noqa: E731
                    jobs.get_job(uuid.UUID(i)).status == JobStatus.SUCCEEDED for i in ids
                )
                wait_for(lambda: succeeded() >= 4, timeout=60, what="first jobs")

                # When PostgreSQL is down for 10 s
                cluster.stop()
                down_until = time.monotonic() + OUTAGE_S
                answers: set[tuple[int, str]] = set()
                while time.monotonic() < down_until:
                    for response in (
                        api.get("/readyz"),
                        api.post("/v1/jobs", json=body, headers=headers),
                        api.get(f"/v1/jobs/{ids[0]}", headers=headers),
                    ):
                        answers.add((response.status_code, _code(response.json())))
                    time.sleep(0.5)
                cluster.start()

                # Then the API said 503, and every job finished with a right record
                records = [wait_finished(i, timeout=120) for i in ids]

    assert {status for status, _ in answers} == {503}, answers
    assert "store_unavailable" in {code for _, code in answers}, answers
    assert [r.status for r in records] == [JobStatus.SUCCEEDED] * JOBS
    assert all(r.result == {"slept_ms": 300} for r in records)
    assert all(r.finished_at is not None and r.started_at is not None for r in records)
    assert max(r.attempts for r in records) <= 2


def _code(body: dict[str, object]) -> str:
    error = body.get("error")
    return str(error.get("code")) if isinstance(error, dict) else str(body.get("status"))
