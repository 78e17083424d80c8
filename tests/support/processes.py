"""Real Taskyard processes (workers, API) as subprocesses, always stopped afterwards."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path

import httpx

from tests.support.waiting import wait_for

BIN = Path(sys.executable).parent


def celery_worker_command(queues: Sequence[str], name: str, concurrency: int = 1) -> list[str]:
    """The Procfile's worker command for ``queues`` (prefork, as in production)."""
    return [
        str(BIN / "celery"), "-A", "workers.app", "worker",
        "-Q", ",".join(queues), "-n", f"{name}@%h",
        "--concurrency", str(concurrency), "--loglevel", "INFO", "--without-mingle",
        "--without-gossip",
    ]  # fmt: skip


def answers(url: str) -> bool:
    """Whether ``url`` answers 200 now (a process's probe; ``False`` while it cannot connect)."""
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def wait_worker_ready(
    process: subprocess.Popen[bytes], log_path: Path, timeout: float = 60.0
) -> None:
    """Wait until a Celery worker started by :func:`running` logs that it is ready (an INFO
    line: ``TASKYARD_LOG_LEVEL`` must let it through)."""

    def settled() -> bool:
        return process.poll() is not None or b" ready." in log_path.read_bytes()

    wait_for(settled, timeout=timeout, what=f"{log_path.stem} to be ready")
    assert process.poll() is None, f"{log_path.stem} exited with {process.returncode}"


def stop_group(process: subprocess.Popen[bytes], timeout: float = 20.0) -> None:
    """SIGTERM the process group, then SIGKILL whatever is left after ``timeout``."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        with suppress(subprocess.TimeoutExpired):
            process.wait(timeout)
    with suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()


@contextmanager
def running(
    command: Sequence[str],
    log_path: Path,
    env: dict[str, str] | None = None,
    unset: Sequence[str] = (),
) -> Iterator[subprocess.Popen[bytes]]:
    """Run ``command`` in its own process group, output to ``log_path``; stop it on exit."""
    full_env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
    for name in unset:
        full_env.pop(name, None)
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            list(command), stdout=log, stderr=subprocess.STDOUT, env=full_env,
            start_new_session=True,
        )  # fmt: skip
        try:
            yield process
        finally:
            stop_group(process)
