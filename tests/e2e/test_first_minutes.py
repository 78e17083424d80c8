"""A new user's first minutes: `make run` in one terminal, the CLI in another, no variable set.

Each stack runs from a directory of its own that holds only a Procfile, as a fresh clone would,
with the default ``./var``; the second terminal is a subprocess started in that directory
with the virtualenv on PATH and no TASKYARD_* variable.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from tests.support.devstack import (
    START_TIMEOUT_S,
    STOP_TIMEOUT_S,
    Proc,
    assert_running,
    clean_env,
    command_line,
    descendants,
    dev_stack,
    free_port,
    get,
    processes,
    still_alive,
)
from tests.support.services import RedisServer
from tests.support.waiting import wait_for

pytestmark = pytest.mark.e2e

COMMAND_TIMEOUT_S = 60


class Stack:
    """A running `taskyard dev`, its directory, API and log."""

    def __init__(self, process: subprocess.Popen[bytes], directory: Path, api: str, log: Path):
        self.process, self.directory, self.api, self.log = process, directory, api, log

    def run(self, *command: str, **env: str) -> subprocess.CompletedProcess[str]:
        """``command`` in a second terminal in the stack's directory: venv active, no TASKYARD_*."""
        return subprocess.run(
            list(command), cwd=self.directory, env=clean_env(**env), capture_output=True,
            text=True, timeout=COMMAND_TIMEOUT_S,
        )  # fmt: skip

    def admin_headers(self) -> dict[str, str]:
        """The Authorization header of the stack's saved admin key."""
        key = (self.directory / "var" / "dev-admin.key").read_text().strip()
        return {"Authorization": f"Bearer {key}"}

    def job_status(self, job_id: str) -> str | None:
        """The job's status once it has finished, else ``None`` (read over the API)."""
        assert_running(self.process)
        response = httpx.get(
            f"{self.api}/v1/jobs/{job_id}", headers=self.admin_headers(), timeout=5
        )
        status: str = response.json()["status"]
        return status if status in {"succeeded", "failed", "dead", "cancelled"} else None


def fresh_clone(root: Path, project_root: Path) -> Path:
    """A directory holding the project's Procfile and nothing else (the package is installed)."""
    root.mkdir()
    shutil.copy(project_root / "Procfile", root / "Procfile")
    return root


@pytest.fixture
def ports() -> dict[str, str]:
    """`make run`'s port variables, on free ports."""
    return {"TASKYARD_API_PORT": str(free_port()), "TASKYARD_FLOWER_PORT": str(free_port())}


@contextmanager
def started_stack(directory: Path, ports: dict[str, str], log: Path) -> Iterator[Stack]:
    """`taskyard dev` as `make run` starts it (ports from variables, var dir ./var), ready."""
    with dev_stack(directory, directory / "var", log, env=clean_env(**ports)) as process:
        stack = Stack(process, directory, f"http://127.0.0.1:{ports['TASKYARD_API_PORT']}", log)

        def ready() -> bool:
            assert_running(process)
            response = get(f"{stack.api}/readyz")
            return response is not None and response.status_code == 200

        wait_for(ready, timeout=START_TIMEOUT_S, interval=0.5, what="GET /readyz to answer 200")
        yield stack


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, project_root: Path) -> Iterator[Stack]:
    """One stack for the tests that only read from it."""
    directory = fresh_clone(tmp_path_factory.mktemp("fm") / "clone", project_root)
    ports = {"TASKYARD_API_PORT": str(free_port()), "TASKYARD_FLOWER_PORT": str(free_port())}
    with started_stack(directory, ports, directory.parent / "dev.log") as running:
        yield running


def test_the_cli_and_celery_reach_the_stack_started_in_their_directory(stack: Stack) -> None:
    # Given `make run` is up, and a second terminal in its directory with no TASKYARD_* set
    # When the README's steps run there
    enqueued = stack.run("taskyard", "jobs", "enqueue", "diag.noop")
    listed = stack.run("taskyard", "-v", "jobs", "list")
    dead = stack.run("taskyard", "dead-letters", "list")
    ping = stack.run("celery", "-A", "workers.app", "inspect", "ping")

    # Then the job went through the stack's own broker and store, and ran
    assert enqueued.returncode == 0, enqueued.stderr
    job_id = enqueued.stdout.splitlines()[-1]
    assert wait_for(lambda: stack.job_status(job_id), timeout=30, what="the job") == "succeeded"
    assert listed.returncode == 0, listed.stderr
    assert job_id in listed.stdout
    socket_url = f"redis+socket://{stack.directory / 'var' / 'redis' / 'redis.sock'}"
    assert socket_url in listed.stderr, "-v names the stack's broker"
    assert f"sqlite:///{stack.directory / 'var' / 'taskyard.db'}" in listed.stderr
    assert "var/dev.env" in listed.stderr
    assert dead.returncode == 0, dead.stderr
    # And Celery's own CLI reaches the stack's workers
    assert ping.returncode == 0, ping.stdout + ping.stderr
    for node in ("realtime@", "default@", "bulk@"):
        assert node in ping.stdout


