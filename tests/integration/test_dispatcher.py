"""Two dispatchers at once publish every due job exactly once; lost jobs are reaped."""

from __future__ import annotations

import uuid
from datetime import timedelta

from sqlalchemy import update

from tasks.jobs.producer import JobRequest, enqueue, enqueue_many
from tests.support.dispatcher import running_dispatcher
from tests.support.waiting import wait_for
from workers.dispatcher import Dispatcher
from workers.jobtypes import LOST_WORKER_ALLOWANCE
from workers.queue_depth import queue_depths
from workers.redis_client import shared_redis
from workers.settings import get_settings
from workers.store import jobs, outage, transitions
from workers.store.engine import session_scope
from workers.store.jobs import JobFilter, NewJob
from workers.store.models import Job, JobStatus
from workers.store.types import utcnow

DUE = 300


def _depth(queue: str) -> int:
    return next(q.depth for q in queue_depths() if q.name == queue)


def test_two_dispatchers_publish_each_due_job_once(runtime: dict[str, str]) -> None:
    # Given 300 delayed jobs falling due together, and no worker consuming them
    enqueue_many([JobRequest("diag.noop", queue="bulk", delay_s=0.3) for _ in range(DUE)])
    assert _depth("bulk") == 0

    # When two dispatchers race for them
    with running_dispatcher(), running_dispatcher():
        wait_for(
            lambda: jobs.count_jobs(JobFilter(status=JobStatus.QUEUED.value)) == DUE,
            timeout=30,
            what="every job to be dispatched",
        )

    # Then the broker holds exactly one message per job
    assert _depth("bulk") == DUE
    assert jobs.count_jobs(JobFilter(status=JobStatus.SCHEDULED.value)) == 0


def _started_by_a_silent_worker(queue: str, attempts: int = 1) -> Job:
    """A job whose worker started it and stopped sending heartbeats a minute ago."""
    job = enqueue(JobRequest("diag.noop", queue=queue))
    stale = utcnow() - timedelta(minutes=1)
    with session_scope() as session:
        session.execute(
            update(Job)
            .where(Job.id == job.id)
            .values(status=JobStatus.STARTED.value, attempts=attempts, worker="gone@host",
                    heartbeat_at=stale)
        )  # fmt: skip
    return job


def test_reaper_requeues_a_job_whose_worker_went_silent(runtime: dict[str, str]) -> None:
    # Given a job started by a worker whose heartbeat stopped a minute ago
    job = _started_by_a_silent_worker("high")

    # When the reaper runs
    reaped = transitions.reap_lost(stale_after_s=10)

    # Then the job waits to be dispatched again, with the reason recorded
    record = jobs.get_job(job.id)
    assert reaped.requeued == 1
    assert record.status == JobStatus.RETRYING
    assert record.error_type == "WorkerLost"
    assert transitions.reap_lost(stale_after_s=10).requeued == 0


def test_each_dispatcher_tick_reaps_and_publishes_the_reaped_job(
    runtime: dict[str, str],
) -> None:
    # Given a job started by a worker whose heartbeat stopped a minute ago
    job = _started_by_a_silent_worker("bulk")
    before = _depth("bulk")

    # When the dispatcher (the only reaper) ticks twice
    first = Dispatcher().tick()
    assert jobs.get_job(job.id).status == JobStatus.RETRYING
    Dispatcher().tick()

    # Then the first tick reaped the job and the next one published it again
    assert first.requeued >= 1
    assert jobs.get_job(job.id).status == JobStatus.QUEUED
    assert _depth("bulk") == before + 1


def test_a_job_that_keeps_losing_its_worker_ends_dead(runtime: dict[str, str]) -> None:
    job = _started_by_a_silent_worker("high", attempts=1 + LOST_WORKER_ALLOWANCE)  # diag.noop: 1

    assert transitions.reap_lost(stale_after_s=10).dead == 1
    assert jobs.get_job(job.id).status == JobStatus.DEAD


def test_no_reaping_right_after_a_store_outage(runtime: dict[str, str]) -> None:
    # Given a job whose heartbeat is stale because the store was down, not its worker
    _started_by_a_silent_worker("high")
    outage.note_outage()

    # Then the reaper holds off while the outage is recent, and acts once it has passed
    assert transitions.reap_lost(stale_after_s=10).requeued == 0
    shared_redis(get_settings().locks_url).delete(outage.KEY)
    assert transitions.reap_lost(stale_after_s=10).requeued == 1


def test_a_job_whose_producer_died_before_publishing_is_published(
    runtime: dict[str, str],
) -> None:
    # Given a record inserted by a producer that died before it could publish the message
    new = NewJob(uuid.uuid4(), "diag.noop", "bulk", 5, {})
    jobs.insert_jobs([new])
    with session_scope() as session:
        session.execute(
            update(Job)
            .where(Job.id == new.id)
            .values(dispatched_at=utcnow() - timedelta(minutes=2))
        )
    assert jobs.get_job(new.id).status == JobStatus.DISPATCHING
    before = _depth("bulk")

    # When a dispatcher passes
    Dispatcher().tick()

    # Then the job is published once and recorded as queued
    assert jobs.get_job(new.id).status == JobStatus.QUEUED
    assert _depth("bulk") == before + 1
