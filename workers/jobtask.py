"""Registering job types as Celery tasks: ``@job_task(JOB_TYPE)`` over a plain function."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from billiard.einfo import ExceptionInfo
from billiard.exceptions import TimeLimitExceeded
from celery import Task

from workers.app import app
from workers.execution import JobFunction, record_hard_time_limit, run_attempt, run_sealed
from workers.jobtypes import JobType
from workers.queues import QueueName

#: A message's routing key is whatever its sender wrote (on Redis, a field of the envelope):
#: only one of these names reaches a log line or a metric label.
_QUEUES = frozenset(QueueName)


def queue_of(delivery_info: object) -> str:
    """The queue a message came through when its routing key names one of Taskyard's, else
    ``""`` (the job type's queue stands in)."""
    key = delivery_info.get("routing_key") if isinstance(delivery_info, dict) else None
    return key if isinstance(key, str) and key in _QUEUES else ""


class JobTask(Task):  # type: ignore[misc]
    """Base task of every job type; the attempt's life is in :mod:`workers.execution`."""

    abstract = True
    job_type: JobType

    def on_failure(
        self, exc: Exception, task_id: str, args: Any, kwargs: Any, einfo: ExceptionInfo
    ) -> None:
        # Errors raised by the job are recorded where they happen; only a hard time limit
        # kills the child first, so the pool's parent records it here.
        if isinstance(exc, TimeLimitExceeded):
            record_hard_time_limit(self.job_type, task_id, exc)


def job_task(job_type: JobType) -> Callable[[JobFunction], Task]:
    """Register ``fn(payload)`` or ``fn(payload, context)`` as the task behind ``job_type``."""

    def decorate(fn: JobFunction) -> Task:
        takes_context = len(inspect.signature(fn).parameters) >= 2

        def run(self: JobTask, payload: dict[str, Any]) -> Any:
            worker = self.request.hostname or "unknown"
            queue = queue_of(self.request.delivery_info)
            if job_type.sensitive:
                return run_sealed(job_type, fn, takes_context, self.request.id, worker, payload,
                                  queue)  # fmt: skip
            return run_attempt(job_type, fn, takes_context, self.request.id, worker, payload, queue)

        run.__doc__ = fn.__doc__
        return app.task(
            run,
            name=job_type.name,
            base=JobTask,
            bind=True,
            job_type=job_type,
            time_limit=job_type.time_limit_s,
            soft_time_limit=job_type.soft_time_limit_s,
            max_retries=0,
            typing=False,
        )

    return decorate
