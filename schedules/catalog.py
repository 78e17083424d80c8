"""The static schedule entries, as data: beat syncs them into the store at start.

Each maintenance task's default schedule (``tasks.maintenance.catalog``) becomes one entry,
named after its task, in UTC, with an ``expires`` so a run that could not start in time is
dropped rather than piled up. An operator may pause a static entry (``taskyard schedules
pause NAME``); nothing else about it changes outside the code.
"""

from __future__ import annotations

from schedules.entries import ScheduleSpec
from schedules.slots import Timing
from tasks.maintenance.catalog import MAINTENANCE, MaintenanceTask
from workers.queues import QueueName


def static_entry(task: MaintenanceTask) -> ScheduleSpec:
    """The static entry that runs ``task`` on its default schedule."""
    schedule = task.schedule
    return ScheduleSpec(
        name=task.task,
        task=task.task,
        timing=Timing(cron=schedule.cron, timezone="UTC", interval_s=schedule.interval_s),
        queue=QueueName.DEFAULT.value,
        priority=schedule.priority,
        expires_s=schedule.expires_s,
        missed=schedule.missed,
        description=task.summary,
    )


STATIC_ENTRIES: tuple[ScheduleSpec, ...] = tuple(static_entry(task) for task in MAINTENANCE)
