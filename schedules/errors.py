"""What can go wrong with a schedule entry (kinds of ``workers.errors``: 422, 404 and 409 in the
API)."""

from __future__ import annotations

from workers.errors import Conflict, Invalid, NotFound


class InvalidSchedule(Invalid):
    """A schedule entry does not validate (task, cron, time zone, interval, payload...)."""

    code = "invalid_schedule"


class ScheduleNotFound(NotFound):
    """No schedule entry has that id or name."""

    code = "schedule_not_found"


class ScheduleConflict(Conflict):
    """The name is taken, or the entry is static and the change is not allowed."""

    code = "schedule_conflict"
