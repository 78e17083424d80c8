"""SIGKILL a worker with jobs in flight: every job still ends `succeeded`, none is lost."""

from __future__ import annotations

import os
import signal
from pathlib import Path

from tasks.jobs.producer import JobRequest, enqueue_many
from tests.support.dispatcher import running_dispatcher
from tests.support.jobs import wait_finished
from tests.support.processes import celery_worker_command, running
from tests.support.waiting import wait_for
from workers.store import jobs
from workers.store.jobs import JobFilter
from workers.store.models import JobStatus
from workers.store.records import JobRecord

JOBS = 200


def _count(status: JobStatus) -> int:
    return len(jobs.list_jobs(JobFilter(status=status.value), limit=JOBS + 1))


def test_sigkilled_worker_loses_no_job(chaos_runtime: None, tmp_path: Path) -> None:
    # Given 200 sleep jobs being worked by a prefork worker
    queued = enqueue_many([JobRequest("diag.sleep", {"ms": 100}) for _ in range(JOBS)])
    ids = [j.id for j in queued if isinstance(j, JobRecord)]
    command = celery_worker_command(["default"], "victim", concurrency=4)
    with running_dispatcher():
        with running(command, tmp_path / "victim.log") as victim:
            wait_for(lambda: _count(JobStatus.SUCCEEDED) >= 20, timeout=60, what="progress")
            wait_for(lambda: _count(JobStatus.STARTED) >= 1, timeout=10, what="jobs in flight")

            # When the worker and its pool children are killed outright
            os.killpg(victim.pid, signal.SIGKILL)
            victim.wait()
        in_flight = _count(JobStatus.STARTED)

        # And a new worker takes over
        replacement = celery_worker_command(["default"], "replacement", concurrency=4)
        with running(replacement, tmp_path / "replacement.log"):
            records = [wait_finished(job_id, timeout=120) for job_id in ids]

    # Then every job succeeded; the ones caught mid-flight ran again, none more than twice
    assert [r.status for r in records] == [JobStatus.SUCCEEDED] * JOBS
    assert in_flight >= 1
    assert sum(1 for r in records if r.attempts == 2) >= 1
    assert max(r.attempts for r in records) <= 2
    assert {r.worker.split("@")[0] for r in records if r.worker} == {"victim", "replacement"}
