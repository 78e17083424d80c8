"""The registry of maintenance tasks. Data only: beat, the API and the CLI read it without
loading the implementations or the Celery app.

Each row is one task ``maintenance.<name>``, implemented by function ``<name>`` (and its
Celery task) in module ``tasks.maintenance.<name>``. Everything else is derived from
:data:`MAINTENANCE`: the Celery app loads ``tasks.maintenance.tasks``, which imports every
module named here; ``taskyard maintenance run`` finds its runner with :func:`runner`;
``schedules.catalog`` turns each default schedule into a static entry; and a schedule that
names a maintenance task is checked against the task's ``arguments`` when it is saved.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from importlib import import_module
from typing import TYPE_CHECKING, cast

from pydantic import BaseModel, ConfigDict, Field

from tasks.alerts import TICK_S
from workers.store.models import MissedRunPolicy

if TYPE_CHECKING:
    from tasks.maintenance.runs import RunResult

PREFIX = "maintenance."
HOUR = 3600


class Arguments(BaseModel):
    """A maintenance task's keyword arguments: strict types, nothing undeclared; an argument
    left out (or ``null``) takes the task's own default."""

    model_config = ConfigDict(extra="forbid", strict=True)


class NoArguments(Arguments):
    """The task takes no arguments."""


class PurgeArguments(Arguments):
    """``maintenance.purge``."""

    batch_size: int | None = Field(
        default=None, ge=1, le=100_000, description="Rows per batch; TASKYARD_PURGE_BATCH_SIZE."
    )


class BackupArguments(Arguments):
    """``maintenance.backup``."""

    keep: int | None = Field(
        default=None, ge=1, le=10_000, description="Backups rotation keeps; TASKYARD_BACKUP_KEEP."
    )


class RedisHygieneArguments(Arguments):
    """``maintenance.redis_hygiene``."""

    scan_count: int | None = Field(
        default=None, ge=1, le=100_000, description="SCAN's COUNT hint (500 when unset)."
    )


@dataclass(frozen=True)
class DefaultSchedule:
    """When beat runs the task (a static entry, UTC): a cron expression or an interval."""

    expires_s: int
    cron: str | None = None
    interval_s: int | None = None
    missed: MissedRunPolicy = MissedRunPolicy.SKIP
    priority: int | None = None


@dataclass(frozen=True)
class MaintenanceTask:
    """One maintenance task: its name, what it does, its arguments and its default schedule."""

    name: str
    summary: str
    schedule: DefaultSchedule
    arguments: type[Arguments] = NoArguments

    @property
    def task(self) -> str:
        """The Celery task name, as schedules name it: ``maintenance.<name>``."""
        return f"{PREFIX}{self.name}"

    @property
    def module(self) -> str:
        """The module implementing it (named as a string: this registry imports none)."""
        return f"tasks.maintenance.{self.name}"


#: Nightly tasks: a run missed during downtime happens once when beat is back.
CATCH_UP = MissedRunPolicy.CATCH_UP

MAINTENANCE: tuple[MaintenanceTask, ...] = (
    MaintenanceTask(
        "purge",
        "Delete finished records past their retention, in bounded batches.",
        DefaultSchedule(6 * HOUR, cron="15 3 * * *", missed=CATCH_UP),
        PurgeArguments,
    ),
    MaintenanceTask(
        "vacuum",
        "VACUUM (ANALYZE) on PostgreSQL; VACUUM and PRAGMA optimize on SQLite.",
        DefaultSchedule(6 * HOUR, cron="45 3 * * *", missed=CATCH_UP),
    ),
    MaintenanceTask(
        "backup",
        "Back up the store (pg_dump or the SQLite backup API), verify, rotate.",
        DefaultSchedule(6 * HOUR, cron="30 2 * * *", missed=CATCH_UP),
        BackupArguments,
    ),
    MaintenanceTask(
        "redis_hygiene",
        "Remove orphaned lock, semaphore and rate-limit keys; report Redis memory.",
        DefaultSchedule(cron="*/10 * * * *", expires_s=5 * 60),
        RedisHygieneArguments,
    ),
    MaintenanceTask(
        "canary",
        "A diag.noop through each queue; records its end-to-end latency.",
        DefaultSchedule(cron="* * * * *", expires_s=55),
    ),
    MaintenanceTask(
        "notify_sweep",
        "Turn events into subscriptions' notifications; fail deliveries their job left.",
        DefaultSchedule(interval_s=10, expires_s=9),
    ),
    MaintenanceTask(
        "alerts",
        "Evaluate the alert rules whose slot is due; send their FIRING and RESOLVED notices.",
        DefaultSchedule(interval_s=TICK_S, expires_s=TICK_S),
    ),
)

#: Every maintenance task by the name ``taskyard maintenance run`` takes.
NAMES = tuple(task.name for task in MAINTENANCE)
_BY_TASK = {task.task: task for task in MAINTENANCE}


def find(task: str) -> MaintenanceTask | None:
    """The maintenance task a schedule names (``maintenance.<name>``), or ``None``."""
    return _BY_TASK.get(task)


def runner(name: str) -> Callable[[], RunResult]:
    """Task ``name``'s plain function (it loads the implementation and the Celery app)."""
    task = _BY_TASK[f"{PREFIX}{name}"]
    return cast("Callable[[], RunResult]", getattr(import_module(task.module), task.name))
