"""Alert evaluation across a beat failover, with real processes: two beats (one leads) firing
``maintenance.alerts`` every tick, a worker evaluating and delivering, a webhook sink on
loopback. A rule fires with exactly one FIRING; the leading beat is killed (SIGKILL) and the
standby takes over; the rule then resolves with exactly one RESOLVED, and no slot of the rule
was applied twice (a slot whose tick was lost in the failover is skipped: only a rule's newest
slot is ever applied)."""

from __future__ import annotations

import json
import os
import signal
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, text

from schedules import store as schedule_store
from schedules.entries import ScheduleSpec
from schedules.leader import LEADER_KEY
from schedules.slots import Timing
from tasks.alerts import TICK_S, rule_store
from tests.support.alerts import sql_rule
from tests.support.channels import webhook_channels
from tests.support.processes import BIN, celery_worker_command, running, wait_worker_ready
from tests.support.sinks import HttpSink
from tests.support.waiting import wait_for
from workers.redis_client import redis_from_url
from workers.settings import get_settings
from workers.store.engine import get_engine, session_scope
from workers.store.models import AlertEventRow, MaintenanceRun

pytestmark = pytest.mark.e2e
BEAT = [str(BIN / "celery"), "-A", "workers.app", "beat", "-S",
        "schedules.scheduler:TaskyardScheduler", "--loglevel", "INFO"]  # fmt: skip
ENV = {
    "TASKYARD_BEAT_LOCK_TTL_S": "3",
    "TASKYARD_BEAT_STATIC_ENTRIES": "false",  # only the evaluator's entry fires
    "TASKYARD_LOG_LEVEL": "INFO",
}
RULE = "signal-high"


@pytest.fixture(scope="module")
def database_url(preferred_database_url: str) -> str:
    return preferred_database_url


@pytest.fixture(scope="module")
def hook(sink: HttpSink) -> Iterator[None]:
    """The ``failover-hook`` channel, and the table the rule reads its value from."""
    with webhook_channels(sink, "failover-hook"):
        with get_engine().begin() as connection:
            connection.execute(text("CREATE TABLE e2e_signal (v FLOAT)"))
            connection.execute(text("INSERT INTO e2e_signal VALUES (1)"))
        yield


def _leader() -> int | None:
    token: bytes | None = redis_from_url(get_settings().locks_url).get(LEADER_KEY)  # type: ignore[assignment]
    return int(token.decode().rsplit(":", 2)[1]) if token else None


def _notices(sink: HttpSink) -> list[str]:
    return [json.loads(r.body)["subject"].split("]")[0] + "]" for r in sink.received]


def _last_slot() -> datetime | None:
    return rule_store.find_rule(RULE).last_slot_at


def _evaluated() -> int:
    """Slots the evaluator's runs applied, summed over every run either beat made."""
    with session_scope() as session:
        runs = session.scalars(select(MaintenanceRun).where(MaintenanceRun.name == "alerts"))
        return sum(int(run.figures.get("evaluated", 0)) for run in runs)


def _first_slot() -> datetime:
    with session_scope() as session:
        query = select(AlertEventRow.at).order_by(AlertEventRow.at).limit(1)
        first = session.scalar(query)
    assert first is not None
    return first


def test_a_rule_fires_and_resolves_once_across_a_killed_leader(
    hook: None, sink: HttpSink, tmp_path: Path
) -> None:
    # Given the evaluator's entry, a rule on the signal (> 0 at once) to the sink, two beats
    # and a worker on default
    schedule_store.create_schedule(
        ScheduleSpec("e2e.alerts", "maintenance.alerts", Timing(interval_s=TICK_S))
    )
    sql_rule(RULE, "SELECT v AS value FROM e2e_signal", ("failover-hook",), TICK_S)
    worker = celery_worker_command(["default"], "default", concurrency=2)
    with (
        running(worker, tmp_path / "worker.log", ENV) as worker_process,
        running(BEAT, tmp_path / "a.log", ENV) as a,
        running(BEAT, tmp_path / "b.log", ENV) as b,
    ):
        wait_worker_ready(worker_process, tmp_path / "worker.log")
        wait_for(lambda: _leader() in (a.pid, b.pid), timeout=30, what="a beat to lead")
        # When it fires: one FIRING
        wait_for(lambda: _notices(sink) == ["[FIRING]"], timeout=4 * TICK_S + 20,
                 what="one FIRING")  # fmt: skip
        # And the leader is killed, and the standby takes over
        leader = _leader()
        os.kill(leader or 0, signal.SIGKILL)
        standby = b.pid if leader == a.pid else a.pid
        wait_for(lambda: _leader() == standby, timeout=20, what="the standby to lead")
        fired_through = _last_slot()
        assert fired_through is not None
        wait_for(
            lambda: (
                (_last_slot() or fired_through) >= fired_through + timedelta(seconds=2 * TICK_S)
            ),
            timeout=4 * TICK_S + 10,
            what="two slots under the new leader",
        )
        # And the signal drops: one RESOLVED
        with get_engine().begin() as connection:
            connection.execute(text("UPDATE e2e_signal SET v = 0"))
        wait_for(lambda: _notices(sink) == ["[FIRING]", "[RESOLVED]"],
                 timeout=4 * TICK_S + 20, what="one RESOLVED")  # fmt: skip
        resolved = _last_slot()
        assert resolved is not None
        wait_for(lambda: (_last_slot() or resolved) >= resolved + timedelta(seconds=TICK_S),
                 timeout=3 * TICK_S + 10, what="one more slot")  # fmt: skip
    last = _last_slot()
    # Then nothing was sent twice, and each slot from the first to the last was applied once
    assert _notices(sink) == ["[FIRING]", "[RESOLVED]"]
    assert last is not None
    slots = int((last - _first_slot()).total_seconds()) // TICK_S + 1
    # (a tick lost while the standby took the lock skips a slot: only the newest is applied)
    assert slots - 2 <= _evaluated() <= slots
