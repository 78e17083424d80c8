"""Two real beat processes: every slot of a 1-second schedule fires exactly once, entries
added or paused through the API apply without a restart, and when the leader is killed the
standby takes over within the lock's TTL (plus a tick)."""

from __future__ import annotations

import json
import os
import signal
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import timedelta
from itertools import pairwise
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from api.app import create_app
from schedules import store
from schedules.entries import ScheduleSpec
from schedules.leader import LEADER_KEY
from schedules.slots import Timing
from tests.support.processes import BIN, running
from tests.support.waiting import wait_for
from workers.redis_client import redis_from_url
from workers.settings import get_settings
from workers.store.engine import session_scope
from workers.store.keys import create_key
from workers.store.models import Job, Schedule, ScheduleFire
from workers.store.types import utcnow

pytestmark = pytest.mark.e2e
LOCK_TTL_S = 3
TICK_S = 1
SECOND = timedelta(seconds=1)
BEAT = [str(BIN / "celery"), "-A", "workers.app", "beat", "-S",
        "schedules.scheduler:TaskyardScheduler", "--loglevel", "INFO"]  # fmt: skip
BEAT_ENV = {
    "TASKYARD_BEAT_LOCK_TTL_S": str(LOCK_TTL_S),
    "TASKYARD_BEAT_STATIC_ENTRIES": "false",  # the maintenance entries stay out of the count
    "TASKYARD_LOG_FORMAT": "json",
    "TASKYARD_LOG_LEVEL": "INFO",
}


@pytest.fixture(scope="module")
def database_url(preferred_database_url: str) -> str:
    return preferred_database_url


@pytest.fixture(scope="module")
def every_second(runtime: dict[str, str]) -> Schedule:
    """A diag.noop entry every second, stored before any beat starts."""
    return store.create_schedule(
        ScheduleSpec("e2e.every-second", "diag.noop", Timing(interval_s=1))
    )


@pytest.fixture(scope="module")
def beats(
    every_second: Schedule, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[int, Path]]:
    """Two beat processes, by pid, with their log files; both stopped afterwards."""
    logs = tmp_path_factory.mktemp("beats")
    with running(BEAT, logs / "a.log", BEAT_ENV) as a, running(BEAT, logs / "b.log", BEAT_ENV) as b:
        processes = {a.pid: a, b.pid: b}
        wait_for(lambda: leader_pid() in processes, timeout=30, what="a beat to lead")
        yield {a.pid: logs / "a.log", b.pid: logs / "b.log"}


@pytest.fixture(scope="module")
def admin(runtime: dict[str, str]) -> Iterator[tuple[TestClient, dict[str, str]]]:
    with TestClient(create_app()) as client:
        yield client, {"Authorization": f"Bearer {create_key('e2e-admin', ['admin']).secret}"}


def leader_pid() -> int | None:
    token = redis_from_url(get_settings().locks_url).get(LEADER_KEY)
    return int(token.decode().rsplit(":", 2)[1]) if token else None


def actions(log: Path) -> list[str]:
    """The ``action`` of every JSON log line a beat wrote."""
    found = []
    for line in log.read_text().splitlines():
        if line.startswith("{"):
            found.append(json.loads(line).get("action", ""))
    return found


def fires(entry_id: uuid.UUID) -> list[ScheduleFire]:
    return store.list_fires(entry_id, limit=10_000)


def noop_jobs() -> int:
    with session_scope() as session:
        return int(session.scalar(select(func.count()).where(Job.type == "diag.noop")) or 0)


