"""Schedule entries in a real store (SQLite, then PostgreSQL): static sync, operator edits,
and the unique (schedule, slot) claim that keeps a slot from firing twice."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from schedules import store
from schedules.catalog import STATIC_ENTRIES
from schedules.entries import ScheduleSpec
from schedules.errors import InvalidSchedule, ScheduleConflict, ScheduleNotFound
from schedules.slots import Timing, slot_after
from workers.store.engine import session_scope
from workers.store.models import Schedule, ScheduleFire
from workers.store.types import utcnow

FIVE_S = Timing(interval_s=5)


def every(name: str, seconds: int = 60, **fields: object) -> ScheduleSpec:
    return ScheduleSpec(name=name, task="diag.noop", timing=Timing(interval_s=seconds), **fields)  # type: ignore[arg-type]


def static_rows() -> dict[str, Schedule]:
    return {r.name: r for r in store.list_schedules() if r.static}


def test_syncing_the_static_catalog_twice_changes_nothing_the_second_time(
    runtime: dict[str, str],
) -> None:
    # Given the catalog synced once
    store.sync_static(STATIC_ENTRIES)
    before = static_rows()

    # When it is synced again (a beat restart)
    report = store.sync_static(STATIC_ENTRIES)

    # Then nothing changed, and every entry is there with a next run
    assert report == store.SyncReport(0, 0, 0)
    after = static_rows()
    assert set(after) == {entry.name for entry in STATIC_ENTRIES}
    assert {n: (r.id, r.next_run_at, r.updated_at) for n, r in after.items()} == {
        n: (r.id, r.next_run_at, r.updated_at) for n, r in before.items()
    }
    assert all(r.next_run_at is not None and r.next_run_at > utcnow() for r in after.values())


def test_an_operators_pause_of_a_static_entry_survives_a_resync(runtime: dict[str, str]) -> None:
    store.sync_static(STATIC_ENTRIES)
    canary = static_rows()["maintenance.canary"]

    store.update_schedule(canary.id, {"paused": True})
    store.sync_static(STATIC_ENTRIES)

    assert store.get_schedule(canary.id).paused
    assert store.get_schedule(canary.id).next_run_at is None
    store.update_schedule(canary.id, {"paused": False})
    resumed = store.get_schedule(canary.id)
    assert not resumed.paused
    assert resumed.next_run_at is not None


def test_a_changed_catalog_updates_retimes_and_removes_static_entries(
    runtime: dict[str, str],
) -> None:
    # Given the catalog synced, then a release that moves the purge and drops the canary
    store.sync_static(STATIC_ENTRIES)
    moved = [
        dataclasses.replace(e, timing=Timing(cron="0 4 * * *"))
        if e.name == "maintenance.purge" else e
        for e in STATIC_ENTRIES if e.name != "maintenance.canary"
    ]  # fmt: skip

    report = store.sync_static(moved)

    # Then the purge is re-timed, the canary gone; syncing the original restores both
    assert report == store.SyncReport(created=0, updated=1, removed=1)
    rows = static_rows()
    assert "maintenance.canary" not in rows
    assert rows["maintenance.purge"].cron == "0 4 * * *"
    assert rows["maintenance.purge"].next_run_at == slot_after(Timing(cron="0 4 * * *"), utcnow())
    assert store.sync_static(STATIC_ENTRIES) == store.SyncReport(created=1, updated=1, removed=0)


def test_a_dynamic_entry_named_like_a_static_one_is_left_alone(runtime: dict[str, str]) -> None:
    store.sync_static([e for e in STATIC_ENTRIES if e.name != "maintenance.vacuum"])
    mine = store.create_schedule(every("maintenance.vacuum"))

    store.sync_static(STATIC_ENTRIES)

    kept = store.find_schedule("maintenance.vacuum")
    assert kept.id == mine.id
    assert not kept.static
    assert kept.task == "diag.noop"
    store.delete_schedule(mine.id)
    store.sync_static(STATIC_ENTRIES)


def test_a_slot_can_be_claimed_once(runtime: dict[str, str]) -> None:
    # Given a dynamic entry and one of its slots
    entry = store.create_schedule(every("claims", 1))
    slot = slot_after(Timing(interval_s=1), utcnow())

    # When two beats claim it, then another slot is claimed
    first = store.record_fire(entry, slot, None, "beat-a")
    second = store.record_fire(entry, slot, "job-b", "beat-b")
    other = store.record_fire(entry, slot + timedelta(seconds=1), None, "beat-b")

    # Then only the first claim of each slot wins, and it records who fired it
    assert (first, second, other) == (True, False, True)
    store.attach_job(entry.id, slot, "job-a")
    fires = store.list_fires(entry.id)
    assert [(f.planned_at, f.beat, f.job_id) for f in fires] == [
        (slot, "beat-a", "job-a"),
        (slot + timedelta(seconds=1), "beat-b", None),
    ]
    assert all(f.fired_at is not None for f in fires)


def test_a_released_claim_can_be_taken_again(runtime: dict[str, str]) -> None:
    entry = store.create_schedule(every("released", 1))
    slot = slot_after(Timing(interval_s=1), utcnow())
    assert store.record_fire(entry, slot, None, "beat-a")

    store.release_fire(entry.id, slot)

    assert store.record_fire(entry, slot, None, "beat-b")
    assert [f.beat for f in store.list_fires(entry.id)] == ["beat-b"]


def test_a_new_entry_starts_at_its_next_slot_and_names_are_unique(runtime: dict[str, str]) -> None:
    entry = store.create_schedule(every("unique-name", 30))

    assert not entry.static
    assert entry.next_run_at == slot_after(Timing(interval_s=30), entry.created_at)
    with pytest.raises(ScheduleConflict, match="exists already"):
        store.create_schedule(every("unique-name", 5))
    assert store.create_schedule(every("born-paused", 5, paused=True)).next_run_at is None


@pytest.mark.parametrize(
    ("spec", "field"),
    [
        (ScheduleSpec("bad-task", "os.system", Timing(interval_s=5)), "task"),
        (ScheduleSpec("bad-cron", "diag.noop", Timing(cron="every day")), "cron"),
        (ScheduleSpec("bad-zone", "diag.noop", Timing("0 * * * *", "Nowhere")), "timezone"),
        (ScheduleSpec("bad-every", "diag.noop", Timing(interval_s=0)), "interval_s"),
        (ScheduleSpec("bad-payload", "diag.sleep", FIVE_S, args={"ms": -1}), "payload.ms"),
        (ScheduleSpec("bad queue", "diag.noop", Timing(interval_s=5)), "name"),
        (ScheduleSpec("bad-q", "diag.noop", Timing(interval_s=5), queue="urgent"), "queue"),
        (ScheduleSpec("bad-p", "diag.noop", Timing(interval_s=5), priority=10), "priority"),
    ],
)  # fmt: skip
def test_invalid_entries_are_refused_naming_the_field(
    runtime: dict[str, str], spec: ScheduleSpec, field: str
) -> None:
    with pytest.raises(InvalidSchedule) as caught:
        store.create_schedule(spec)

    assert caught.value.details[0]["field"] == field
    with pytest.raises(ScheduleNotFound):
        store.find_schedule(spec.name)


def test_a_static_entry_only_pauses_and_is_never_removed(runtime: dict[str, str]) -> None:
    store.sync_static(STATIC_ENTRIES)
    purge = static_rows()["maintenance.purge"]

    with pytest.raises(ScheduleConflict, match="only pause or resume"):
        store.update_schedule(purge.id, {"cron": "0 5 * * *"})
    with pytest.raises(ScheduleConflict, match="pause it instead"):
        store.delete_schedule(purge.id)
    assert store.get_schedule(purge.id).cron == "15 3 * * *"


def test_editing_the_timing_restarts_at_the_new_next_slot(runtime: dict[str, str]) -> None:
    entry = store.create_schedule(every("retimed", 30))

    edited = store.update_schedule(entry.id, {"cron": "0 6 * * *", "timezone": "Europe/Berlin"})

    assert (edited.kind, edited.cron, edited.interval_s) == ("cron", "0 6 * * *", None)
    timing = Timing(cron="0 6 * * *", timezone="Europe/Berlin")
    assert edited.next_run_at == slot_after(timing, edited.updated_at)
    back = store.update_schedule(entry.id, {"interval_s": 10})
    assert (back.kind, back.cron, back.timezone, back.interval_s) == ("interval", None, "UTC", 10)


def test_removing_an_entry_removes_its_fires(runtime: dict[str, str]) -> None:
    entry = store.create_schedule(every("doomed", 1))
    store.record_fire(entry, slot_after(Timing(interval_s=1), utcnow()), None, "beat")

    store.delete_schedule(entry.id)

    with pytest.raises(ScheduleNotFound):
        store.get_schedule(entry.id)
    with session_scope() as session:
        left = session.scalar(
            select(func.count())
            .select_from(ScheduleFire)
            .where(ScheduleFire.schedule_id == entry.id)
        )
    assert left == 0


def test_beat_does_not_overwrite_an_edit_made_while_it_was_firing(runtime: dict[str, str]) -> None:
    # Given beat read an entry, and an operator pauses it before beat stores the next slot
    entry = store.create_schedule(every("raced", 1))
    store.update_schedule(entry.id, {"paused": True})

    # When beat stores its next slot computed from what it read
    stored = store.advance(entry, utcnow() + timedelta(seconds=1), utcnow())

    # Then the edit wins
    assert not stored
    assert store.get_schedule(entry.id).next_run_at is None
    fresh = store.get_schedule(entry.id)
    assert store.advance(fresh, utcnow(), None)
