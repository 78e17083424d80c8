"""Schedule entries: list, create, read, edit (pause, resume) and remove; beat applies every
change on its next tick, without a restart. Schedule errors (422 invalid, 404 unknown, 409
taken or static) are answered by the one table in ``workers/errors.py``."""

from __future__ import annotations

from fastapi import APIRouter

from api.auth import ReadKey, reader
from api.resource_routes import ResourceRoutes
from api.schedule_schemas import ScheduleIn, ScheduleList, ScheduleOut, SchedulePatch
from api.schemas import error_responses
from schedules import store
from schedules.errors import ScheduleNotFound

router = APIRouter(prefix="/v1/schedules", tags=["schedules"])


@router.get("", summary="List schedules", responses=error_responses(401, 403, 503))
def list_schedules(key: ReadKey) -> ScheduleList:
    """Every entry (static ones first) with its last run, next run and when it fires in words."""
    return ScheduleList(items=[ScheduleOut.from_record(r) for r in store.list_schedules()])


schedules = ResourceRoutes(router, "schedule", ScheduleNotFound, ScheduleOut, read=reader)
schedules.add_create(
    "Create a schedule",
    """Add a dynamic entry; beat fires it from its first slot after now. 422 `invalid_schedule`
    for an unknown task, a bad cron expression, time zone or payload; 409 when the name is
    taken. Needs `admin`.""",
    ScheduleIn,
    lambda body: store.create_schedule(body.to_spec()),
)
schedules.add_get("Get a schedule", "One entry.", store.get_schedule)
schedules.add_update(
    "Edit, pause or resume a schedule",
    """Change the fields sent. `{"paused": true}` pauses, `{"paused": false}` resumes from the
    next slot (paused slots are not caught up). A static entry only pauses or resumes (409
    otherwise). Needs `admin`.""",
    SchedulePatch,
    store.update_schedule,
    409,
)
schedules.add_delete(
    "Remove a schedule",
    """Remove a dynamic entry and its fire history; 409 for a static entry (pause it
    instead). Needs `admin`.""",
    store.delete_schedule,
    409,
)
