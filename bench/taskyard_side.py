"""Taskyard under test: its own workers (``celery -A workers.app``), its producer, its records.

Binding this process to the run's services rewrites ``TASKYARD_*`` in its environment and
reconfigures the Celery app before anything has connected anywhere."""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from bench.stack import TASKYARD_DB, BenchError, Services
from bench.system import CHUNK, Job, Sent, Span, System, SystemName, poll, purge_keeping_bindings
from tasks.jobs.producer import JobRequest, enqueue, enqueue_many
from workers.app import app, configure
from workers.priorities import REDIS_PRIORITY_STEPS
from workers.settings import get_settings
from workers.store.engine import dispose_engines, get_engine
from workers.store.migrate import upgrade
from workers.store.models import Job as JobRecord
from workers.store.models import JobStatus


def _request(job: Job, queue: str) -> JobRequest:
    if job.kind == "sleep":
        return JobRequest("diag.sleep", {"ms": job.ms}, queue=queue)
    return JobRequest("diag.noop", queue=queue)


def _epoch(moment: datetime | None) -> float | None:
    return moment.timestamp() if moment is not None else None


class RecordObserver:
    """Start and finish times from the job records (what the workers wrote)."""

    def spans(self, ids: Sequence[str], timeout: float, finished: bool = True) -> dict[str, Span]:
        """Spans of ``ids`` once every record has started (and finished, if asked)."""
        keys = [uuid.UUID(i) for i in ids]
        query = sa.select(JobRecord.id, JobRecord.started_at, JobRecord.finished_at).where(
            JobRecord.id.in_(keys)
        )
        found: dict[str, Span] = {}

        def complete() -> bool:
            with get_engine().connect() as connection:
                rows = connection.execute(query).all()
            found.clear()
            found.update({str(r[0]): Span(_epoch(r[1]), _epoch(r[2])) for r in rows})
            column = "finish" if finished else "start"
            return len(found) == len(keys) and all(
                getattr(span, column) is not None for span in found.values()
            )

        poll(complete, f"{len(keys)} Taskyard records", timeout, interval=0.05)
        return found


class TaskyardSystem(System):
    """Taskyard on Redis database ``TASKYARD_DB`` and the run's PostgreSQL store, with its
    speedups (``workers/speedups/``) or, as :meth:`plain`, without."""

    name: SystemName = "taskyard"
    label = "Taskyard"
    worker_app = "workers.app"

    def __init__(self, services: Services, *, speedups: bool = True) -> None:
        super().__init__(services)
        self.env = {
            "TASKYARD_BROKER_URL": services.redis.url(TASKYARD_DB),
            "TASKYARD_DATABASE_URL": services.database_url,
            "TASKYARD_LOG_FORMAT": "json",
            "TASKYARD_LOG_LEVEL": "INFO",
            "TASKYARD_ENVIRONMENT": "bench",
            "TASKYARD_SPEEDUPS": "on" if speedups else "off",
            # Notification channels may send to the bench's sink on loopback (workload 7).
            "TASKYARD_OUTBOUND_ALLOW": "127.0.0.0/8",
        }
        self.redis = services.redis.client(TASKYARD_DB)
        if speedups:
            self._bind()
        else:
            self.name, self.label = "plain", "Taskyard, speedups off"

    def plain(self) -> TaskyardSystem:
        """The same Taskyard with ``TASKYARD_SPEEDUPS=off`` in the processes it starts (workers,
        the API). This process stays bound to the speedups-on side, so what it enqueues itself
        (filling a queue before a drain) goes through the speedups' publish; the messages are
        the ones ``send_task`` would store (``tests/integration/test_publisher.py``)."""
        return TaskyardSystem(self.services, speedups=False)

    def _bind(self) -> None:
        os.environ.update(self.env)
        get_settings.cache_clear()
        settings = get_settings()
        if settings.broker_url != self.env["TASKYARD_BROKER_URL"]:
            raise RuntimeError("Taskyard settings did not pick up the bench's broker")
        configure(app, settings)
        dispose_engines()
        upgrade(settings.database_url)

    def celery_settings(self) -> dict[str, Any]:
        """The Celery settings Taskyard's app runs with (effective values, defaults included)."""
        return dict(app.conf)

    def close(self) -> None:
        """Drop this process's pooled broker and store connections."""
        app.close()
        dispose_engines()

    def reset(self) -> None:
        """Empty the queues and the store's job records, notifications and deliveries."""
        purge_keeping_bindings(self.redis)
        with get_engine().begin() as connection:
            connection.execute(sa.text("TRUNCATE jobs, notifications CASCADE"))

    def publish(self, job: Job, count: int, queue: str) -> None:
        """Enqueue ``count`` jobs through the producer, a batch of records and messages at once."""
        request = _request(job, queue)
        for start in range(0, count, CHUNK):
            enqueue_many([request] * min(CHUNK, count - start))

    def send_one(self, job: Job, queue: str) -> Sent:
        """Enqueue one job (record, then message), as the API does."""
        at = time.time()
        record = enqueue(_request(job, queue))
        return Sent(str(record.id), at)

    def worker_env(self, priority: bool) -> dict[str, str]:
        """Its ``TASKYARD_*`` settings (``priority`` is moot: Taskyard always orders queues
        strictly)."""
        return self.env

    def queue_keys(self, queue: str) -> list[str]:
        """Taskyard's ten priority lists of ``queue`` (``sep=':'``)."""
        return [f"{queue}:{step}" if step else queue for step in REDIS_PRIORITY_STEPS]

    @contextmanager
    def observe(self, routing_key: str = "task.#") -> Iterator[RecordObserver]:
        """The job records are always there: nothing to start (``routing_key`` is moot)."""
        yield RecordObserver()

    def succeeded(self) -> int:
        """How many job records say ``succeeded``."""
        query = sa.select(sa.func.count()).where(JobRecord.status == JobStatus.SUCCEEDED.value)
        with get_engine().connect() as connection:
            return int(connection.execute(query).scalar_one())

    def record_window(self) -> float:
        """Seconds from the first recorded start to the last recorded finish."""
        query = sa.select(sa.func.min(JobRecord.started_at), sa.func.max(JobRecord.finished_at))
        with get_engine().connect() as connection:
            first, last = connection.execute(query).one()
        if first is None or last is None:
            raise BenchError("no job has both started and finished")
        return float((last - first).total_seconds())
