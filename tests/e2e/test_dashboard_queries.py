"""The Grafana dashboard against a real Prometheus scraping a real stack on loopback: the API
(``/metrics``, two processes), a worker, a dispatcher and a beat (each on its own
``TASKYARD_METRICS_PORT``). After some traffic (jobs that succeed, fail and wait, a delayed
job, schedule fires, maintenance runs, a webhook delivery, a poison message), every query of
every panel parses and returns data."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import ExitStack, suppress
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from schedules import store as schedule_store
from schedules.entries import ScheduleSpec
from schedules.slots import Timing
from tasks.notifications import notify
from tasks.notifications import store as channel_store
from tasks.notifications.channels import parse_config
from tasks.notifications.notify import NotificationRequest
from tests.support.channels import channel_settings
from tests.support.processes import BIN, answers, celery_worker_command, running
from tests.support.prometheus import prometheus_server, query, require_tool
from tests.support.services import RedisServer
from tests.support.sinks import free_port, http_sink
from tests.support.waiting import wait_for
from workers.store.keys import create_key

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
DASHBOARD = ROOT / "deploy" / "grafana" / "dashboards" / "taskyard-overview.json"
#: Stands in for Grafana's ``$__rate_interval``: longer than the whole test, so every
#: observation made after Prometheus's first scrape of a series is in the window.
RATE_WINDOW = "10m"
#: Bounds: the stack up, then data for every panel.
START_TIMEOUT_S = 90
DATA_TIMEOUT_S = 120
SECRET = "whsec-dashboard-0123456789"
BEAT = [str(BIN / "celery"), "-A", "workers.app", "beat", "-S",
        "schedules.scheduler:TaskyardScheduler", "--loglevel", "INFO"]  # fmt: skip


@pytest.fixture(scope="module")
def database_url(preferred_database_url: str) -> str:
    return preferred_database_url


def panel_queries() -> list[tuple[str, str]]:
    """``(panel title, expression)`` for every query of every panel, rows included."""
    dashboard = json.loads(DASHBOARD.read_text())
    found = []
    for panel in dashboard["panels"]:
        for inner in [panel, *panel.get("panels", [])]:
            for target in inner.get("targets", []):
                expr = target["expr"].replace("$__rate_interval", RATE_WINDOW)
                found.append((inner["title"], expr))
    return found


def _prometheus_config(path: Path, ports: dict[str, int]) -> Path:
    workers = [
        {"targets": [f"127.0.0.1:{ports[name]}"], "labels": {"component": name}}
        for name in ("worker", "dispatcher", "beat")
    ]
    config = {
        "global": {"scrape_interval": "1s", "scrape_timeout": "1s", "evaluation_interval": "1s"},
        "scrape_configs": [
            {"job_name": "taskyard-api",
             "static_configs": [{"targets": [f"127.0.0.1:{ports['api']}"]}]},
            {"job_name": "taskyard-workers", "static_configs": workers},
        ],
    }  # fmt: skip
    path.write_text(yaml.safe_dump(config))
    return path


@pytest.fixture(scope="module")
def stack(
    runtime: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, int]]:
    """The API, a worker on every queue, a dispatcher and a beat, each exporting on its own
    port, with a webhook channel to a loopback sink; yields the ports by process."""
    require_tool("prometheus")  # before anything starts
    logs = tmp_path_factory.mktemp("stack")
    ports = {name: free_port() for name in ("api", "worker", "dispatcher", "beat")}
    unset = ["PROMETHEUS_MULTIPROC_DIR"]  # each process tree its own, as in production

    def exporting(name: str) -> dict[str, str]:
        return {"TASKYARD_METRICS_PORT": str(ports[name]), "TASKYARD_BEAT_STATIC_ENTRIES": "false"}

    schedule_store.create_schedule(ScheduleSpec("e2e.noop", "diag.noop", Timing(interval_s=1)))
    schedule_store.create_schedule(
        ScheduleSpec("e2e.canary", "maintenance.canary", Timing(interval_s=2))
    )
    api = [str(BIN / "taskyard"), "api", "--port", str(ports["api"]), "--workers", "2"]
    worker = celery_worker_command(["critical", "high", "default", "bulk"], "default", 2)
    dispatcher = [str(BIN / "taskyard"), "dispatcher"]
    with ExitStack() as stack, channel_settings(), http_sink(SECRET) as sink:
        config = {"kind": "webhook", "url": sink.url + "/hook", "secret": SECRET}
        channel_store.create_channel("e2e-hook", parse_config(config))
        for name, command in (("api", api), ("worker", worker), ("dispatcher", dispatcher),
                              ("beat", BEAT)):  # fmt: skip
            env = {} if name == "api" else exporting(name)
            stack.enter_context(running(command, logs / f"{name}.log", env=env, unset=unset))
        for name, port in ports.items():
            url = f"http://127.0.0.1:{port}{'/healthz' if name == 'api' else '/metrics'}"
            wait_for(partial(answers, url), timeout=START_TIMEOUT_S, interval=0.2,
                     what=f"the {name} to answer")  # fmt: skip
        yield ports


def _traffic(api: str, headers: dict[str, str], redis: Any) -> None:
    """One round of everything the dashboard shows."""
    for body in ({"type": "diag.noop", "payload": {}},
                 {"type": "diag.noop", "payload": {}, "queue": "high"},
                 {"type": "diag.fail", "payload": {"message": "on purpose"}},
                 {"type": "diag.noop", "payload": {}, "queue": "bulk", "delay_s": 1}):  # fmt: skip
        created = httpx.post(f"{api}/v1/jobs", json=body, headers=headers, timeout=10)
        assert created.status_code == 202, created.text
    assert httpx.get(f"{api}/v1/jobs/not-a-job", headers=headers, timeout=10).status_code == 404
    notify.send(NotificationRequest(channels=("e2e-hook",), subject="s", text="t"))
    redis.lpush("default", "this is not json")  # a poison message for the worker to set aside


def test_every_panel_query_parses_and_returns_data(
    stack: dict[str, int], redis_service: RedisServer, redis_db: int, tmp_path: Path
) -> None:
    # Given Prometheus scraping the stack every second
    config = _prometheus_config(tmp_path / "prometheus.yml", stack)
    (tmp_path / "data").mkdir()
    api = f"http://127.0.0.1:{stack['api']}"
    headers = {"Authorization": f"Bearer {create_key('e2e-dashboard', ['admin']).secret}"}
    redis = redis_service.client(redis_db)
    queries = panel_queries()
    assert len(queries) >= 20
    missing = queries
    with prometheus_server(config, free_port(), tmp_path / "data") as prometheus:
        # When traffic flows, a round per check, until every query answers (or the bound)
        def every_panel_answers() -> bool:
            nonlocal missing
            _traffic(api, headers, redis)
            missing = [(title, expr) for title, expr in missing if not _has_data(prometheus, expr)]
            return not missing

        with suppress(AssertionError):
            wait_for(every_panel_answers, timeout=DATA_TIMEOUT_S, interval=1, what="panel data")

    # Then every panel's every query returned data
    assert missing == []


def _has_data(prometheus: str, expr: str) -> bool:
    """Whether ``expr`` parses and returns at least one series with a number (not NaN)."""
    return any(sample["value"][1] != "NaN" for sample in query(prometheus, expr))