def holds_for(condition: Callable[[], bool], seconds: float) -> bool:
    """Whether ``condition`` stays true for ``seconds`` (checked every 50 ms)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not condition():
            return False
        time.sleep(0.05)
    return condition()


def test_two_beats_fire_every_slot_exactly_once(
    beats: dict[int, Path], every_second: Schedule
) -> None:
    # Given two beats running; when at least 12 one-second slots have passed
    wait_for(lambda: len(fires(every_second.id)) >= 12, timeout=40, what="12 fires")

    # And the entry is paused, so the counts stop moving
    store.update_schedule(every_second.id, {"paused": True})
    counted = fires(every_second.id)
    assert holds_for(lambda: len(fires(every_second.id)) == len(counted), 2 * TICK_S)
    counted = fires(every_second.id)

    # Then the slots are consecutive seconds, each fired once, each with its own job
    slots = [fire.planned_at for fire in counted]
    assert len(slots) >= 12
    assert all(later - earlier == SECOND for earlier, later in pairwise(slots)), slots
    job_ids = [fire.job_id for fire in counted]
    assert None not in job_ids
    assert len(set(job_ids)) == len(job_ids)
    assert noop_jobs() == len(counted)

    # And one beat fired them all while the other stood by
    leader = leader_pid()
    assert {fire.beat for fire in counted} == {f"{os.uname().nodename}:{leader}"}
    standby = next(pid for pid in beats if pid != leader)
    assert "beat.standby" in actions(beats[standby])
    assert "beat.fired" not in actions(beats[standby])
    store.update_schedule(every_second.id, {"paused": False})


def test_entries_added_or_paused_through_the_api_apply_without_a_restart(
    beats: dict[int, Path], admin: tuple[TestClient, dict[str, str]]
) -> None:
    client, headers = admin
    # When an every-second entry and a paused one are added while the beats run
    hot = client.post("/v1/schedules", headers=headers,
                      json={"name": "e2e.hot", "task": "diag.noop", "interval_s": 1})  # fmt: skip
    cold = client.post("/v1/schedules", headers=headers,
                       json={"name": "e2e.cold", "task": "diag.noop", "interval_s": 1,
                             "paused": True})  # fmt: skip
    assert hot.status_code == cold.status_code == 201, (hot.text, cold.text)
    hot_id, cold_id = uuid.UUID(hot.json()["id"]), uuid.UUID(cold.json()["id"])

    # Then the new one fires within a couple of ticks, and the paused one never does
    wait_for(lambda: len(fires(hot_id)) >= 2, timeout=4 * TICK_S, what="the new entry to fire")
    assert fires(cold_id) == []

    # When it is paused through the API, it stops within a tick
    paused_at = utcnow()
    assert client.patch(f"/v1/schedules/{hot_id}", json={"paused": True},
                        headers=headers).status_code == 200  # fmt: skip
    assert holds_for(lambda: all(f.planned_at <= paused_at + SECOND for f in fires(hot_id)),
                     3 * TICK_S)  # fmt: skip
    assert fires(cold_id) == []


def test_the_standby_takes_over_within_the_lock_ttl_when_the_leader_is_killed(
    beats: dict[int, Path], every_second: Schedule
) -> None:
    # Given a leader firing the every-second entry
    leader = leader_pid()
    assert leader is not None
    standby = next(pid for pid in beats if pid != leader)
    identity = f"{os.uname().nodename}:{standby}"
    wait_for(lambda: len(fires(every_second.id)) >= 2, timeout=5, what="fires before the kill")

    # When the leader is killed outright (no release of its lock)
    os.kill(leader, signal.SIGKILL)
    killed_at = utcnow()

    # Then the standby fires within the lock TTL plus a tick (and a margin for the write)
    def standby_fire() -> ScheduleFire | None:
        return next((f for f in fires(every_second.id) if f.beat == identity), None)

    first = wait_for(standby_fire, timeout=LOCK_TTL_S + 5, what="the standby to fire")
    assert first is not None
    took = (first.fired_at - killed_at).total_seconds()
    assert took <= LOCK_TTL_S + TICK_S + 0.5, f"the standby took {took:.2f}s to fire"
    assert leader_pid() == standby
    assert "beat.leader" in actions(beats[standby])

    # And across the failover no slot fired twice or was lost (late slots fire, in grace)
    wait_for(lambda: fires(every_second.id)[-1].planned_at > first.planned_at + 2 * SECOND,
             timeout=5, what="the new leader to keep firing")  # fmt: skip
    slots = [f.planned_at for f in fires(every_second.id) if f.planned_at >= killed_at - 2 * SECOND]
    assert all(later - earlier == SECOND for earlier, later in pairwise(slots)), slots
