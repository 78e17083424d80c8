"""The beat scheduler, ticked in this process against a real store and Redis: leadership,
what a tick fires and records, pauses, missed-run policies and a broker that fails."""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta

import pytest
from sqlalchemy import update

from schedules import firing, store
from schedules.entries import ScheduleSpec
from schedules.leader import LeaderLock
from schedules.scheduler import TaskyardScheduler
from schedules.slots import Timing, slot_before
from workers.app import app
from workers.errors import BrokerUnavailable
from workers.redis_client import redis_from_url
from workers.settings import get_settings
from workers.store import jobs
from workers.store.engine import session_scope
from workers.store.models import MissedRunPolicy, Schedule
from workers.store.types import utcnow

Beats = Callable[[], TaskyardScheduler]


@pytest.fixture
def beats(runtime: dict[str, str]) -> Iterator[Beats]:
    """Make beat schedulers (static entries off unless a test turns them on); all are closed
    afterwards, releasing the leader lock."""
    made: list[TaskyardScheduler] = []

    def make() -> TaskyardScheduler:
        scheduler = TaskyardScheduler(app)
        scheduler.include_static = False
        made.append(scheduler)
        return scheduler

    yield make
    for scheduler in made:
        scheduler.close()


def due_entry(name: str, timing: Timing, behind: timedelta, **fields: object) -> Schedule:
    """A dynamic diag.noop entry whose next slot is ``behind`` in the past."""
    record = store.create_schedule(ScheduleSpec(name, "diag.noop", timing, **fields))  # type: ignore[arg-type]
    assert store.advance(record, slot_before(timing, utcnow() - behind), None)
    return store.get_schedule(record.id)


def _clear_of_the_next_slot(interval_s: int, margin_s: float = 10.0) -> None:
    """Wait, if need be, until the next slot of an ``interval_s`` entry is ``margin_s`` away, so
    that a test expecting one due slot does not see a second one arrive on a slow machine."""
    left = interval_s - utcnow().timestamp() % interval_s  # slots start at the Unix epoch
    if left < margin_s:
        time.sleep(left + 0.5)


def planned(entry: Schedule) -> list[datetime]:
    return [fire.planned_at for fire in store.list_fires(entry.id)]


def test_the_leader_lock_is_taken_renewed_and_released_by_its_holder_only(
    runtime: dict[str, str],
) -> None:
    client = redis_from_url(get_settings().locks_url)
    first = LeaderLock(client, 3, "a", key="test:leader")
    second = LeaderLock(client, 3, "b", key="test:leader")

    assert first.hold()
    assert not second.hold()
    assert first.hold()  # renewed
    assert 2000 < client.pttl("test:leader") <= 3000
    assert first.holder() == first.token
    assert first.token.startswith("a:")

    # When first's lock runs out during a pause and second takes it over
    client.delete("test:leader")
    assert second.hold()
    # Then first's late release leaves second's lock alone
    first.release()
    assert first.holder() == second.token

    # And a leader whose lock was taken over can no longer renew it, and knows it
    client.delete("test:leader")
    assert first.hold()
    assert not second.hold()
    assert second.lost
    assert first.holder() == first.token

    # And an operator's forced handover (deleting the key) goes to the other beat
    client.delete("test:leader")
    assert not first.hold()
    assert second.hold()
    second.release()
    assert first.holder() is None


def test_only_the_leader_fires_and_the_standby_says_so(
    beats: Beats, caplog: pytest.LogCaptureFixture
) -> None:
    # Given two beats and an every-second entry two slots behind
    entry = due_entry("every-second", Timing(interval_s=1), timedelta(seconds=2))
    leader, standby = beats(), beats()
    caplog.set_level(logging.INFO, logger="schedules")

    # When both tick
    assert leader.tick() <= 1
    standby.tick()
    standby.tick()

    # Then the leader fired each due slot once, each with a job; the standby fired nothing
    fires = store.list_fires(entry.id)
    assert len(fires) >= 3
    assert {fire.beat for fire in fires} == {leader.beat}
    for fire in fires:
        assert fire.job_id is not None
        assert jobs.get_job(uuid.UUID(fire.job_id)).type == "diag.noop"
    actions = [getattr(r, "action", None) for r in caplog.records]
    assert actions.count("beat.standby") == 1
    assert "beat.leader" in actions
    after = store.get_schedule(entry.id)
    assert after.last_run_at is not None
    assert after.next_run_at is not None
    assert after.next_run_at > fires[-1].planned_at
    store.delete_schedule(entry.id)


