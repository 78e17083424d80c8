"""The platform events a subscription listens to, read from the store a page at a time, and
the message a subscription without a template sends for one.

Nothing records events apart: each is a row that already exists, found by the time it
happened (its *moment*), so every event has a stable id, and ``<event>:<row id>`` is the
idempotency key that makes its notification happen once.

- ``job.dead``, ``job.failed``, ``job.succeeded``: a job that finished so (internal types
  excluded); its moment is ``finished_at``; ``match`` is checked against its type;
- ``maintenance.failed``: a failed ``maintenance_runs`` row, at ``finished_at``; ``match``
  against the task's name (``purge``);
- ``schedule.missed``: a ``schedule_fires`` row of a slot that did not run on time, at
  ``fired_at``; ``match`` against the schedule's name.

Beat records no row for a slot its ``skip`` policy drops, so ``schedule.missed`` covers what
the store does record: a ``catch_up`` run fired for missed slots (fired more than
``TASKYARD_BEAT_GRACE_S`` after its slot), and a slot claimed without a run (a job-type fire
the producer refused, or a beat that died between claim and enqueue: no job id 30 s on).
A job's payload is never part of an event: it may hold secrets.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import ColumnElement, and_, or_, select, true

from tasks.jobs.catalog import CATALOG
from workers.settings import get_settings
from workers.store.engine import session_scope
from workers.store.models import Job, JobStatus, MaintenanceRun, Schedule, ScheduleFire

#: The most characters of an error message an event carries.
ERROR_CHARS = 1_000
#: A fire still without a job id this long after it was claimed never got its run.
UNLINKED_AFTER = timedelta(seconds=30)


class EventKind(StrEnum):
    """What a subscription listens to."""

    JOB_DEAD = "job.dead"
    JOB_FAILED = "job.failed"
    JOB_SUCCEEDED = "job.succeeded"
    MAINTENANCE_FAILED = "maintenance.failed"
    SCHEDULE_MISSED = "schedule.missed"

    @property
    def matches(self) -> str:
        """What a subscription's ``match`` glob is checked against, in words."""
        return _MATCHED[self.family]

    @property
    def family(self) -> str:
        """``job``, ``maintenance`` or ``schedule``."""
        return self.value.split(".", 1)[0]


_MATCHED = {"job": "job types", "maintenance": "maintenance task names",
            "schedule": "schedule names"}  # fmt: skip
_JOB_STATUS = {
    EventKind.JOB_DEAD: JobStatus.DEAD,
    EventKind.JOB_FAILED: JobStatus.FAILED,
    EventKind.JOB_SUCCEEDED: JobStatus.SUCCEEDED,
}


@dataclass(frozen=True)
class Event:
    """One event: its kind, the row it is, when it happened, the name a subscription's glob is
    matched against, and the data a template renders."""

    kind: EventKind
    row_id: str
    moment: datetime
    name: str
    data: dict[str, Any]

    @property
    def key(self) -> str:
        """The idempotency key of its notification (one per subscription and event)."""
        return f"{self.kind.value}:{self.row_id}"


#: Where a page stopped: the moment and id of the last row read.
Position = tuple[datetime, Any]


@dataclass(frozen=True)
class Page:
    """Events found in a page of rows, and where the next page starts (``None``: no rows)."""

    events: list[Event]
    rows: int
    last: Position | None


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat().replace("+00:00", "Z")


def _clip(text: str | None) -> str | None:
    return None if text is None else text[:ERROR_CHARS]


def internal_job_types() -> list[str]:
    """Job types Taskyard enqueues itself (``notify.deliver``): never an event, so a
    notification cannot notify about itself."""
    return sorted(t.name for t in CATALOG if t.internal is not None)


def job_event(kind: EventKind, job: Job) -> Event:
    """The event of a finished job (no payload, no result: they may hold secrets)."""
    data = {"event": kind.value, "job": {
        "id": str(job.id), "type": job.type, "queue": job.queue, "status": job.status,
        "attempts": job.attempts, "max_attempts": job.max_attempts,
        "error_type": job.error_type, "error_message": _clip(job.error_message),
        "finished_at": _iso(job.finished_at), "correlation_id": job.correlation_id,
    }}  # fmt: skip
    assert job.finished_at is not None
    return Event(kind, str(job.id), job.finished_at, job.type, data)


def run_event(run: MaintenanceRun) -> Event:
    """The event of a failed maintenance run."""
    data = {"event": EventKind.MAINTENANCE_FAILED.value, "run": {
        "id": str(run.id), "name": run.name, "task": f"maintenance.{run.name}",
        "started_at": _iso(run.started_at), "finished_at": _iso(run.finished_at),
        "error": _clip(run.error),
    }}  # fmt: skip
    assert run.finished_at is not None
    return Event(EventKind.MAINTENANCE_FAILED, str(run.id), run.finished_at, run.name, data)


def fire_event(fire: ScheduleFire, schedule: Schedule, reason: str) -> Event:
    """The event of a slot that did not run on time."""
    data = {"event": EventKind.SCHEDULE_MISSED.value, "schedule": {
        "name": schedule.name, "task": schedule.task, "planned_at": _iso(fire.planned_at),
        "fired_at": _iso(fire.fired_at), "job_id": fire.job_id, "reason": reason,
    }}  # fmt: skip
    return Event(EventKind.SCHEDULE_MISSED, str(fire.id), fire.fired_at, schedule.name, data)


