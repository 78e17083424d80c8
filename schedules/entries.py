"""What a schedule entry is, before it is stored, and the one validation API, CLI and the
static catalog go through."""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from typing import Any

from pydantic import BaseModel, ValidationError

from schedules.errors import InvalidSchedule
from schedules.slots import Timing, check_timing
from tasks.jobs.catalog import CATALOG
from tasks.maintenance import catalog as maintenance
from workers.names import NAME_RULE, is_name
from workers.priorities import check_priority
from workers.queues import QueueName, route_task
from workers.storable import Unstorable, check_document, check_text
from workers.store.models import MissedRunPolicy

MAX_EXPIRES_S = 7 * 24 * 3600
MAX_ARGS_BYTES = 64 * 1024
MAX_DESCRIPTION = 500
#: The most characters each text field holds (the store's column sizes; a description is
#: bounded here only, since SQLite does not enforce a column's length).
TEXT_LIMITS = {
    "name": 200,
    "task": 200,
    "cron": 120,
    "timezone": 64,
    "description": MAX_DESCRIPTION,
}


@dataclass(frozen=True)
class ScheduleSpec:
    """A schedule entry's definition: what to run, when, where, and what to do when late."""

    name: str
    task: str
    timing: Timing
    queue: str | None = None
    priority: int | None = None
    args: dict[str, Any] = field(default_factory=dict)
    expires_s: int | None = None
    missed: MissedRunPolicy = MissedRunPolicy.SKIP
    paused: bool = False
    description: str | None = None

    @property
    def is_job_type(self) -> bool:
        """Whether ``task`` is a public job type (enqueued through the producer)."""
        return self.task in CATALOG

    def destination(self) -> tuple[str, int | None]:
        """The queue and priority its runs go to: the entry's, else the task's own (no
        priority for an internal task, which then takes the broker's default)."""
        if self.is_job_type:
            job_type = CATALOG.get(self.task)
            priority = job_type.priority if self.priority is None else self.priority
            return self.queue or job_type.queue.value, priority
        return self.queue or routed_queue(self.task), self.priority

    def columns(self) -> dict[str, Any]:
        """The entry as ``schedules`` column values (run times excluded)."""
        return {
            "name": self.name,
            "task": self.task,
            "kind": self.timing.kind.value,
            "cron": self.timing.cron,
            "timezone": self.timing.timezone,
            "interval_s": self.timing.interval_s,
            "queue": self.queue,
            "priority": self.priority,
            "args": self.args,
            "expires_s": self.expires_s,
            "missed": self.missed.value,
            "paused": self.paused,
            "description": self.description,
        }


def routed_queue(task: str) -> str:
    """The queue an internal task goes to by its name prefix's route."""
    route = route_task(task, (), {}, {})
    return route["queue"] if route else QueueName.DEFAULT.value


def invalid(field_name: str, message: str) -> InvalidSchedule:
    """An :class:`InvalidSchedule` about one field."""
    return InvalidSchedule(f"{field_name}: {message}", [{"field": field_name, "message": message}])


def _check_name(name: str) -> None:
    if not is_name(name):
        raise invalid("name", f"{name!r} is not a usable name; {NAME_RULE}")


def _check_task(task: str) -> None:
    if task in CATALOG:
        job_type = CATALOG.get(task)
        if job_type.internal is None:
            return
        raise invalid("task", f"job type {task!r} is internal; {job_type.internal}")
    if maintenance.find(task) is not None:
        return
    public = [t.name for t in CATALOG if t.internal is None]
    known = ", ".join(sorted(public + [t.task for t in maintenance.MAINTENANCE]))
    raise invalid("task", f"unknown task {task!r}; schedule a job type or one of: {known}")


def _check_text(spec: ScheduleSpec) -> None:
    """Refuse a NUL or an overlong value in any text the entry stores."""
    texts = {"name": spec.name, "task": spec.task, "cron": spec.timing.cron,
             "timezone": spec.timing.timezone, "description": spec.description}  # fmt: skip
    try:
        for name, value in texts.items():
            check_text(name, value, TEXT_LIMITS[name])
    except Unstorable as error:
        raise invalid(error.where, error.message) from None


def _validated(task: str, model: type[BaseModel], args: dict[str, Any], what: str) -> BaseModel:
    try:
        return model.model_validate(args)
    except ValidationError as error:
        details = [
            {"field": ".".join(["payload", *map(str, e["loc"])]), "message": e["msg"]}
            for e in error.errors()
        ]
        first = f"{details[0]['field']}: {details[0]['message']}"
        raise InvalidSchedule(f"invalid {what} for {task}: {first}", details) from None


def check_args(task: str, args: Any) -> dict[str, Any]:
    """``args`` as a run of ``task`` takes them: a job type's payload through its model, a
    maintenance task's keyword arguments through its declared ones (only those sent; ``null``
    leaves the task's default)."""
    if not isinstance(args, dict):
        raise invalid("payload", f"must be a JSON object, not {type(args).__name__}")
    try:
        check_document(args, "payload")
    except Unstorable as error:
        raise invalid(error.where, error.message) from None
    if len(json.dumps(args).encode()) > MAX_ARGS_BYTES:
        raise invalid("payload", f"must be at most {MAX_ARGS_BYTES} bytes as JSON")
    internal = maintenance.find(task)
    if internal is not None:
        declared = _validated(task, internal.arguments, args, "arguments")
        return declared.model_dump(mode="json", exclude_none=True)
    if task not in CATALOG:
        return args
    if CATALOG.get(task).sensitive:
        raise invalid("task", f"{task} has a sensitive payload, which a schedule would keep in "
                              "clear; enqueue it from the application instead")  # fmt: skip
    payload = _validated(task, CATALOG.get(task).payload_model, args, "payload")
    return payload.model_dump(mode="json")


def _check_routing(spec: ScheduleSpec) -> None:
    if spec.queue is not None and spec.queue not in {q.value for q in QueueName}:
        choices = ", ".join(q.value for q in QueueName)
        raise invalid("queue", f"unknown queue {spec.queue!r}; choose one of {choices}")
    if spec.priority is not None:
        try:
            check_priority(spec.priority)
        except ValueError as error:
            raise invalid("priority", str(error)) from None


def check_spec(spec: ScheduleSpec) -> ScheduleSpec:
    """``spec`` validated and normalised (cron spacing, payload through the job type's model
    or the maintenance task's arguments), else :class:`InvalidSchedule` naming the field."""
    _check_text(spec)
    _check_name(spec.name)
    _check_task(spec.task)
    timing = check_timing(spec.timing)
    _check_routing(spec)
    if spec.expires_s is not None and not 1 <= spec.expires_s <= MAX_EXPIRES_S:
        raise invalid("expires_s", f"must be between 1 and {MAX_EXPIRES_S} seconds")
    try:
        missed = MissedRunPolicy(spec.missed)
    except ValueError:
        raise invalid("missed", f"unknown policy {spec.missed!r}; use skip or catch_up") from None
    args = check_args(spec.task, spec.args)
    return replace(spec, timing=timing, args=args, missed=missed)
