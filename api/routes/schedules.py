"""Schedule entries: list, create, read, edit (pause, resume) and remove; beat applies every
change on its next tick, without a restart. Schedule errors (422 invalid, 404 unknown, 409
taken or static) are answered by the one table in ``api/errors.py``."""

from __future__ import annotations

import uuid
from dataclasses import replace

from fastapi import APIRouter, Response

from api.auth import AdminKey, QueueAdminKey, ReadKey, check_queue
from api.resources import non_null, path_id
from api.schedule_schemas import NOT_NULL, ScheduleIn, ScheduleList, ScheduleOut, SchedulePatch
from api.schemas import error_responses
from schedules import store
from schedules.entries import ScheduleSpec
from schedules.errors import ScheduleNotFound
from workers.store.models import ApiKey

router = APIRouter(prefix="/v1/schedules", tags=["schedules"])


def _schedule_id(schedule_id: str) -> uuid.UUID:
    return path_id(schedule_id, "schedule", ScheduleNotFound.code)


def _check_destination(key: ApiKey, spec: ScheduleSpec) -> ScheduleSpec:
    """``spec`` when ``key`` may have its runs put on their queue at their priority, else 403."""
    check_queue(key, *spec.destination())
    return spec


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
def create_schedule(body: ScheduleIn, key: QueueAdminKey) -> ScheduleOut:
    """Add a dynamic entry; beat fires it from its first slot after now. 422 `invalid_schedule`
    for an unknown task, a bad cron expression, time zone or payload; 409 when the name is
    taken. Needs `admin`, and the scopes for the queue and priority its runs go to when the key
    is limited to queues or a priority (403 naming the scope)."""
    spec = _check_destination(key, body.to_spec())
    return ScheduleOut.from_record(store.create_schedule(spec))


@router.get("/{schedule_id}", summary="Get a schedule", responses=error_responses(401, 403, 404))
def get_schedule(schedule_id: str, key: ReadKey) -> ScheduleOut:
    """One entry."""
    return ScheduleOut.from_record(store.get_schedule(_schedule_id(schedule_id)))


@router.patch(
    "/{schedule_id}",
    summary="Edit, pause or resume a schedule",
    responses=error_responses(401, 403, 404, 409, 422, 503),
)
def update_schedule(schedule_id: str, body: SchedulePatch, key: QueueAdminKey) -> ScheduleOut:
    """Change the fields sent. `{"paused": true}` pauses, `{"paused": false}` resumes from the
    next slot (paused slots are not caught up). A static entry only pauses or resumes (409
    otherwise). Needs `admin`, and the scopes for where its runs then go (as for a new one)."""
    changes = non_null(body.changes(), NOT_NULL)
    moved = {name: changes[name] for name in ("task", "queue", "priority") if name in changes}
    if moved:
        spec = store.spec_of(store.get_schedule(_schedule_id(schedule_id)))
        _check_destination(key, replace(spec, **moved))
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
