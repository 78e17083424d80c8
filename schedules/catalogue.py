"""The static schedule entries, as data: beat syncs them into the store at start.

Each names its task by string (implemented in ``tasks/maintenance``), carries its time zone
and an ``expires`` so a run that could not start in time is dropped rather than piled up.
An operator may pause a static entry (``taskyard schedules pause NAME``); nothing else about
it changes outside this file.
"""

from __future__ import annotations

from schedules.entries import Timing
from schedules.spec import ScheduleSpec
from workers.queues import QueueName
from workers.store.models import MissedRunPolicy

HOUR = 3600
DEFAULT = QueueName.DEFAULT.value

STATIC_ENTRIES: tuple[ScheduleSpec, ...] = (
    ScheduleSpec(
        name="maintenance.backup",
        task="maintenance.backup",
        timing=Timing(cron="30 2 * * *", timezone="UTC"),
        queue=DEFAULT,
        expires_s=6 * HOUR,
        missed=MissedRunPolicy.CATCH_UP,
        description="Back up the store (pg_dump or the SQLite backup API), verify, rotate.",
    ),
    ScheduleSpec(
        name="maintenance.purge",
        task="maintenance.purge",
        timing=Timing(cron="15 3 * * *", timezone="UTC"),
        queue=DEFAULT,
        expires_s=6 * HOUR,
        missed=MissedRunPolicy.CATCH_UP,
        description="Delete finished records past their retention, in bounded batches.",
    ),
    ScheduleSpec(
        name="maintenance.vacuum",
        task="maintenance.vacuum",
        timing=Timing(cron="45 3 * * *", timezone="UTC"),
        queue=DEFAULT,
        expires_s=6 * HOUR,
        missed=MissedRunPolicy.CATCH_UP,
        description="VACUUM (ANALYZE) on PostgreSQL; VACUUM and PRAGMA optimize on SQLite.",
    ),
    ScheduleSpec(
        name="maintenance.redis_hygiene",
        task="maintenance.redis_hygiene",
        timing=Timing(cron="*/10 * * * *", timezone="UTC"),
        queue=DEFAULT,
        expires_s=5 * 60,
        description="Remove orphaned lock, semaphore and rate-limit keys; report Redis memory.",
    ),
    ScheduleSpec(
        name="maintenance.canary",
        task="maintenance.canary",
        timing=Timing(cron="* * * * *", timezone="UTC"),
        queue=DEFAULT,
        expires_s=55,
        description="A diag.noop through each queue; records its end-to-end latency.",
    ),
)
