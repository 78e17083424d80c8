"""Gauges read at scrape time: queue depth per queue and priority, the oldest queued job per
queue, jobs per open status."""

from __future__ import annotations

import logging
from collections.abc import Iterator

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import func, select

from workers.pausing import paused_queues
from workers.priorities import MAX_PRIORITY, MIN_PRIORITY
from workers.queue_depth import oldest_queued_ages, queue_depths
from workers.queues import QUEUE_ORDER
from workers.settings import get_settings
from workers.store.engine import session_scope
from workers.store.models import FINISHED_STATUSES, Job, JobStatus

log = logging.getLogger(__name__)
#: Counted on every scrape: every open status, and dead letters (finished but actionable).
COUNTED_STATUSES = [s.value for s in JobStatus if s not in FINISHED_STATUSES] + [
    JobStatus.DEAD.value
]


class QueueDepthCollector(Collector):
    """``taskyard_queue_depth{queue, priority}``: messages waiting in the broker;
    ``taskyard_queue_paused{queue}``: whether workers leave it alone."""

    def collect(self) -> Iterator[GaugeMetricFamily]:
        family = GaugeMetricFamily(
            "taskyard_queue_depth",
            "Messages waiting in each queue (per public priority on Redis; 'all' on RabbitMQ).",
            labels=["queue", "priority"],
        )
        try:
            depths = queue_depths()
        except Exception:  # a scrape must not fail because the broker is down
            log.warning("queue depth unavailable", exc_info=True, extra={"action": "metrics.error"})
            return
        paused = GaugeMetricFamily(
            "taskyard_queue_paused",
            "1 while a queue is paused (workers do not consume it; `taskyard queues resume`).",
            labels=["queue"],
        )
        try:
            paused_now = paused_queues()
        except Exception:  # a scrape must not fail because Redis is down
            log.warning("paused queues unknown", exc_info=True, extra={"action": "metrics.error"})
        else:
            for queue in QUEUE_ORDER:
                paused.add_metric([queue.value], int(queue.value in paused_now))
            yield paused
        per_priority = get_settings().broker_family == "redis"
        for depth in depths:
            if not per_priority:
                family.add_metric([depth.name, "all"], depth.depth)
                continue
            for priority in range(MIN_PRIORITY, MAX_PRIORITY + 1):
                family.add_metric([depth.name, str(priority)], depth.by_priority.get(priority, 0))
        yield family


class JobStatusCollector(Collector):
    """``taskyard_jobs{status}``: job records per open status, and dead letters."""

    def collect(self) -> Iterator[GaugeMetricFamily]:
        family = GaugeMetricFamily(
            "taskyard_jobs", "Job records in each open status, and dead letters.", labels=["status"]
        )
        query = (
            select(Job.status, func.count())
            .where(Job.status.in_(COUNTED_STATUSES))
            .group_by(Job.status)
        )
        try:
            with session_scope() as session:
                counts: dict[str, int] = {status: n for status, n in session.execute(query)}
        except Exception:  # a scrape must not fail because the store is down
            log.warning("job counts unavailable", exc_info=True, extra={"action": "metrics.error"})
            return
        for status in COUNTED_STATUSES:
            family.add_metric([status], counts.get(status, 0))
        yield family


class QueueAgeCollector(Collector):
    """``taskyard_queue_oldest_age_seconds{queue}``: how long the oldest queued job has waited
    since it became due (enqueue, or the end of its delay or backoff), as the queue wait does."""

    def collect(self) -> Iterator[GaugeMetricFamily]:
        family = GaugeMetricFamily(
            "taskyard_queue_oldest_age_seconds",
            "Seconds the oldest queued job of each queue has waited since it became due (0: none).",
            labels=["queue"],
        )
        try:
            ages = oldest_queued_ages()
        except Exception:  # a scrape must not fail because the store is down
            log.warning("queue ages unavailable", exc_info=True, extra={"action": "metrics.error"})
            return
        for queue in QUEUE_ORDER:
            family.add_metric([queue.value], ages[queue.value])
        yield family
