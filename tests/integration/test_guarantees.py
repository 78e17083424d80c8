"""Execution guarantees with a real worker, dispatcher, Redis and store (SQLite, PostgreSQL)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import timedelta

import pytest

from tasks.jobs.control import cancel_job, replay_dead_letters, replay_job
from tasks.jobs.producer import JobRequest, enqueue, enqueue_many, submit
from tests.support.dispatcher import running_dispatcher
from tests.support.jobs import wait_finished
from tests.support.waiting import wait_for
from tests.support.worker import embedded_worker
from workers.errors import IdempotencyConflict, InvalidJob, JobStateConflict
from workers.publisher import Message, publish
from workers.store import jobs
from workers.store.jobs import JobFilter
from workers.store.models import JobStatus
from workers.store.records import JobRecord
from workers.store.types import utcnow


@pytest.fixture(scope="module")
def worker(core_runtime: str) -> Iterator[None]:
    with embedded_worker(concurrency=4), running_dispatcher():
        yield


def _status(job_id: uuid.UUID) -> str:
    return jobs.get_job(job_id).status


def test_delayed_job_waits_in_the_store_then_runs_once_due(worker: None) -> None:
    job = enqueue(JobRequest("diag.noop", delay_s=1.0))
    assert job.status == JobStatus.SCHEDULED
    assert job.run_at is not None

    record = wait_finished(job.id)

    assert record.status == JobStatus.SUCCEEDED
    assert record.started_at is not None
    assert record.started_at >= job.run_at
    assert record.attempts == 1


def test_run_at_in_the_past_is_queued_at_once(worker: None) -> None:
    job = enqueue(JobRequest("diag.noop", run_at=utcnow() - timedelta(minutes=1)))

    assert job.status == JobStatus.QUEUED
    assert wait_finished(job.id).status == JobStatus.SUCCEEDED


def test_delay_must_be_sane(worker: None) -> None:
    with pytest.raises(InvalidJob, match="delay_s must be between"):
        enqueue(JobRequest("diag.noop", delay_s=-1))
    with pytest.raises(InvalidJob, match="not both"):
        enqueue(JobRequest("diag.noop", delay_s=1, run_at=utcnow()))


def test_idempotency_key_returns_the_original_job(worker: None) -> None:
    key = f"order-{uuid.uuid4()}"
    first = submit(JobRequest("diag.sleep", {"ms": 1}, idempotency_key=key))
    again = submit(JobRequest("diag.sleep", {"ms": 1}, idempotency_key=key))

    assert first.created
    assert not again.created
    assert again.job.id == first.job.id
    with pytest.raises(IdempotencyConflict):
        submit(JobRequest("diag.sleep", {"ms": 2}, idempotency_key=key))
    wait_finished(first.job.id)
    assert submit(JobRequest("diag.sleep", {"ms": 1}, idempotency_key=key)).job.id == first.job.id


def test_unique_job_is_enqueued_once_while_open(worker: None) -> None:
    request = JobRequest("diag.sleep", {"ms": 300}, unique_for_s=60, unique_key="report-42")
    first = submit(request)
    second = submit(request)

    assert first.created
    assert not second.created
    assert second.job.id == first.job.id
    wait_finished(first.job.id)
    third = submit(request)
    assert third.created
    assert third.job.id != first.job.id
    wait_finished(third.job.id)


def test_unique_key_without_a_window_is_refused(worker: None) -> None:
    with pytest.raises(InvalidJob, match="unique_for_s"):
        submit(JobRequest("diag.noop", unique_key="x"))


def test_job_can_ask_to_be_retried_later(worker: None) -> None:
    job = enqueue(JobRequest("diag.flaky", {"fail_times": 2, "retry_after_s": 0.2}))

    record = wait_finished(job.id)

    assert record.status == JobStatus.SUCCEEDED
    assert record.attempts == 3
    assert record.result == {"attempts": 3}


def test_progress_is_visible_on_the_record(worker: None) -> None:
    job = enqueue(JobRequest("diag.steps", {"steps": 4, "step_ms": 20}))

    record = wait_finished(job.id)

    assert record.status == JobStatus.SUCCEEDED
    assert record.progress == 100
    assert record.progress_message == "step 4/4"


def test_cancelled_waiting_job_never_starts(worker: None) -> None:
    job = enqueue(JobRequest("diag.noop", delay_s=0.5))

    outcome = cancel_job(job.id)

    assert outcome.final
    wait_for(lambda: _status(job.id) == JobStatus.CANCELLED, timeout=5)
    record = jobs.get_job(job.id)
    assert record.started_at is None
    with pytest.raises(JobStateConflict):
        cancel_job(job.id)


def test_running_job_stops_at_its_next_check_when_cancelled(worker: None) -> None:
    job = enqueue(JobRequest("diag.steps", {"steps": 200, "step_ms": 50}))
    wait_for(lambda: _status(job.id) == JobStatus.STARTED, timeout=10)

    outcome = cancel_job(job.id)
    record = wait_finished(job.id, timeout=20)

    assert not outcome.final
    assert record.status == JobStatus.CANCELLED
    assert (record.progress or 0) < 100


def test_a_duplicate_delivery_runs_the_job_once(worker: None) -> None:
    # Given a queued job whose message reaches the broker twice (a redelivery)
    job = enqueue(JobRequest("diag.sleep", {"ms": 200}))
    publish([Message(str(job.id), job.type, job.payload, job.queue, job.priority)])

    record = wait_finished(job.id)

    # Then it ran once: one attempt, one success
    assert record.status == JobStatus.SUCCEEDED
    assert record.attempts == 1


def test_rate_limit_holds_and_defers_without_dropping(worker: None) -> None:
    # Given 50 jobs of a type limited to 20 per second across the cluster
    queued = enqueue_many([JobRequest("diag.limited", {"tenant": f"t{i}"}) for i in range(50)])
    records = [wait_finished(j.id, timeout=60) for j in queued if isinstance(j, JobRecord)]

    # Then every job ran, and no window of a second saw more than 20 starts. The limiter counts
    # in Redis a moment after the start is stamped, and that moment varies with load, so the
    # window is trimmed by a margin for it.
    assert [r.status for r in records] == [JobStatus.SUCCEEDED] * 50
    starts = sorted(r.started_at for r in records if r.started_at is not None)
    window = timedelta(seconds=0.9)
    busiest = max(sum(1 for t in starts if s <= t < s + window) for s in starts)
    assert busiest <= 20


def test_concurrency_limit_per_key_holds_across_the_worker(worker: None) -> None:
    queued = enqueue_many([JobRequest("diag.limited", {"tenant": "acme", "ms": 300})] * 6)
    records = [wait_finished(j.id, timeout=60) for j in queued if isinstance(j, JobRecord)]

    assert all(r.status == JobStatus.SUCCEEDED for r in records)
    spans = [(r.started_at, r.finished_at) for r in records if r.started_at and r.finished_at]
    overlap = max(sum(1 for s, f in spans if s <= start < f) for start, _ in spans)
    assert len(spans) == 6
    assert overlap <= 2


def test_dead_job_is_replayed_with_a_link_to_the_original(worker: None) -> None:
    dead = wait_finished(enqueue(JobRequest("diag.fail", {"message": "x", "transient": True})).id)
    assert dead.status == JobStatus.DEAD

    replay = replay_job(dead.id)

    assert replay.replay_of == dead.id
    assert jobs.get_job(dead.id).replayed_by == replay.id
    assert wait_finished(replay.id).status == JobStatus.DEAD
    with pytest.raises(JobStateConflict):
        replay_job(enqueue(JobRequest("diag.noop", delay_s=60)).id)


def test_bulk_replay_takes_each_dead_letter_once(worker: None) -> None:
    failing = enqueue_many([JobRequest("diag.fail", {"message": "y", "transient": True})] * 3)
    for job in failing:
        assert isinstance(job, JobRecord)
        wait_finished(job.id)

    originals = {j.id for j in failing if isinstance(j, JobRecord)}

    report = replay_dead_letters(JobFilter(type="diag.fail"))
    again = replay_dead_letters(JobFilter(type="diag.fail"))

    assert originals <= {r.replay_of for r in report.replayed}
    assert not report.errors
    assert originals.isdisjoint({r.replay_of for r in again.replayed})
