"""Schedule entries in the store: the static catalog synced in, dynamic ones created and
edited by operators, and each fired slot recorded under its unique (schedule, slot) key."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, cast

from sqlalchemy import CursorResult, delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from schedules.entries import ScheduleSpec, check_spec
from schedules.errors import ScheduleConflict, ScheduleNotFound
from schedules.slots import Timing, slot_after
from workers.errors import StoreUnavailable
from workers.store.engine import session_scope
from workers.store.lookup import NamedRows, name_taken
from workers.store.models import MissedRunPolicy, Schedule, ScheduleFire
from workers.store.types import utcnow

log = logging.getLogger(__name__)

#: The fields an operator may change on an entry (``name`` is its identity).
EDITABLE = frozenset(
    {"task", "cron", "timezone", "interval_s", "args", "queue", "priority", "expires_s",
     "missed", "paused", "description"}
)  # fmt: skip
_TIMING_FIELDS = frozenset({"cron", "timezone", "interval_s"})


@dataclass(frozen=True)
class SyncReport:
    """What syncing the static catalog changed."""

    created: int = 0
    updated: int = 0
    removed: int = 0


def timing_of(record: Schedule) -> Timing:
    """The stored entry's timing."""
    return Timing(cron=record.cron, timezone=record.timezone, interval_s=record.interval_s)


def spec_of(record: Schedule) -> ScheduleSpec:
    """The stored entry's definition."""
    return ScheduleSpec(
        name=record.name,
        task=record.task,
        timing=timing_of(record),
        queue=record.queue,
        priority=record.priority,
        args=dict(record.args),
        expires_s=record.expires_s,
        missed=MissedRunPolicy(record.missed),
        paused=record.paused,
        description=record.description,
    )


def _first_run(spec: ScheduleSpec, now: datetime) -> datetime | None:
    return None if spec.paused else slot_after(spec.timing, now)


def _sync_one(session: Session, record: Schedule | None, spec: ScheduleSpec, now: datetime) -> str:
    if record is None:
        session.add(Schedule(**spec.columns(), static=True, next_run_at=_first_run(spec, now)))
        return "created"
    if not record.static:
        log.warning(
            "a dynamic schedule is named like static entry %s; the static one is not synced",
            spec.name,
            extra={"action": "schedules.static_conflict", "schedule": spec.name},
        )
        return "kept"
    columns = spec.columns()
    del columns["paused"]  # an operator's pause survives a restart
    changed = {name for name, value in columns.items() if getattr(record, name) != value}
    if not changed:
        return "kept"
    for name in changed:
        setattr(record, name, columns[name])
    if changed & _TIMING_FIELDS and not record.paused:
        record.next_run_at = slot_after(spec.timing, now)
    return "updated"


def sync_static(entries: Sequence[ScheduleSpec]) -> SyncReport:
    """Upsert ``entries`` by name as static entries and remove static entries no longer
    listed; idempotent, and safe when two beats sync at once (the loser retries)."""
    specs = [check_spec(entry) for entry in entries]
    names = {spec.name for spec in specs}
    for _ in range(3):
        now = utcnow()
        try:
            with session_scope() as session:
                existing = {r.name: r for r in session.scalars(select(Schedule))}
                outcomes = [_sync_one(session, existing.get(s.name), s, now) for s in specs]
                stale = [r for r in existing.values() if r.static and r.name not in names]
                for record in stale:
                    session.delete(record)
            return SyncReport(outcomes.count("created"), outcomes.count("updated"), len(stale))
        except IntegrityError:
            continue
    raise StoreUnavailable("could not sync the static schedules after three conflicting attempts")


SCHEDULES = NamedRows(
    Schedule, ScheduleNotFound, "schedule", name_taken(ScheduleConflict, "a schedule"), EDITABLE
)
#: One entry by id; one by name (:class:`ScheduleNotFound`).
get_schedule, find_schedule = SCHEDULES.get, SCHEDULES.find


def create_schedule(spec: ScheduleSpec) -> Schedule:
    """Store a new dynamic entry (validated); :class:`ScheduleConflict` when the name is taken."""
    checked = check_spec(spec)
    record = Schedule(**checked.columns(), static=False, next_run_at=_first_run(checked, utcnow()))
    return SCHEDULES.add(record)


def list_schedules() -> list[Schedule]:
    """Every entry, static ones first, by name."""
    with session_scope() as session:
        query = select(Schedule).order_by(Schedule.static.desc(), Schedule.name)
        return list(session.scalars(query))


def _timing_with(old: Timing, changes: Mapping[str, Any]) -> Timing:
    if not _TIMING_FIELDS & changes.keys():
        return old
    cron = changes.get("cron", old.cron)
    interval_s = changes.get("interval_s", old.interval_s)
    if changes.get("cron") is not None and "interval_s" not in changes:
        interval_s = None
    if changes.get("interval_s") is not None and "cron" not in changes:
        cron = None
    zone = changes.get("timezone", old.timezone if cron is not None else "UTC")
    return Timing(cron=cron, timezone=zone, interval_s=interval_s)


