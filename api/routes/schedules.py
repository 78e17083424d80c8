"""Schedule entries: list, create, read, edit (pause, resume) and remove; beat applies every
change on its next tick, without a restart."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from fastapi import APIRouter, Response

from api.auth import AdminKey, ReadKey
from api.errors import ApiProblem
from api.schedule_schemas import NOT_NULL, ScheduleIn, ScheduleList, ScheduleOut, SchedulePatch
from api.schemas import error_responses
from schedules import store
from schedules.errors import InvalidSchedule, ScheduleConflict, ScheduleNotFound

router = APIRouter(prefix="/v1/schedules", tags=["schedules"])

_STATUS = {InvalidSchedule: 422, ScheduleNotFound: 404, ScheduleConflict: 409}


@contextmanager
def _answered() -> Iterator[None]:
    """Schedule errors as API problems: 422 invalid, 404 unknown, 409 taken or static."""
    try:
        yield
    except (InvalidSchedule, ScheduleNotFound, ScheduleConflict) as error:
        status = _STATUS[type(error)]
        raise ApiProblem(status, error.code, error.message, error.details) from None


def _schedule_id(schedule_id: str) -> uuid.UUID:
    try:
        return uuid.UUID(schedule_id)
    except ValueError:
        message = f"no schedule with id {schedule_id!r}; schedule ids are UUIDs"
        raise ApiProblem(404, ScheduleNotFound.code, message) from None


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
    with _answered():
        return ScheduleOut.from_record(store.create_schedule(body.to_spec()))


@router.get("/{schedule_id}", summary="Get a schedule", responses=error_responses(401, 403, 404))
def get_schedule(schedule_id: str, key: ReadKey) -> ScheduleOut:
    """One entry."""
    with _answered():
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
    changes = body.changes()
    for name in NOT_NULL:
        if name in changes and changes[name] is None:
            details = [{"field": f"body.{name}", "message": "must not be null"}]
            raise ApiProblem(422, "validation_error", f"body.{name} must not be null", details)
    with _answered():
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
    with _answered():
        store.delete_schedule(_schedule_id(schedule_id))
    return Response(status_code=204)
