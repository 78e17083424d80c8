"""``maintenance.purge``: delete records past their retention, in short batches.

Finished jobs by status (``TASKYARD_RETENTION_<STATUS>_DAYS``, counted from ``finished_at``),
schedule fires, maintenance runs and alert events past theirs (an event whose notice is still
owed stays), idempotency and unique keys past ``expires_at``, and finished deliveries past
``TASKYARD_RETENTION_DELIVERIES_DAYS`` (with the notifications left without one),
through :func:`tasks.notifications.deliveries.purge`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import ColumnElement, CursorResult, delete, select, tuple_
from sqlalchemy.orm import Session

from tasks.maintenance.runs import RunResult, maintenance_task, run_maintenance
from tasks.notifications import deliveries
from workers.settings import Settings, get_settings
from workers.store.engine import session_scope
from workers.store.models import (
    AlertEventRow,
    Base,
    IdempotencyKey,
    Job,
    JobStatus,
    MaintenanceRun,
    ScheduleFire,
    UniqueJob,
)
from workers.store.types import utcnow

NAME = "purge"
LOCK_TTL_S = 1800
TIME_LIMIT_S = 3600


def job_retention(settings: Settings) -> dict[JobStatus, timedelta]:
    """How long a finished job's record is kept, by its final status."""
    return {
        JobStatus.SUCCEEDED: timedelta(days=settings.retention_succeeded_days),
        JobStatus.FAILED: timedelta(days=settings.retention_failed_days),
        JobStatus.DEAD: timedelta(days=settings.retention_dead_days),
        JobStatus.CANCELLED: timedelta(days=settings.retention_cancelled_days),
    }


@dataclass(frozen=True)
class Expired:
    """Rows of ``model`` matching ``condition``, deleted by primary ``keys``, counted as
    ``figure``."""

    figure: str
    model: type[Base]
    keys: tuple[Any, ...]
    condition: ColumnElement[bool]


def expired(settings: Settings, now: datetime) -> list[Expired]:
    """Everything past its retention or expiry at ``now``."""
    targets = []
    for status, keep in job_retention(settings).items():
        cutoff = now - keep
        # created_at <= finished_at, so the (status, created_at) index bounds the scan.
        old = (Job.status == status.value) & (Job.created_at < cutoff) & (Job.finished_at < cutoff)
        targets.append(Expired(f"jobs_{status.value}", Job, (Job.id,), old))
    day = timedelta(days=1)
    fires_cutoff = now - settings.retention_fires_days * day
    runs_cutoff = now - settings.retention_maintenance_runs_days * day
    events_cutoff = now - settings.retention_alert_events_days * day
    settled = AlertEventRow.notice.is_(None) | AlertEventRow.notified_at.is_not(None)
    return [
        *targets,
        Expired("schedule_fires", ScheduleFire, (ScheduleFire.id,),
                ScheduleFire.fired_at < fires_cutoff),
        Expired("maintenance_runs", MaintenanceRun, (MaintenanceRun.id,),
                MaintenanceRun.started_at < runs_cutoff),
        Expired("alert_events", AlertEventRow, (AlertEventRow.id,),
                (AlertEventRow.created_at < events_cutoff) & settled),
        Expired("idempotency_keys", IdempotencyKey, (IdempotencyKey.scope, IdempotencyKey.key),
                IdempotencyKey.expires_at < now),
        Expired("unique_jobs", UniqueJob, (UniqueJob.type, UniqueJob.unique_key),
                UniqueJob.expires_at < now),
    ]  # fmt: skip


def _batch(session: Session, target: Expired, size: int) -> tuple[int, int]:
    """Delete up to ``size`` rows of ``target``; returns (rows found, rows deleted)."""
    single = len(target.keys) == 1
    found = session.execute(select(*target.keys).where(target.condition).limit(size)).all()
    if not found:
        return 0, 0
    key = target.keys[0] if single else tuple_(*target.keys)
    batch = [row[0] if single else tuple(row) for row in found]
    result = session.execute(delete(target.model).where(key.in_(batch), target.condition),
                             execution_options={"synchronize_session": False})  # fmt: skip
    return len(found), cast(CursorResult[Any], result).rowcount


def delete_in_batches(target: Expired, size: int, figures: dict[str, Any]) -> None:
    """Delete ``target``'s rows ``size`` at a time, each batch its own short transaction
    (never one long lock), counting them in ``figures`` as it goes."""
    figures.setdefault(target.figure, 0)
    while True:
        with session_scope() as session:
            found, deleted = _batch(session, target, size)
        figures[target.figure] += deleted
        figures["rows_deleted"] += deleted
        figures["batches"] += 1 if found else 0
        if found < size:
            return


def purge_deliveries(before: datetime, size: int, figures: dict[str, Any]) -> None:
    """Delete finished deliveries older than ``before``, ``size`` at a time, each batch its own
    transaction (in ``deliveries.py``, with every other write of a delivery)."""
    figures.setdefault("deliveries", 0)
    while True:
        deleted = deliveries.purge(before, size)
        figures["deliveries"] += deleted
        figures["rows_deleted"] += deleted
        figures["batches"] += 1 if deleted else 0
        if deleted < size:
            return


def purge_records(figures: dict[str, Any], batch_size: int | None = None) -> None:
    """Delete finished jobs, schedule fires, maintenance runs and deliveries past their
    retention, and idempotency and unique keys past their expiry; fill ``figures`` with rows
    deleted."""
    settings = get_settings()
    size = batch_size or settings.purge_batch_size
    now = utcnow()
    figures.update(rows_deleted=0, batches=0)
    for target in expired(settings, now):
        delete_in_batches(target, size, figures)
    purge_deliveries(now - timedelta(days=settings.retention_deliveries_days), size, figures)


def purge(batch_size: int | None = None) -> RunResult:
    """Run and record one purge (``batch_size`` defaults to ``TASKYARD_PURGE_BATCH_SIZE``)."""
    return run_maintenance(NAME, lambda figures: purge_records(figures, batch_size),
                           lock_ttl_s=LOCK_TTL_S)  # fmt: skip


@maintenance_task(NAME, TIME_LIMIT_S)
def purge_task(batch_size: int | None = None) -> dict[str, Any]:
    """Purge records past retention in short batches; idempotent; no retry (the next run is)."""
    return purge(batch_size).reported()
