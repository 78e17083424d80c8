"""`taskyard dev` from nothing: embedded Redis and SQLite, a job over HTTP, Flower, clean Ctrl-C."""

from __future__ import annotations

import os
import signal
import stat
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
import redis

from tests.support import devstack
from tests.support.waiting import wait_for

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize(
    "stop",
    [
        pytest.param(lambda pid: os.killpg(pid, signal.SIGINT), id="ctrl-c-to-the-group"),
        pytest.param(lambda pid: os.kill(pid, signal.SIGTERM), id="sigterm-to-taskyard"),
    ],
)
def test_dev_stack_runs_a_job_shows_it_in_flower_and_stops_cleanly(
    project_root: Path, tmp_path: Path, stop: Callable[[int], None]
) -> None:
    var_dir = tmp_path / "var"
    api_port, flower_port = devstack.free_port(), devstack.free_port()
    api = f"http://127.0.0.1:{api_port}"
    flower = f"http://127.0.0.1:{flower_port}"
    ports = ["--api-port", str(api_port), "--flower-port", str(flower_port)]
    args = [*ports, "--var-dir", str(var_dir)]
    with devstack.dev_stack(project_root, var_dir, tmp_path / "dev.log", args) as process:
        # Given the stack is up: the API is ready and Flower hears the workers' events
        def ready() -> bool:
            devstack.assert_running(process)
            response = devstack.get(f"{api}/readyz")
            return response is not None and response.status_code == 200

        wait_for(
            ready, timeout=devstack.START_TIMEOUT_S, interval=0.5, what="GET /readyz to answer 200"
        )
        socket_path = var_dir / "redis" / "redis.sock"
        assert socket_path.is_socket(), "the embedded Redis should serve the var dir's socket"
        assert (var_dir / "taskyard.db").is_file(), "the store should be SQLite in the var dir"
        for secret in ("dev-admin.key", "flower-credentials"):
            assert stat.S_IMODE((var_dir / secret).stat().st_mode) == 0o600
        admin_key = (var_dir / "dev-admin.key").read_text().strip()
        user, _, password = (var_dir / "flower-credentials").read_text().strip().partition(":")
        flower_auth = httpx.BasicAuth(user, password)

        def flower_sees_workers() -> bool:
            devstack.assert_running(process)
            response = devstack.get(f"{flower}/workers", params={"json": 1}, auth=flower_auth)
            return (
                response is not None
                and response.status_code == 200
                and bool(response.json()["data"])
            )

        wait_for(
            flower_sees_workers,
            timeout=devstack.START_TIMEOUT_S,
            interval=0.5,
            what="Flower workers",
        )

        # When a diag.noop job is enqueued over HTTP with the stack's admin key
        headers = {"Authorization": f"Bearer {admin_key}"}
        created = httpx.post(
            f"{api}/v1/jobs", json={"type": "diag.noop", "payload": {}}, headers=headers, timeout=10
        )
        assert created.status_code == 202, created.text
        job_id = created.json()["id"]

        # Then it succeeds, and Flower lists it
        def job_status() -> str | None:
            devstack.assert_running(process)
            response = httpx.get(f"{api}/v1/jobs/{job_id}", headers=headers, timeout=5)
            status: str = response.json()["status"]
            return status if status in {"succeeded", "failed", "dead"} else None

        assert wait_for(job_status, timeout=30, what=f"job {job_id} to finish") == "succeeded"

        def flower_lists_job() -> bool:
            devstack.assert_running(process)
            response = devstack.get(f"{flower}/api/tasks", auth=flower_auth)
            return (
                response is not None and response.status_code == 200 and job_id in response.json()
            )

        wait_for(flower_lists_job, timeout=30, interval=0.5, what="Flower to list the job")

        # When the operator presses Ctrl-C (SIGINT to the group) or a supervisor sends SIGTERM
        started = devstack.descendants(process.pid)
        assert len(started) >= 6, started
        stop(process.pid)

        # Then it exits 0 in time, and nothing it started is left: group, Procfile processes, Redis
        assert process.wait(devstack.STOP_TIMEOUT_S) == 0
        group_left = [p for p in devstack.processes().values() if p.pgid == process.pid]
        assert group_left == []
        assert devstack.still_alive(started) == set()
        client = redis.Redis(unix_socket_path=str(socket_path))
        with pytest.raises(redis.ConnectionError):
            client.ping()
        client.close()
