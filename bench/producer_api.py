"""The producer API as a subprocess (``taskyard api``, as in the Procfile) and an HTTP client."""

from __future__ import annotations

import http.client
import json
import subprocess
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from bench.stack import BIN, BenchError, free_port, spawn
from bench.system import poll
from bench.taskyard_side import TaskyardSystem
from workers.store.keys import create_key


@dataclass(frozen=True)
class Api:
    """A running API: where it listens and a key allowed to enqueue."""

    port: int
    secret: str


def _healthy(process: subprocess.Popen[bytes], port: int) -> bool:
    if process.poll() is not None:
        raise BenchError(f"the API exited with {process.returncode}")
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
    try:
        connection.request("GET", "/healthz")
        return connection.getresponse().status == 200
    except OSError:
        return False
    finally:
        connection.close()


@contextmanager
def running_api(taskyard: TaskyardSystem) -> Iterator[Api]:
    """``taskyard api`` as in the Procfile (``TASKYARD_API_WORKERS`` processes, 2 by default)
    on a free loopback port."""
    port = free_port()
    command = [
        str(BIN / "taskyard"), "api", "--host", "127.0.0.1", "--port", str(port),
    ]  # fmt: skip
    secret = create_key(f"bench-{uuid.uuid4().hex[:8]}", ["jobs:write"]).secret
    with spawn(command, taskyard.services.logs / "api.log", taskyard.env) as process:
        poll(lambda: _healthy(process, port), "the API to answer", timeout=60, interval=0.1)
        yield Api(port, secret)


class Client:
    """One keep-alive connection; ``post`` fails loudly on anything but 202."""

    def __init__(self, api: Api) -> None:
        self._connection = http.client.HTTPConnection("127.0.0.1", api.port, timeout=30)
        self._headers = {
            "Authorization": f"Bearer {api.secret}",
            "Content-Type": "application/json",
        }

    def post(self, path: str, body: bytes) -> None:
        """POST ``body`` and read the whole answer."""
        self._connection.request("POST", path, body, self._headers)
        response = self._connection.getresponse()
        answer = response.read()
        if response.status != 202:
            raise BenchError(f"POST {path} answered {response.status}: {answer[:200]!r}")


def job_body() -> bytes:
    """One ``diag.noop`` job."""
    return json.dumps({"type": "diag.noop"}).encode()


def batch_body(size: int) -> bytes:
    """A batch of ``size`` ``diag.noop`` jobs."""
    return json.dumps({"jobs": [{"type": "diag.noop"}] * size}).encode()
