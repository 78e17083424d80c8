"""Firing one slot: claim it in the store first, then enqueue, then check in to Sentry.

Job types go through the producer (a job record like any other); internal ``maintenance.*``
tasks go straight to the broker with ``expires``. The claim comes first, so two beats can
never both enqueue a slot; a beat killed between claim and enqueue loses that one slot (a
fire without a job id), never doubles it.
"""

from __future__ import annotations

import logging
import uuid
from datetime import datetime
from enum import StrEnum

from celery import Celery
from kombu.exceptions import OperationalError
from redis.exceptions import RedisError
from sqlalchemy.exc import SQLAlchemyError

from schedules import monitors, store
from schedules.entries import check_args, routed_queue
from schedules.slots import default_expires_s
from tasks.jobs.catalog import CATALOG
from tasks.jobs.producer import JobRequest, submit
from workers.errors import BrokerUnavailable, StoreUnavailable, TaskyardError
from workers.priorities import to_broker
from workers.settings import get_settings
from workers.store.models import Schedule

log = logging.getLogger(__name__)

#: Errors after which the same slot may succeed on a later tick.
TRANSIENT = (BrokerUnavailable, StoreUnavailable, OperationalError, RedisError, OSError)
#: Message headers naming the schedule and slot a run came from.
SCHEDULE_HEADER = "taskyard_schedule"
PLANNED_HEADER = "taskyard_planned_at"
#: A job type's run carries ``schedule:<name>`` as its correlation id (the column's width).
CORRELATION_MAX = 64


class FireOutcome(StrEnum):
    """What became of one slot."""

    FIRED = "fired"
    TAKEN = "taken"  # another beat claimed it first
    RETRY = "retry"  # the enqueue failed transiently; the claim was released
    REJECTED = "rejected"  # the enqueue failed for good (e.g. the payload no longer validates)


def internal_queue(schedule: Schedule) -> str:
    """The queue of an internal task: the entry's, else its name prefix's route."""
    return schedule.queue or routed_queue(schedule.task)


def _send_internal(app: Celery, schedule: Schedule, planned_at: datetime, job_id: str) -> None:
    options = {}
    if schedule.priority is not None:
        options["priority"] = to_broker(schedule.priority, get_settings().broker_family)
    queue = internal_queue(schedule)
    expires = schedule.expires_s or default_expires_s(store.timing_of(schedule), planned_at)
    # The arguments are checked again: a row saved before its task declared them must be
    # refused here, not fail with a TypeError in the worker on every slot.
    app.send_task(
        schedule.task,
        kwargs=check_args(schedule.task, dict(schedule.args)),
        task_id=job_id,
        queue=queue,
        routing_key=queue,
        expires=expires,
        ignore_result=True,
        headers={SCHEDULE_HEADER: schedule.name, PLANNED_HEADER: planned_at.isoformat()},
        retry_policy={"max_retries": 2, "interval_start": 0.2, "interval_step": 0.5},
        **options,
    )


def _enqueue(app: Celery, schedule: Schedule, planned_at: datetime, job_id: str | None) -> str:
    if job_id is not None:
        _send_internal(app, schedule, planned_at, job_id)
        return job_id
    request = JobRequest(schedule.task, dict(schedule.args), schedule.queue, schedule.priority)
    correlation_id = f"schedule:{schedule.name}"[:CORRELATION_MAX]
    return str(submit(request, correlation_id=correlation_id).job.id)


def _link(schedule: Schedule, planned_at: datetime, job_id: str) -> None:
    try:
        store.attach_job(schedule.id, planned_at, job_id)
    except (StoreUnavailable, SQLAlchemyError) as error:
        # The job is enqueued: only the fire's link to it is lost, so no retry.
        log.warning(
            "fired %s but could not record its job id %s: %s",
            schedule.name,
            job_id,
            error,
            extra={"action": "beat.fire_unlinked", "schedule": schedule.name},
        )


def fire(app: Celery, schedule: Schedule, planned_at: datetime, beat: str) -> FireOutcome:
    """Claim slot ``planned_at`` of ``schedule`` and enqueue its run."""
    # Internal tasks get their id up front; the producer assigns a job type's.
    job_id = None if schedule.task in CATALOG else str(uuid.uuid4())
    if not store.record_fire(schedule, planned_at, job_id, beat):
        log.info(
            "slot of %s at %s was fired by another beat",
            schedule.name,
            planned_at,
            extra={"action": "beat.slot_taken", "schedule": schedule.name},
        )
        return FireOutcome.TAKEN
    extra = {"schedule": schedule.name, "task": schedule.task, "planned_at": planned_at.isoformat()}
    try:
        enqueued = _enqueue(app, schedule, planned_at, job_id)
    except TRANSIENT as error:
        store.release_fire(schedule.id, planned_at)
        log.warning(
            "could not enqueue %s, retrying next tick: %s",
            schedule.name,
            error,
            extra={"action": "beat.fire_failed", **extra},
        )
        monitors.report_fire(schedule, ok=False)
        return FireOutcome.RETRY
    except TaskyardError as error:
        log.error(
            "schedule %s was refused: %s",
            schedule.name,
            error.message,
            extra={"action": "beat.fire_rejected", "code": error.code, **extra},
        )
        monitors.report_fire(schedule, ok=False)
        return FireOutcome.REJECTED
    if job_id is None:
        _link(schedule, planned_at, enqueued)
    log.info(
        "fired %s (%s) for %s",
        schedule.name,
        schedule.task,
        planned_at.isoformat(),
        extra={"action": "beat.fired", "job_id": enqueued, **extra},
    )
    monitors.report_fire(schedule, ok=True)
    return FireOutcome.FIRED
