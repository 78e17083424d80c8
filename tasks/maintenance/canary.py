"""``maintenance.canary``: a ``diag.noop`` job through each queue, and the latency of the last.

Each run measures the canaries of earlier runs (``created_at`` to ``finished_at`` of the
newest one that finished, per queue, and how many are still waiting), then enqueues a new one
per queue at priority 9 through the producer, marked with correlation id ``canary:<queue>``.
It never waits for its own jobs: the next run measures them.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import func, select

from tasks.jobs.catalog import DIAG_NOOP
from tasks.jobs.producer import JobRequest, enqueue
from tasks.maintenance.runs import RunResult, maintenance_task, run_maintenance
from workers.priorities import MAX_PRIORITY
from workers.queues import QUEUE_ORDER
from workers.store.engine import session_scope
from workers.store.models import Job, JobStatus
from workers.store.types import utcnow

NAME = "canary"
LOCK_TTL_S = 60
TIME_LIMIT_S = 60
#: Canaries older than this are not looked at (it also bounds the index scan).
LOOKBACK = timedelta(hours=1)


def correlation_id(queue: str) -> str:
    """The mark on ``queue``'s canary jobs."""
    return f"canary:{queue}"


def measure(queue: str, now: datetime) -> dict[str, Any]:
    """Latency of ``queue``'s newest finished canary, and its canaries still unfinished."""
    mine = (
        (Job.type == DIAG_NOOP.name)
        & (Job.correlation_id == correlation_id(queue))
        & (Job.created_at >= now - LOOKBACK)
    )
    with session_scope() as session:
        last = session.execute(
            select(Job.created_at, Job.finished_at)
            .where(mine, Job.status == JobStatus.SUCCEEDED.value, Job.finished_at.is_not(None))
            .order_by(Job.created_at.desc())
            .limit(1)
        ).first()
        waiting, oldest = session.execute(
            select(func.count(), func.min(Job.created_at)).where(mine, Job.finished_at.is_(None))
        ).one()
    figures: dict[str, Any] = {f"{queue}_waiting": int(waiting)}
    if oldest is not None:
        figures[f"{queue}_oldest_waiting_s"] = round((now - oldest).total_seconds(), 3)
    if last is not None:
        created, finished = cast(tuple[datetime, datetime], tuple(last))
        figures[f"{queue}_latency_ms"] = round((finished - created).total_seconds() * 1000, 1)
        figures[f"{queue}_measured_age_s"] = round((now - finished).total_seconds(), 3)
    return figures


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
