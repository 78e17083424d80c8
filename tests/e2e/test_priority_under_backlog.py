"""A `high` job finishes while thousands of `bulk` jobs are still queued (real worker processes)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tasks.jobs.producer import JobRequest, enqueue, enqueue_many
from tests.support.jobs import wait_finished
from tests.support.processes import celery_worker_command, running
from tests.support.waiting import wait_for
from workers.queue_depth import queue_depths
from workers.store import jobs
from workers.store.models import JobStatus

pytestmark = pytest.mark.e2e
BACKLOG = 3_000


@pytest.fixture(scope="module")
def database_url(preferred_database_url: str) -> str:
    return preferred_database_url


def _bulk_depth() -> int:
    return next(q.depth for q in queue_depths() if q.name == "bulk")


@pytest.fixture(scope="module")
def workers_running(
    runtime: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Path]:
    logs = tmp_path_factory.mktemp("logs")
    bulk = celery_worker_command(["bulk"], "bulk", concurrency=1)
    realtime = celery_worker_command(["critical", "high"], "realtime", concurrency=1)
    with running(bulk, logs / "bulk.log"), running(realtime, logs / "realtime.log"):
        yield logs


def test_high_job_does_not_wait_behind_bulk_backlog(workers_running: Path) -> None:
    # Given thousands of 10 ms bulk jobs queued, and the bulk worker busy draining them
    requests = [JobRequest("diag.sleep", {"ms": 10}, queue="bulk") for _ in range(BACKLOG)]
    for start in range(0, BACKLOG, 1_000):
        enqueue_many(requests[start : start + 1_000])
    wait_for(lambda: _bulk_depth() < BACKLOG, timeout=60, what="the bulk worker to start")

    # When a high job is enqueued
    urgent = enqueue(JobRequest("diag.noop", queue="high"))
    record = wait_finished(urgent.id, timeout=60)

    # Then it has finished while most of the backlog is still waiting
    remaining = _bulk_depth()
    assert record.status == JobStatus.SUCCEEDED
    assert record.worker is not None
    assert record.worker.startswith("realtime@")
    assert remaining > BACKLOG // 2, f"only {remaining} bulk jobs left: the test proves nothing"
    assert jobs.get_job(urgent.id).queue == "high"
