"""Schedule entries: list, create, read, edit (pause, resume) and remove; beat applies every
change on its next tick, without a restart. Schedule errors (422 invalid, 404 unknown, 409
taken or static) are answered by the one table in ``api/errors.py``."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Response

from api.auth import AdminKey, ReadKey
from api.resources import non_null, path_id
from api.schedule_schemas import NOT_NULL, ScheduleIn, ScheduleList, ScheduleOut, SchedulePatch
from api.schemas import error_responses
from schedules import store
from schedules.errors import ScheduleNotFound

router = APIRouter(prefix="/v1/schedules", tags=["schedules"])


def _schedule_id(schedule_id: str) -> uuid.UUID:
    return path_id(schedule_id, "schedule", ScheduleNotFound.code)


@router.get("", summary="List schedules", responses=error_responses(401, 403, 503))
def list_schedules(key: ReadKey) -> ScheduleList:
    """Every entry (static ones first) with its last run, next run and when it fires in words."""
    return ScheduleList(items=[ScheduleOut.from_record(r) for r in store.list_schedules()])


@router.post(
    "",
    status_code=201,
    summary="Create a schedule",
    responses=error_responses(401, 403, 409, 422, 503),
)
def create_schedule(body: ScheduleIn, key: AdminKey) -> ScheduleOut:
    """Add a dynamic entry; beat fires it from its first slot after now. 422 `invalid_schedule`
    for an unknown task, a bad cron expression, time zone or payload; 409 when the name is
    taken. Needs `admin`."""
    return ScheduleOut.from_record(store.create_schedule(body.to_spec()))


@router.get("/{schedule_id}", summary="Get a schedule", responses=error_responses(401, 403, 404))
def get_schedule(schedule_id: str, key: ReadKey) -> ScheduleOut:
    """One entry."""
    return ScheduleOut.from_record(store.get_schedule(_schedule_id(schedule_id)))


@router.patch(
    "/{schedule_id}",
    summary="Edit, pause or resume a schedule",
    responses=error_responses(401, 403, 404, 409, 422, 503),
)
def update_schedule(schedule_id: str, body: SchedulePatch, key: AdminKey) -> ScheduleOut:
    """Change the fields sent. `{"paused": true}` pauses, `{"paused": false}` resumes from the
    next slot (paused slots are not caught up). A static entry only pauses or resumes (409
    otherwise). Needs `admin`."""
    changes = non_null(body.changes(), NOT_NULL)
    return ScheduleOut.from_record(store.update_schedule(_schedule_id(schedule_id), changes))


@router.delete(
    "/{schedule_id}",
    status_code=204,
    summary="Remove a schedule",
    responses=error_responses(401, 403, 404, 409, 503),
)
def delete_schedule(schedule_id: str, key: AdminKey) -> Response:
    """Remove a dynamic entry and its fire history; 409 for a static entry (pause it
    instead). Needs `admin`."""
    store.delete_schedule(_schedule_id(schedule_id))
    return Response(status_code=204)
