"""Request and response bodies of ``/v1/schedules``, and the record-to-JSON mapping."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, StrictBool

from api.resources import PatchBody, RecordOut, same_named
from schedules.entries import MAX_DESCRIPTION, MAX_EXPIRES_S, ScheduleSpec
from schedules.slots import MAX_INTERVAL_S, MIN_INTERVAL_S, Timing, describe
from schedules.store import timing_of
from workers.names import NAME_PATTERN
from workers.priorities import MAX_PRIORITY, MIN_PRIORITY
from workers.queues import QueueName
from workers.store.models import MissedRunPolicy, Schedule

_TASK = "A registered job type (e.g. `diag.noop`) or an internal task (`maintenance.*`)."
_CRON = "Five fields: minute hour day-of-month month day-of-week (not with `interval_s`)."
_TZ = "IANA time zone the cron expression is read in (cron entries only)."
_PAYLOAD = (
    "The job's payload (validated per job type), or the maintenance task's keyword arguments "
    '(only those it declares, e.g. `{"keep": 3}` for `maintenance.backup`).'
)
_EXPIRES = (
    "Seconds a run may wait in its queue before it is dropped (default: until the next slot)."
)
_MISSED = "After downtime: `skip` the missed slots, or `catch_up` with one run."


class ScheduleIn(BaseModel):
    """A dynamic schedule entry: a cron expression in a time zone, or an interval."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200, pattern=NAME_PATTERN.pattern)
    task: str = Field(min_length=1, max_length=200, description=_TASK, examples=["diag.noop"])
    cron: str | None = Field(default=None, max_length=120, description=_CRON)
    timezone: str = Field(default="UTC", min_length=1, max_length=64, description=_TZ)
    interval_s: int | None = Field(
        default=None,
        ge=MIN_INTERVAL_S,
        le=MAX_INTERVAL_S,
        strict=True,
        description="Fire every this many seconds (not with `cron`).",
    )
    payload: dict[str, Any] = Field(default_factory=dict, description=_PAYLOAD)
    queue: QueueName | None = Field(default=None, description="Default: the task's own queue.")
    priority: int | None = Field(default=None, ge=MIN_PRIORITY, le=MAX_PRIORITY, strict=True)
    expires_s: int | None = Field(
        default=None, ge=1, le=MAX_EXPIRES_S, strict=True, description=_EXPIRES
    )
    missed: MissedRunPolicy = Field(default=MissedRunPolicy.SKIP, description=_MISSED)
    paused: StrictBool = False
    description: str | None = Field(default=None, max_length=MAX_DESCRIPTION)

    def to_spec(self) -> ScheduleSpec:
        """The entry this body describes (validated further by the store)."""
        return ScheduleSpec(
            name=self.name,
            task=self.task,
            timing=Timing(cron=self.cron, timezone=self.timezone, interval_s=self.interval_s),
            queue=self.queue.value if self.queue is not None else None,
            priority=self.priority,
            args=self.payload,
            expires_s=self.expires_s,
            missed=self.missed,
            paused=self.paused,
            description=self.description,
        )


class SchedulePatch(PatchBody):
    """Fields to change; absent ones stay. `null` resets `queue`, `priority`, `expires_s`,
    `payload`, `missed` and `description` to their defaults. A static entry takes `paused` only."""

    not_null = ("task", "timezone", "paused")
    task: str | None = Field(default=None, min_length=1, max_length=200, description=_TASK)
    cron: str | None = Field(default=None, max_length=120, description=_CRON)
    timezone: str | None = Field(default=None, min_length=1, max_length=64, description=_TZ)
    interval_s: int | None = Field(default=None, ge=MIN_INTERVAL_S, le=MAX_INTERVAL_S, strict=True)
    payload: dict[str, Any] | None = Field(default=None, description=_PAYLOAD)
    queue: QueueName | None = None
    priority: int | None = Field(default=None, ge=MIN_PRIORITY, le=MAX_PRIORITY, strict=True)
    expires_s: int | None = Field(default=None, ge=1, le=MAX_EXPIRES_S, strict=True)
    missed: MissedRunPolicy | None = Field(default=None, description=_MISSED)
    paused: StrictBool | None = Field(default=None, description="Pause (true) or resume (false).")
    description: str | None = Field(default=None, max_length=MAX_DESCRIPTION)

    def changes(self) -> dict[str, Any]:
        """The fields sent, as store column names and plain values."""
        sent = super().changes()
        if "payload" in sent:
            sent["args"] = sent.pop("payload")
        for name in ("queue", "missed"):
            if sent.get(name) is not None:
                sent[name] = sent[name].value
        return sent


class ScheduleOut(RecordOut):
    """A schedule entry with its last and next run and a human description of when it fires."""

    id: uuid.UUID
    name: str
    task: str
    kind: str = Field(description="`cron` or `interval`.")
    cron: str | None
    timezone: str
    interval_s: int | None
    human_description: str = Field(
        description="When it fires, in words (e.g. `At 03:15 AM`).", examples=["At 03:15 AM"]
    )
    payload: dict[str, Any]
    queue: str | None
    priority: int | None
    expires_s: int | None
    missed: str
    paused: bool
    static: bool = Field(description="Defined in code (schedules/catalog.py): pause only.")
    description: str | None
    created_at: datetime
    updated_at: datetime
    last_run_at: datetime | None
    next_run_at: datetime | None

    @classmethod
    def from_record(cls, record: Schedule) -> ScheduleOut:
        """The JSON form of a stored entry."""
        return cls(
            **same_named(record, cls, "human_description", "payload"),
            human_description=describe(timing_of(record)),
            payload=record.args,
        )


class ScheduleList(BaseModel):
    """Every schedule entry, static ones first."""

    items: list[ScheduleOut]
