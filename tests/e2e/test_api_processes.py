"""The API's process supervisor: a slow-starting API process is waited for, not killed."""

from __future__ import annotations

import socket
from pathlib import Path

import httpx
import pytest

from tests.support.processes import BIN, running
from tests.support.services import RedisServer
from tests.support.waiting import wait_for

pytestmark = pytest.mark.e2e

#: Longer than uvicorn's default 5 s health-ping deadline, well under ours.
SLOW_START_S = 8

SITECUSTOMIZE = f"""
import sys, time
# Only the spawned API processes start slowly, as they do on a loaded machine.
if "--multiprocessing-fork" in sys.argv:
    time.sleep({SLOW_START_S})
"""


def free_port() -> int:
    """A TCP port nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def healthy(url: str) -> bool:
    """Whether ``url`` answers 200."""
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.TransportError:
        return False


def test_api_processes_that_start_slowly_are_waited_for(
    tmp_path: Path, redis_service: RedisServer, redis_db: int
) -> None:
    # Given API processes that take longer to start than uvicorn's default health deadline
    hook = tmp_path / "hook"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text(SITECUSTOMIZE)
    port = free_port()
    env = {
        "PYTHONPATH": str(hook),
        "TASKYARD_BROKER_URL": redis_service.url(redis_db),
        "TASKYARD_DATABASE_URL": f"sqlite:///{tmp_path / 'taskyard.db'}",
    }
    log = tmp_path / "api.log"
    command = [str(BIN / "taskyard"), "api", "--port", str(port), "--workers", "2"]
    # When the API starts
    with running(command, log, env=env):
        # Then it serves once its processes are up, and none was killed for being slow
        wait_for(
            lambda: healthy(f"http://127.0.0.1:{port}/healthz"),
            timeout=SLOW_START_S * 6,
            interval=0.5,
            what="GET /healthz to answer 200",
        )
    assert "died" not in log.read_text(), log.read_text()[-2000:]