def _changed_spec(old: ScheduleSpec, changes: Mapping[str, Any]) -> ScheduleSpec:
    fields = {k: v for k, v in changes.items() if k not in _TIMING_FIELDS}
    if "missed" in fields:
        fields["missed"] = fields["missed"] or MissedRunPolicy.SKIP.value
    if "args" in fields and fields["args"] is None:
        fields["args"] = {}
    return check_spec(replace(old, timing=_timing_with(old.timing, changes), **fields))


def update_schedule(schedule_id: uuid.UUID, changes: Mapping[str, Any]) -> Schedule:
    """Apply ``changes`` (fields of :data:`EDITABLE`) to an entry. A static entry may only be
    paused or resumed (:class:`ScheduleConflict` otherwise). Pausing clears the next run;
    resuming or a new timing restarts at the first slot after now (paused slots are not
    missed ones)."""
    SCHEDULES.check_editable(changes)
    with session_scope() as session:
        record = SCHEDULES.row(session, schedule_id, lock=True)
        if record.static and set(changes) - {"paused"}:
            raise ScheduleConflict(
                f"{record.name!r} is a static entry: only pause or resume it "
                "(its definition lives in schedules/catalog.py)",
                {"fields": sorted(set(changes) - {"paused"})},
            )
        old = spec_of(record)
        new = _changed_spec(old, changes)
        for name, value in new.columns().items():
            setattr(record, name, value)
        if new.paused:
            record.next_run_at = None
        elif old.paused or new.timing != old.timing or record.next_run_at is None:
            record.next_run_at = slot_after(new.timing, utcnow())
    return record


def delete_schedule(schedule_id: uuid.UUID) -> None:
    """Remove a dynamic entry and its fires; :class:`ScheduleConflict` for a static one."""
    with session_scope() as session:
        record = SCHEDULES.row(session, schedule_id)
        if record.static:
            raise ScheduleConflict(
                f"{record.name!r} is a static entry and cannot be removed; pause it instead",
                {"name": record.name},
            )
        session.delete(record)


def active_schedules(*, include_static: bool = True) -> list[Schedule]:
    """The entries beat should consider: not paused (static ones only if ``include_static``)."""
    query = select(Schedule).where(Schedule.paused.is_(False))
    if not include_static:
        query = query.where(Schedule.static.is_(False))
    with session_scope() as session:
        return list(session.scalars(query.order_by(Schedule.name)))


def record_fire(schedule: Schedule, planned_at: datetime, job_id: str | None, beat: str) -> bool:
    """Claim the slot ``planned_at`` of ``schedule``: ``False`` when it was claimed already
    (another beat fired it, or the entry is gone)."""
    fire = ScheduleFire(
        schedule_id=schedule.id, planned_at=planned_at, fired_at=utcnow(), job_id=job_id, beat=beat
    )
    try:
        with session_scope() as session:
            session.add(fire)
    except IntegrityError:
        return False
    return True


def _slot(schedule_id: uuid.UUID, planned_at: datetime) -> Any:
    return (ScheduleFire.schedule_id == schedule_id) & (ScheduleFire.planned_at == planned_at)


def attach_job(schedule_id: uuid.UUID, planned_at: datetime, job_id: str) -> None:
    """Note the job a recorded fire enqueued."""
    with session_scope() as session:
        session.execute(
            update(ScheduleFire).where(_slot(schedule_id, planned_at)).values(job_id=job_id)
        )


def release_fire(schedule_id: uuid.UUID, planned_at: datetime) -> None:
    """Forget a recorded fire whose enqueue failed, so a later tick may fire the slot again."""
    with session_scope() as session:
        session.execute(delete(ScheduleFire).where(_slot(schedule_id, planned_at)))


def advance(schedule: Schedule, next_run_at: datetime, last_run_at: datetime | None) -> bool:
    """Store the entry's next slot (and last run) unless an operator changed the entry since
    it was read; ``False`` then, and the next tick works from the new definition."""
    values: dict[str, Any] = {"next_run_at": next_run_at, "updated_at": schedule.updated_at}
    if last_run_at is not None:
        values["last_run_at"] = last_run_at
    statement = (
        update(Schedule)
        .where(Schedule.id == schedule.id, Schedule.updated_at == schedule.updated_at)
        .values(**values)
    )
    with session_scope() as session:
        result = cast(CursorResult[Any], session.execute(statement))
        return result.rowcount == 1


def list_fires(schedule_id: uuid.UUID, limit: int = 1000) -> list[ScheduleFire]:
    """The entry's most recent fires, oldest first."""
    query = (
        select(ScheduleFire)
        .where(ScheduleFire.schedule_id == schedule_id)
        .order_by(ScheduleFire.planned_at.desc())
        .limit(limit)
    )
    with session_scope() as session:
        return list(reversed(list(session.scalars(query))))
