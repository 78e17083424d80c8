"""Alert evaluation with real processes: a beat firing ``maintenance.alerts`` every tick, a
worker evaluating and delivering, and a webhook sink on loopback. A queue-depth rule made
through the API fires once ``for_s`` has passed, with exactly one FIRING at the sink; beat and
the worker restarted while it is pending keep its timer, so it fires on its original
schedule; draining the queue (a bulk worker) sends exactly one RESOLVED."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import ExitStack
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from api.app import create_app
from schedules import store as schedule_store
from schedules.entries import ScheduleSpec
from schedules.slots import Timing
from tasks.alerts import TICK_S, rule_store
from tasks.jobs.catalog import DIAG_NOOP
from tasks.jobs.producer import JobRequest, enqueue
from tests.support.channels import channel_settings
from tests.support.processes import BIN, celery_worker_command, running, wait_worker_ready
from tests.support.sinks import HttpSink, http_sink
from tests.support.waiting import wait_for
from workers.store.engine import session_scope
from workers.store.keys import create_key
from workers.store.models import AlertEventRow

pytestmark = pytest.mark.e2e
SECRET = "whsec-alert-e2e-0123456789"
FOR_S = 30
BEAT = [str(BIN / "celery"), "-A", "workers.app", "beat", "-S",
        "schedules.scheduler:TaskyardScheduler", "--loglevel", "INFO"]  # fmt: skip
#: Only the evaluator's entry fires (the canary would put jobs in the watched queue).
ENV = {"TASKYARD_BEAT_STATIC_ENTRIES": "false", "TASKYARD_LOG_LEVEL": "INFO"}


@pytest.fixture(scope="module")
def database_url(preferred_database_url: str) -> str:
    return preferred_database_url


@pytest.fixture(scope="module")
def sink(runtime: dict[str, str]) -> Iterator[HttpSink]:
    with channel_settings(), http_sink(SECRET) as running_sink:
        yield running_sink


@pytest.fixture(scope="module")
def admin(sink: HttpSink) -> Iterator[tuple[TestClient, dict[str, str]]]:
    with TestClient(create_app()) as client:
        yield client, {"Authorization": f"Bearer {create_key('e2e-alerts', ['admin']).secret}"}


def _notices(sink: HttpSink) -> list[str]:
    return [json.loads(r.body)["subject"].split("]")[0] + "]" for r in sink.received]


def _state(client: TestClient, headers: dict[str, str]) -> str | None:
    items = client.get("/v1/alerts?rule=backlog", headers=headers).json()["items"]
    return items[0]["state"] if items else None


def _last_slot() -> datetime:
    last = rule_store.find_rule("backlog").last_slot_at
    assert last is not None
    return last


def _events() -> dict[str, AlertEventRow]:
    with session_scope() as session:
        return {row.event: row for row in session.scalars(select(AlertEventRow))}


def _stack(stack: ExitStack, logs: Path, round_: int) -> None:
    """Beat and a worker on ``default`` (the evaluator and the deliveries), ready."""
    stack.enter_context(running(BEAT, logs / f"beat-{round_}.log", ENV))
    worker = celery_worker_command(["default"], f"default{round_}", concurrency=2)
    process = stack.enter_context(running(worker, logs / f"worker-{round_}.log", ENV))
    wait_worker_ready(process, logs / f"worker-{round_}.log")


def test_a_queue_depth_rule_fires_and_resolves_once_across_a_restart(
    sink: HttpSink, admin: tuple[TestClient, dict[str, str]], tmp_path: Path
) -> None:
    client, headers = admin
    # Given a channel to the sink, beat firing the evaluator every tick, and a rule made
    # through the API: the bulk queue at 3 or more for FOR_S seconds
    channel = {"name": "e2e-hook", "config": {"kind": "webhook", "url": f"{sink.url}/alerts",
                                              "secret": SECRET}}  # fmt: skip
    assert client.post("/v1/channels", json=channel, headers=headers).status_code == 201
    schedule_store.create_schedule(
        ScheduleSpec("e2e.alerts", "maintenance.alerts", Timing(interval_s=TICK_S))
    )
    rule = {"name": "backlog", "source": "queue_depth", "spec": {"queue": "bulk"}, "op": ">=",
            "threshold": 3, "for_s": FOR_S, "interval_s": TICK_S,
            "channels": ["e2e-hook"]}  # fmt: skip
    assert client.post("/v1/alert-rules", json=rule, headers=headers).status_code == 201
    with ExitStack() as first:
        _stack(first, tmp_path, 1)
        # When the queue fills (no bulk worker yet), the alert goes pending
        for _ in range(5):
            enqueue(JobRequest(DIAG_NOOP.name, queue="bulk"))
        wait_for(lambda: _state(client, headers) == "pending", timeout=3 * TICK_S + 10,
                 what="the alert to be pending")  # fmt: skip
    # And beat and the worker are stopped while it is pending, and started again
    pended = _events()["pend"].at
    with ExitStack() as second:
        _stack(second, tmp_path, 2)
        wait_for(lambda: _notices(sink) == ["[FIRING]"], timeout=FOR_S + 3 * TICK_S + 20,
                 what="one FIRING at the sink")  # fmt: skip
        # Then it fired on its original schedule: FOR_S after it went pending
        assert _events()["fire"].at - pended == timedelta(seconds=FOR_S)
        # When the queue drains (a bulk worker runs its jobs)
        bulk = celery_worker_command(["bulk"], "bulk", concurrency=2)
        with running(bulk, tmp_path / "bulk.log", ENV):
            wait_for(lambda: _notices(sink) == ["[FIRING]", "[RESOLVED]"],
                     timeout=4 * TICK_S + 20, what="one RESOLVED at the sink")  # fmt: skip
            # Then two more slots evaluated send nothing more
            resolved = _last_slot()
            wait_for(lambda: _last_slot() >= resolved + timedelta(seconds=2 * TICK_S),
                     timeout=4 * TICK_S, what="two more slots")  # fmt: skip
    assert _notices(sink) == ["[FIRING]", "[RESOLVED]"]
    assert _state(client, headers) == "inactive"
