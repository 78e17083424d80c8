"""A real worker writes every transition of the job record, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tasks.jobs.producer import JobRequest, enqueue
from tests.support.dispatcher import running_dispatcher
from tests.support.jobs import wait_finished
from tests.support.worker import embedded_worker
from workers.store.models import JobStatus


@pytest.fixture(scope="module")
def worker(core_runtime: str) -> Iterator[None]:
    with embedded_worker(), running_dispatcher():
        yield


def test_noop_succeeds_with_its_result_recorded(worker: None) -> None:
    # Given a diag.noop job enqueued through the producer
    job = enqueue(JobRequest("diag.noop"))
    assert job.status == JobStatus.QUEUED

    # When the worker runs it
    record = wait_finished(job.id)

    # Then the record holds the outcome, the attempt and the worker
    assert record.status == JobStatus.SUCCEEDED
    assert record.result == {"ok": True}
    assert record.attempts == 1
    assert record.worker
    assert record.started_at is not None
    assert record.finished_at is not None
    assert record.started_at <= record.finished_at


def test_permanent_failure_is_failed_at_once_with_the_error_kept(worker: None) -> None:
    job = enqueue(JobRequest("diag.fail", {"message": "disk on fire"}))

    record = wait_finished(job.id)

    assert record.status == JobStatus.FAILED
    assert record.attempts == 1
    assert record.error_type == "tasks.jobs.catalog.DiagFailure"
    assert record.error_message == "disk on fire"
    assert record.error_traceback is not None
    assert "DiagFailure" in record.error_traceback


def test_transient_failure_retries_then_goes_dead(worker: None) -> None:
    job = enqueue(JobRequest("diag.fail", {"message": "flaky upstream", "transient": True}))

    record = wait_finished(job.id, timeout=60)

    assert record.status == JobStatus.DEAD
    assert record.attempts == 4  # the first attempt and three retries
    assert record.error_type == "tasks.jobs.catalog.TransientDiagFailure"


def test_sleep_reports_what_it_did(worker: None) -> None:
    job = enqueue(JobRequest("diag.sleep", {"ms": 20}, queue="bulk", priority=1))

    record = wait_finished(job.id)

    assert record.status == JobStatus.SUCCEEDED
    assert record.result == {"slept_ms": 20}
    assert record.queue == "bulk"
    assert record.priority == 1
