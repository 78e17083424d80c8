"""Schedule entries: list, create, read, edit (pause, resume) and remove; beat applies every
change on its next tick, without a restart. Schedule errors (422 invalid, 404 unknown, 409
taken or static) are answered by the one table in ``workers/errors.py``."""

from __future__ import annotations

import uuid
from dataclasses import replace
from typing import Any

from fastapi import APIRouter

from api.auth import ReadKey, check_queue, queue_admin, reader
from api.resource_routes import ResourceRoutes
from api.schedule_schemas import ScheduleIn, ScheduleList, ScheduleOut, SchedulePatch
from api.schemas import error_responses
from schedules import store
from schedules.entries import ScheduleSpec
from schedules.errors import ScheduleNotFound
from workers.store.models import ApiKey

router = APIRouter(prefix="/v1/schedules", tags=["schedules"])


def _check_destination(key: ApiKey, spec: ScheduleSpec) -> None:
    """403 unless ``key`` may have the entry's runs put on their queue at their priority."""
    check_queue(key, *spec.destination())


def _check_new(key: ApiKey, body: ScheduleIn) -> None:
    _check_destination(key, body.to_spec())


def _check_changes(key: ApiKey, schedule_id: uuid.UUID, changes: dict[str, Any]) -> None:
    """Where the entry's runs go once ``changes`` are made, when they move them, checked."""
    moved = {name: changes[name] for name in ("task", "queue", "priority") if name in changes}
    if moved:
        spec = store.spec_of(store.get_schedule(schedule_id))
        _check_destination(key, replace(spec, **moved))


@router.get("", summary="List schedules", responses=error_responses(401, 403, 503))
def list_schedules(key: ReadKey) -> ScheduleList:
    """Every entry (static ones first) with its last run, next run and when it fires in words."""
    return ScheduleList(items=[ScheduleOut.from_record(r) for r in store.list_schedules()])


schedules = ResourceRoutes(router, "schedule", ScheduleNotFound, ScheduleOut, read=reader)
schedules.add_create(
    "Create a schedule",
    """Add a dynamic entry; beat fires it from its first slot after now. 422 `invalid_schedule`
    for an unknown task, a bad cron expression, time zone or payload; 409 when the name is
    taken. Needs `admin`, and the scopes for the queue and priority its runs go to when the key
    is limited to queues or a priority (403 naming the scope).""",
    ScheduleIn,
    lambda body: store.create_schedule(body.to_spec()),
    write=queue_admin,
    vet=_check_new,
)
schedules.add_get("Get a schedule", "One entry.", store.get_schedule)
schedules.add_update(
    "Edit, pause or resume a schedule",
    """Change the fields sent. `{"paused": true}` pauses, `{"paused": false}` resumes from the
    next slot (paused slots are not caught up). A static entry only pauses or resumes (409
    otherwise). Needs `admin`, and the scopes for where its runs then go (as for a new one).""",
    SchedulePatch,
    store.update_schedule,
    409,
    write=queue_admin,
    vet=_check_changes,
)
schedules.add_delete(
    "Remove a schedule",
    """Remove a dynamic entry and its fire history; 409 for a static entry (pause it
    instead). Needs `admin`.""",
    store.delete_schedule,
    409,
)
