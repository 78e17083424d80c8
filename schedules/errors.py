"""What can go wrong with a schedule entry (the API maps these to 422, 404 and 409)."""

from __future__ import annotations

from workers.errors import TaskyardError


class InvalidSchedule(TaskyardError):
    """A schedule entry does not validate (task, cron, time zone, interval, payload...)."""

    code = "invalid_schedule"


class ScheduleNotFound(TaskyardError):
    """No schedule entry has that id or name."""

    code = "schedule_not_found"


class ScheduleConflict(TaskyardError):
    """The name is taken, or the entry is static and the change is not allowed."""

    code = "schedule_conflict"
