"""Reading poison messages and their count back in tests, and running a job behind them."""

from __future__ import annotations

from tasks.jobs.producer import JobRequest, enqueue
from tests.support.jobs import wait_finished
from workers import poison
from workers.observability.metrics import multiprocess_registry
from workers.observability.multiproc import setup_multiprocess_metrics
from workers.store.models import JobStatus


def poison_counted(queue: str) -> float:
    """``taskyard_poison_messages_total{queue}`` as this process tree exports it."""
    setup_multiprocess_metrics()  # as the worker this test runs in-process would at its start
    value = multiprocess_registry().get_sample_value(
        "taskyard_poison_messages_total", {"queue": queue}
    )
    return value or 0.0


def kept(queue: str) -> list[poison.PoisonEntry]:
    """The poison messages kept for ``queue``."""
    return poison.list_poison(queue, limit=1000)


def run_noop(queue: str) -> None:
    """Enqueue a ``diag.noop`` on ``queue`` and check that it succeeds."""
    job = enqueue(JobRequest("diag.noop", queue=queue))
    assert wait_finished(job.id).status == JobStatus.SUCCEEDED
