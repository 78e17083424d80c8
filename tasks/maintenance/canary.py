"""``maintenance.canary``: a ``diag.noop`` job through each queue, and the latency of the last.

Each run measures the canaries of earlier runs (``created_at`` to ``finished_at`` of the
newest one that finished, per queue, and how many are still waiting), then enqueues a new one
per queue at priority 9 through the producer, marked with correlation id ``canary:<queue>``
(the mark and the measurement are in ``tasks/jobs/canary.py``).
It never waits for its own jobs: the next run measures them.
"""

from __future__ import annotations

from typing import Any

from tasks.jobs.canary import correlation_id, measure
from tasks.jobs.catalog import DIAG_NOOP
from tasks.jobs.producer import JobRequest, enqueue
from tasks.maintenance.runs import RunResult, maintenance_task, run_maintenance
from workers.priorities import MAX_PRIORITY
from workers.queues import QUEUE_ORDER
from workers.store.types import utcnow

NAME = "canary"
LOCK_TTL_S = 60
TIME_LIMIT_S = 60


def send_canaries(figures: dict[str, Any]) -> None:
    """Measure earlier canaries, then enqueue one per queue; fills ``figures``."""
    now = utcnow()
    for queue in QUEUE_ORDER:
        figures.update(measure(queue.value, now))
    latencies = [v for k, v in figures.items() if k.endswith("_latency_ms")]
    if latencies:
        figures["max_latency_ms"] = max(latencies)
    figures["enqueued"] = 0
    for queue in QUEUE_ORDER:
        request = JobRequest(DIAG_NOOP.name, queue=queue.value, priority=MAX_PRIORITY)
        job = enqueue(request, correlation_id=correlation_id(queue.value))
        figures[f"{queue.value}_job"] = str(job.id)
        figures["enqueued"] += 1


def canary() -> RunResult:
    """Run and record one canary round."""
    return run_maintenance(NAME, send_canaries, lock_ttl_s=LOCK_TTL_S)


@maintenance_task(NAME, TIME_LIMIT_S)
def canary_task() -> dict[str, Any]:
    """Send a diag.noop through each queue and record past latency; safe to repeat; no retry."""
    return canary().reported()
