"""A message the broker handed to a worker that died before recording it is still not lost.

kombu's Redis transport takes a message with BRPOP and only then copies it to its unacked
hash. A worker killed between the two loses the message from Redis altogether: no visibility
timeout brings it back. The job store still says ``queued``, and the dispatcher's sweep
notices the message is gone and publishes it again.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import redis

from tasks.jobs.producer import JobRequest, enqueue
from tests.support.dispatcher import running_dispatcher
from tests.support.jobs import wait_finished
from tests.support.processes import celery_worker_command, running
from tests.support.services import RedisServer
from tests.support.waiting import wait_for
from workers.queue_depth import queue_depths
from workers.store import jobs
from workers.store.models import JobStatus
from workers.store.records import JobRecord


def _default_depth() -> int:
    return next(d.depth for d in queue_depths() if d.name == "default")


def _freeze_in_brpop(client: redis.Redis, pid: int, db: int) -> None:
    """SIGSTOP the worker at a moment its BRPOP is pending in Redis (it re-issues it every
    second, so a stop can fall between two)."""
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        os.kill(pid, signal.SIGSTOP)
        blocked = [c for c in client.client_list()
                   if c["db"] == str(db) and c["cmd"] == "brpop" and "b" in c["flags"]]  # fmt: skip
        if blocked:
            return
        os.kill(pid, signal.SIGCONT)
        time.sleep(0.05)
    raise AssertionError("the worker was never caught waiting in BRPOP")


def test_message_popped_by_a_dying_worker_is_published_again(
    chaos_runtime: None, redis_service: RedisServer, redis_db: int, tmp_path: Path
) -> None:
    # Given an idle worker blocked in BRPOP, frozen so it cannot read what Redis sends it
    command = celery_worker_command(["default"], "victim", concurrency=1)
    with running(command, tmp_path / "victim.log") as victim:
        warmup = enqueue(JobRequest("diag.noop", {}))
        assert isinstance(warmup, JobRecord)
        wait_finished(warmup.id, timeout=60)
        _freeze_in_brpop(redis_service.client(redis_db), victim.pid, redis_db)

        # When a job is enqueued, Redis pops it into the frozen worker's socket, and it dies
        job = enqueue(JobRequest("diag.noop", {}))
        assert isinstance(job, JobRecord)
        wait_for(lambda: _default_depth() == 0, timeout=10, what="the message to be popped")
        os.killpg(victim.pid, signal.SIGKILL)
        victim.wait()

    # Then the message is nowhere in Redis, and the store still says queued
    client = redis_service.client(redis_db)
    assert client.hlen("unacked") == 0
    assert _default_depth() == 0
    assert jobs.get_job(job.id).status == JobStatus.QUEUED.value

    # And with the dispatcher running, a new worker still runs it
    with running_dispatcher():
        replacement = celery_worker_command(["default"], "replacement", concurrency=1)
        with running(replacement, tmp_path / "replacement.log"):
            record = wait_finished(job.id, timeout=60)
    assert record.status == JobStatus.SUCCEEDED.value
    assert record.attempts == 1