def missed_reason(fire: ScheduleFire, end: datetime) -> str | None:
    """Why a fire is a missed slot, or ``None`` when it ran on time (or may still link)."""
    if fire.job_id is None and fire.fired_at < end - UNLINKED_AFTER:
        return "the slot was claimed but no run was enqueued (refused, or beat stopped)"
    late = (fire.fired_at - fire.planned_at).total_seconds()
    if late > get_settings().beat_grace_s:
        return f"slots were missed; one catch-up run fired {round(late)} s after its slot"
    return None


def _after(moment: Any, row_id: Any, last: Position | None) -> ColumnElement[bool]:
    if last is None:
        return true()
    at, key = last
    return or_(moment > at, and_(moment == at, row_id > key))


def _rows(query: Any, moment: Any, row_id: Any, start: datetime, end: datetime,
          last: Position | None, limit: int) -> Sequence[Any]:  # fmt: skip
    """Rows of ``query`` (a select) whose moment is in the window, after ``last``."""
    query = query.where(moment >= start, moment < end, _after(moment, row_id, last))
    with session_scope() as session:
        return session.execute(query.order_by(moment, row_id).limit(limit)).all()


def _page(rows: Sequence[Any], events: list[Event], at: Callable[[Any], Position]) -> Page:
    return Page(events, len(rows), at(rows[-1]) if rows else None)


def read_page(
    kind: EventKind, start: datetime, end: datetime, last: Position | None, limit: int
) -> Page:
    """Up to ``limit`` rows of ``kind`` whose moment is in ``[start, end)`` after ``last``,
    oldest first, and the events among them."""
    if kind in _JOB_STATUS:
        status = _JOB_STATUS[kind].value
        query = select(Job).where(Job.status == status, Job.type.not_in(internal_job_types()))
        rows = _rows(query, Job.finished_at, Job.id, start, end, last, limit)
        events = [job_event(kind, job) for (job,) in rows]
        return _page(rows, events, lambda row: (row[0].finished_at, row[0].id))
    if kind is EventKind.MAINTENANCE_FAILED:
        runs = select(MaintenanceRun).where(MaintenanceRun.outcome == "failed")
        rows = _rows(runs, MaintenanceRun.finished_at, MaintenanceRun.id, start, end, last,
                     limit)  # fmt: skip
        return _page(rows, [run_event(run) for (run,) in rows],
                     lambda row: (row[0].finished_at, row[0].id))  # fmt: skip
    fires = select(ScheduleFire, Schedule).join(Schedule, Schedule.id == ScheduleFire.schedule_id)
    rows = _rows(fires, ScheduleFire.fired_at, ScheduleFire.id, start, end, last, limit)
    events = []
    for fire, schedule in rows:
        reason = missed_reason(fire, end)
        if reason is not None:
            events.append(fire_event(fire, schedule, reason))
    return _page(rows, events, lambda row: (row[0].fired_at, row[0].id))


def sample(kind: EventKind) -> dict[str, Any]:
    """Data shaped as ``kind``'s events are, for checking a template when it is chosen."""
    moment, zero = datetime(2026, 1, 1, 12, 0, tzinfo=UTC), uuid.UUID(int=0)
    if kind.family == "job":
        job = Job(id=zero, type="diag.fail", queue="default", status=_JOB_STATUS[kind].value,
                  attempts=4, max_attempts=4, error_type="TransientDiagFailure",
                  error_message="boom", finished_at=moment, correlation_id=None)  # fmt: skip
        return job_event(kind, job).data
    if kind is EventKind.MAINTENANCE_FAILED:
        run = MaintenanceRun(id=zero, name="purge", started_at=moment, finished_at=moment,
                             outcome="failed", error="the store refused")  # fmt: skip
        return run_event(run).data
    fire = ScheduleFire(id=zero, planned_at=moment, fired_at=moment + timedelta(hours=1))
    schedule = Schedule(name="nightly-report", task="diag.noop")
    reason = "slots were missed; one catch-up run fired 3600 s after its slot"
    return fire_event(fire, schedule, reason).data


# -- the built-in message --------------------------------------------------------------------


def message(event: Event) -> tuple[str, str]:
    """The subject and text a subscription without a template sends for ``event``."""
    data = event.data
    if event.kind.family == "job":
        job = data["job"]
        words = JobStatus(job["status"]).in_words
        subject = f"job {job['type']} {job['id']} {words}"
        error = f"{job['error_type']}: {job['error_message']}" if job["error_type"] else "-"
        lines = [f"Job {job['id']} {words}.", "", f"type: {job['type']}",
                 f"queue: {job['queue']}", f"attempts: {job['attempts']} of {job['max_attempts']}",
                 f"error: {error}", f"finished: {job['finished_at']}"]  # fmt: skip
        return subject, "\n".join(lines)
    if event.kind is EventKind.MAINTENANCE_FAILED:
        run = data["run"]
        subject = f"maintenance {run['name']} failed"
        lines = [f"The maintenance run {run['task']} failed.", "", f"run: {run['id']}",
                 f"started: {run['started_at']}", f"finished: {run['finished_at']}",
                 f"error: {run['error']}"]  # fmt: skip
        return subject, "\n".join(lines)
    schedule = data["schedule"]
    subject = f"schedule {schedule['name']} missed its slot at {schedule['planned_at']}"
    lines = [f"Schedule {schedule['name']} ({schedule['task']}) did not run on time: "
             f"{schedule['reason']}.", "", f"slot: {schedule['planned_at']}",
             f"fired: {schedule['fired_at']}", f"job: {schedule['job_id'] or '-'}"]  # fmt: skip
    return subject, "\n".join(lines)
