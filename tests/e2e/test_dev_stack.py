"""`taskyard dev` from nothing: embedded Redis and SQLite, a job over HTTP, Flower, clean Ctrl-C."""

from __future__ import annotations

import os
import signal
import socket
import stat
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis

from tests.support.waiting import wait_for

pytestmark = pytest.mark.e2e

TASKYARD = Path(sys.executable).parent / "taskyard"
START_TIMEOUT_S = 60
STOP_TIMEOUT_S = 30


@dataclass(frozen=True)
class Proc:
    """A process as /proc shows it; ``started`` tells it apart from a later one with its pid."""

    pid: int
    ppid: int
    pgid: int
    state: str
    started: int


def processes() -> dict[int, Proc]:
    """Every live (non-zombie) process on the machine."""
    found: dict[int, Proc] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            text = (entry / "stat").read_text()
        except OSError:
            continue
        fields = text.rsplit(")", 1)[1].split()
        proc = Proc(int(entry.name), int(fields[1]), int(fields[2]), fields[0], int(fields[19]))
        if proc.state != "Z":
            found[proc.pid] = proc
    return found


def descendants(root: int) -> set[Proc]:
    """The live processes below ``root`` (Procfile processes run in sessions of their own)."""
    table = processes()
    found: set[Proc] = set()
    frontier = [root]
    while frontier:
        parent = frontier.pop()
        children = [p for p in table.values() if p.ppid == parent]
        found.update(children)
        frontier.extend(p.pid for p in children)
    return found


def still_alive(procs: set[Proc]) -> set[Proc]:
    """Those of ``procs`` that are still running (same pid, same start time)."""
    table = processes()
    return {p for p in procs if (now := table.get(p.pid)) is not None and now.started == p.started}


def free_port() -> int:
    """A TCP port nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def assert_running(process: subprocess.Popen[bytes]) -> None:
    """Fail at once, rather than at a deadline, when the stack has stopped."""
    assert process.poll() is None, f"taskyard dev exited early with {process.returncode}"


def get(url: str, **kwargs: Any) -> httpx.Response | None:
    """A GET, or ``None`` while the server is not accepting connections yet."""
    try:
        return httpx.get(url, timeout=5, **kwargs)
    except httpx.TransportError:
        return None


@contextmanager
def dev_stack(
    project_root: Path, var_dir: Path, api_port: int, flower_port: int, log: Path
) -> Iterator[subprocess.Popen[bytes]]:
    """`taskyard dev` in its own process group, with no broker or store configured."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("TASKYARD_")}
    env["PYTHONUNBUFFERED"] = "1"
    command = [str(TASKYARD), "dev", "--api-port", str(api_port), "--flower-port",
               str(flower_port), "--var-dir", str(var_dir)]  # fmt: skip
    with log.open("wb") as output:
        process = subprocess.Popen(
            command, cwd=project_root, env=env, stdout=output, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
    try:
        yield process
    except BaseException:
        print(log.read_text(errors="replace"))
        raise
    finally:
        kill_everything(process, var_dir)


def kill_everything(process: subprocess.Popen[bytes], var_dir: Path) -> None:
    """SIGKILL the stack's group, its descendants, and anything else naming its var dir."""
    doomed = descendants(process.pid) | {p for p in processes().values() if names(p, var_dir)}
    with suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    for leftover in still_alive(doomed):
        os.kill(leftover.pid, signal.SIGKILL)
    process.wait()


def names(proc: Proc, var_dir: Path) -> bool:
    """Whether ``proc``'s command line mentions ``var_dir`` (the Redis, beat, Flower of a stack)."""
    try:
        return str(var_dir).encode() in Path(f"/proc/{proc.pid}/cmdline").read_bytes()
    except OSError:
        return False


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
    api_port, flower_port = free_port(), free_port()
    api = f"http://127.0.0.1:{api_port}"
    flower = f"http://127.0.0.1:{flower_port}"
    with dev_stack(project_root, var_dir, api_port, flower_port, tmp_path / "dev.log") as process:
        # Given the stack is up: the API is ready and Flower hears the workers' events
        def ready() -> bool:
            assert_running(process)
            response = get(f"{api}/readyz")
            return response is not None and response.status_code == 200

        wait_for(ready, timeout=START_TIMEOUT_S, interval=0.5, what="GET /readyz to answer 200")
        socket_path = var_dir / "redis" / "redis.sock"
        assert socket_path.is_socket(), "the embedded Redis should serve the var dir's socket"
        assert (var_dir / "taskyard.db").is_file(), "the store should be SQLite in the var dir"
        for secret in ("dev-admin.key", "flower-credentials"):
            assert stat.S_IMODE((var_dir / secret).stat().st_mode) == 0o600
        admin_key = (var_dir / "dev-admin.key").read_text().strip()
        user, _, password = (var_dir / "flower-credentials").read_text().strip().partition(":")
        flower_auth = httpx.BasicAuth(user, password)

        def flower_sees_workers() -> bool:
            assert_running(process)
            response = get(f"{flower}/workers", params={"json": 1}, auth=flower_auth)
            return (
                response is not None
                and response.status_code == 200
                and bool(response.json()["data"])
            )

        wait_for(flower_sees_workers, timeout=START_TIMEOUT_S, interval=0.5, what="Flower workers")

        # When a diag.noop job is enqueued over HTTP with the stack's admin key
        headers = {"Authorization": f"Bearer {admin_key}"}
        created = httpx.post(
            f"{api}/v1/jobs", json={"type": "diag.noop", "payload": {}}, headers=headers, timeout=10
        )
        assert created.status_code == 202, created.text
        job_id = created.json()["id"]

        # Then it succeeds, and Flower lists it
        def job_status() -> str | None:
            assert_running(process)
            response = httpx.get(f"{api}/v1/jobs/{job_id}", headers=headers, timeout=5)
            status: str = response.json()["status"]
            return status if status in {"succeeded", "failed", "dead"} else None

        assert wait_for(job_status, timeout=30, what=f"job {job_id} to finish") == "succeeded"

        def flower_lists_job() -> bool:
            assert_running(process)
            response = get(f"{flower}/api/tasks", auth=flower_auth)
            return (
                response is not None and response.status_code == 200 and job_id in response.json()
            )

        wait_for(flower_lists_job, timeout=30, interval=0.5, what="Flower to list the job")

        # When the operator presses Ctrl-C (SIGINT to the group) or a supervisor sends SIGTERM
        started = descendants(process.pid)
        assert len(started) >= 6, started
        stop(process.pid)

        # Then it exits 0 in time, and nothing it started is left: group, Procfile processes, Redis
        assert process.wait(STOP_TIMEOUT_S) == 0
        group_left = [p for p in processes().values() if p.pgid == process.pid]
        assert group_left == []
        assert still_alive(started) == set()
        client = redis.Redis(unix_socket_path=str(socket_path))
        with pytest.raises(redis.ConnectionError):
            client.ping()
        client.close()