def test_a_maintenance_task_is_sent_to_its_queue_with_expires(beats: Beats) -> None:
    # Given an internal task scheduled every 30 s, due now
    timing = Timing(interval_s=30)
    _clear_of_the_next_slot(30)
    record = store.create_schedule(ScheduleSpec("canary-copy", "maintenance.canary", timing))
    store.advance(record, slot_before(timing, utcnow()), None)

    # When the leader ticks
    beats().tick()

    # Then one message waits on `default` with the fire's id, the task name and an expiry
    (fire,) = store.list_fires(record.id)
    broker = redis_from_url(get_settings().broker_url)
    lists = ["default", *(f"default:{step}" for step in range(1, 10))]  # one per priority step
    messages = [json.loads(raw) for name in lists for raw in broker.lrange(name, 0, -1)]
    sent = [m["headers"] for m in messages if m["headers"]["task"] == "maintenance.canary"]
    assert [h["id"] for h in sent] == [fire.job_id]
    assert sent[0]["expires"] is not None
    assert sent[0]["taskyard_schedule"] == "canary-copy"
    store.delete_schedule(record.id)


def test_a_stored_entry_with_arguments_its_task_does_not_take_is_refused_by_beat(
    beats: Beats, caplog: pytest.LogCaptureFixture
) -> None:
    # Given a maintenance entry stored before its task declared its arguments, due now
    timing = Timing(interval_s=30)
    _clear_of_the_next_slot(30)
    record = store.create_schedule(ScheduleSpec("old-backup", "maintenance.backup", timing))
    with session_scope() as session:
        session.execute(
            update(Schedule).where(Schedule.id == record.id).values(args={"path": "/etc"})
        )
    assert store.advance(store.get_schedule(record.id), slot_before(timing, utcnow()), None)
    caplog.set_level(logging.INFO, logger="schedules")

    # When the leader ticks
    beats().tick()

    # Then beat sends nothing (no TypeError in a worker on every slot) and says why
    broker = redis_from_url(get_settings().broker_url)
    lists = ["default", *(f"default:{step}" for step in range(1, 10))]
    headers = [json.loads(raw)["headers"] for name in lists for raw in broker.lrange(name, 0, -1)]
    assert not [h for h in headers if h.get("taskyard_schedule") == "old-backup"]
    refusals = [r for r in caplog.records if getattr(r, "action", "") == "beat.fire_rejected"]
    assert "invalid arguments for maintenance.backup: payload.path" in refusals[0].getMessage()
    store.delete_schedule(record.id)


def test_a_paused_entry_fires_nothing_and_an_edit_applies_on_the_next_tick(beats: Beats) -> None:
    entry = due_entry("pausable", Timing(interval_s=1), timedelta(seconds=1))
    store.update_schedule(entry.id, {"paused": True})
    beat = beats()

    beat.tick()
    assert planned(entry) == []

    store.update_schedule(entry.id, {"paused": False})
    resumed = store.get_schedule(entry.id)
    assert resumed.next_run_at is not None
    store.advance(resumed, slot_before(Timing(interval_s=1), utcnow()), None)
    beat.tick()
    assert len(planned(entry)) >= 1
    store.delete_schedule(entry.id)


@pytest.mark.parametrize("policy", list(MissedRunPolicy))
def test_slots_missed_during_downtime_follow_the_policy(
    beats: Beats, policy: MissedRunPolicy
) -> None:
    # Given an every-minute entry whose beats were all down for an hour
    timing = Timing(cron="* * * * *")
    entry = due_entry(f"hourly-{policy.value}", timing, timedelta(hours=1), missed=policy)

    # When a beat comes back
    started = utcnow()
    beats().tick()

    # Then slots older than the grace period are skipped, or caught up with one run
    cutoff = started - beats().grace
    fired = planned(entry)
    old = [slot for slot in fired if slot < cutoff]
    assert len(old) == (1 if policy is MissedRunPolicy.CATCH_UP else 0)
    assert all(slot >= cutoff for slot in fired if slot not in old)
    assert store.get_schedule(entry.id).next_run_at > started  # type: ignore[operator]
    store.delete_schedule(entry.id)


def test_a_broker_outage_releases_the_slot_for_a_later_tick(
    beats: Beats, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a due entry and a broker that refuses
    _clear_of_the_next_slot(30)
    entry = due_entry("unlucky", Timing(interval_s=30), timedelta(seconds=0))
    slot = entry.next_run_at

    def refuse(*args: object, **kwargs: object) -> None:
        raise BrokerUnavailable("the broker is unreachable")

    monkeypatch.setattr(firing, "submit", refuse)
    beat = beats()

    # When a tick fails to enqueue, no fire is kept and the slot stays due
    beat.tick()
    assert planned(entry) == []
    assert store.get_schedule(entry.id).next_run_at == slot

    # Then once the broker is back, the next tick fires it
    monkeypatch.undo()
    beat.tick()
    assert planned(entry) == [slot]
    store.delete_schedule(entry.id)


def test_a_stopping_leader_hands_over_at_once(beats: Beats) -> None:
    first, second = beats(), beats()
    first.tick()
    assert first.lock.held

    first.close()
    second.tick()

    assert second.lock.held


def test_the_first_leader_tick_syncs_the_static_catalog(beats: Beats) -> None:
    beat = beats()
    beat.include_static = True

    beat.tick()

    static = [record for record in store.list_schedules() if record.static]
    assert {record.name for record in static} >= {"maintenance.purge", "maintenance.canary"}
    assert all(record.next_run_at is not None for record in static)
