"""A worker's task events reach event receivers (Flower) complete; with the speedups on, several
to a publish."""

from __future__ import annotations

from tasks.jobs.producer import JobRequest, enqueue
from tests.support.events import SUCCESS_EVENTS, task_events
from tests.support.jobs import wait_finished
from tests.support.worker import embedded_worker
from workers import speedups

JOBS = 20


def test_every_task_event_arrives_and_with_the_speedups_one_publish_carries_several(
    core_runtime: str,
) -> None:
    # Given a listener for the worker's events
    with task_events() as events, embedded_worker(["default"]):
        # When twenty jobs run
        ids = [str(enqueue(JobRequest("diag.noop")).id) for _ in range(JOBS)]
        for job_id in ids:
            wait_finished(job_id)

        # Then each job's received, started and succeeded events arrive within seconds
        assert events.wait_for(ids) == {job_id: SUCCESS_EVENTS for job_id in ids}

    # And with the speedups they came batched (Celery's own flush, once per loop turn, took
    # 27 publishes here; TASKYARD_SPEEDUPS=off runs that flush)
    if speedups.enabled():
        assert events.publishes <= JOBS * len(SUCCESS_EVENTS) // 5, f"{events.publishes}"