def test_doctor_passes_on_the_stack_and_fails_on_another_broker(
    stack: Stack, redis_service: RedisServer, redis_db: int
) -> None:
    # Given the stack is up
    # When the doctor runs beside it
    healthy = stack.run("taskyard", "-v", "doctor")

    # Then every check passes, the round trip and the API's view of its job included
    assert healthy.returncode == 0, healthy.stdout + healthy.stderr
    rows = [line.split("│") for line in healthy.stdout.splitlines() if line.startswith("│")]
    checks = {row[1].strip(): row[2].strip() for row in rows if row[1].strip()}
    assert list(checks) == ["settings", "broker", "store", "workers", "round trip", "api"]
    assert set(checks.values()) == {"ok"}, healthy.stdout
    assert "sees the doctor's job" in healthy.stdout
    assert "var/dev.env" in healthy.stderr, "-v names where the settings come from"

    # When the broker named is another Redis (the store is still the stack's)
    store = f"sqlite:///{stack.directory / 'var' / 'taskyard.db'}"
    wrong = stack.run(
        "taskyard", "doctor", TASKYARD_BROKER_URL=redis_service.url(redis_db),
        TASKYARD_DATABASE_URL=store,
    )  # fmt: skip

    # Then the workers line fails with what to do, the exit is 1, and stderr has one line
    assert wrong.returncode == 1, wrong.stdout
    workers = next(line for line in wrong.stdout.splitlines() if "workers" in line)
    assert "FAIL" in workers
    assert "no worker answers on this broker" in workers
    assert "start the workers" in wrong.stdout
    [summary] = wrong.stderr.strip().splitlines()
    assert summary.startswith("taskyard: ")
    assert "(workers" in summary


def test_a_second_make_run_beside_a_running_stack_is_one_line(stack: Stack) -> None:
    # Given the stack is up; when `make run` is started again in its directory
    again = stack.run("taskyard", "dev")

    # Then it refuses at once, in one line, and the stack keeps running
    assert again.returncode == 1, again.stdout
    [line] = again.stderr.strip().splitlines()
    assert line.startswith(f"taskyard: a dev stack already runs on {stack.directory / 'var'}")
    assert_running(stack.process)


def celery_main(stack_pid: int, node: str) -> Proc | None:
    """The main process of the stack's Celery worker ``node`` (not its shell, not its pool)."""
    below = descendants(stack_pid)
    by_pid = {p.pid: p for p in below}

    def is_worker(proc: Proc) -> bool:
        args = command_line(proc.pid)
        return b"worker" in args and f"{node}@%h".encode() in args

    mains = [p for p in below if is_worker(p) and not is_worker(by_pid.get(p.ppid, p))]
    return mains[0] if len(mains) == 1 else None


def test_a_killed_worker_is_restarted_and_ctrl_c_still_stops_everything(
    tmp_path: Path, project_root: Path, ports: dict[str, str]
) -> None:
    directory = fresh_clone(tmp_path / "clone", project_root)
    with started_stack(directory, ports, tmp_path / "dev.log") as stack:
        # Given the stack is up with its default worker
        worker = wait_for(lambda: celery_main(stack.process.pid, "default"), what="worker")

        # When the worker's main process is killed
        os.kill(worker.pid, signal.SIGKILL)

        # Then a line says so and when it restarts, and it comes back
        def restarted() -> bool:
            assert_running(stack.process)
            text = stack.log.read_text(errors="replace")
            return "worker-default.1 exited on its own with code 137 (SIGKILL)" in text and (
                "restarting it in 1 s" in text
            )

        wait_for(restarted, timeout=30, interval=0.5, what="the restart line")
        replacement = wait_for(
            lambda: celery_main(stack.process.pid, "default"), timeout=30, what="a new worker"
        )
        assert replacement.pid != worker.pid

        # And the stack keeps serving: a job on the default queue succeeds
        created = httpx.post(
            f"{stack.api}/v1/jobs", json={"type": "diag.noop", "payload": {}, "queue": "default"},
            headers=stack.admin_headers(), timeout=10,
        )  # fmt: skip
        assert created.status_code == 202, created.text
        job_id = created.json()["id"]
        assert wait_for(lambda: stack.job_status(job_id), timeout=60, what="the job") == "succeeded"

        # When the operator presses Ctrl-C
        started = descendants(stack.process.pid)
        os.killpg(stack.process.pid, signal.SIGINT)

        # Then everything stops, the restarted worker included
        assert stack.process.wait(STOP_TIMEOUT_S) == 0
        assert [p for p in processes().values() if p.pgid == stack.process.pid] == []
        assert still_alive(started) == set()

        # And the CLI says at once that the stack is not running, rather than wait on it
        began = time.monotonic()
        after = stack.run("taskyard", "jobs", "enqueue", "diag.noop")
        assert after.returncode == 1
        assert "is not running" in after.stderr
        assert "make run" in after.stderr
        assert time.monotonic() - began < 20


@pytest.mark.parametrize("variable", ["TASKYARD_API_PORT", "TASKYARD_FLOWER_PORT"])
def test_a_taken_port_is_one_line_naming_its_variable_before_anything_starts(
    tmp_path: Path, project_root: Path, ports: dict[str, str], variable: str
) -> None:
    directory = fresh_clone(tmp_path / "clone", project_root)
    with socket.socket() as busy:
        # Given something listens on the port `make run` is told to use
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        taken = busy.getsockname()[1]
        env = clean_env(**{**ports, variable: str(taken)})

        # When the stack starts
        with dev_stack(directory, directory / "var", tmp_path / "dev.log", env=env) as process:
            code = process.wait(COMMAND_TIMEOUT_S)

    # Then it exits 1 with one line naming the port and the variable, having started nothing
    lines = (tmp_path / "dev.log").read_text().splitlines()
    assert code == 1, lines
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"taskyard: port {taken} on 127.0.0.1 is already in use")
    assert f"{variable}=" in lines[0]
    assert not (directory / "var").exists()
