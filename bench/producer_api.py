"""The producer API as a subprocess (``taskyard api``, as in the Procfile) and an HTTP client."""

from __future__ import annotations

import http.client
import json
import socket
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
def running_api(taskyard: TaskyardSystem, log: str = "api") -> Iterator[Api]:
    """``taskyard api`` as in the Procfile (``TASKYARD_API_WORKERS`` processes, 2 by default)
    on a free loopback port."""
    port = free_port()
    command = [
        str(BIN / "taskyard"), "api", "--host", "127.0.0.1", "--port", str(port),
    ]  # fmt: skip
    secret = create_key(f"bench-{uuid.uuid4().hex[:8]}", ["jobs:write"]).secret
    with spawn(command, taskyard.services.logs / f"{log}.log", taskyard.env) as process:
        poll(lambda: _healthy(process, port), "the API to answer", timeout=60, interval=0.1)
        yield Api(port, secret)


class Client:
    """One keep-alive HTTP/1.1 connection on a plain socket; ``post`` fails loudly on anything
    but 202.

    The load comes from 16 threads sharing one interpreter, so the client runs as little
    Python as it can: ``http.client`` parses every answer's headers with the email package,
    which cost the generator about 0.3 ms a request, and the threads' waits for the GIL then
    showed up in the latencies it measured as if they were the API's."""

    def __init__(self, api: Api) -> None:
        self._socket = socket.create_connection(("127.0.0.1", api.port), timeout=30)
        self._socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._headers = (
            f"Host: 127.0.0.1:{api.port}\r\nAuthorization: Bearer {api.secret}\r\n"
            "Content-Type: application/json\r\n"
        )
        self._unread = bytearray()

    def post(self, path: str, body: bytes) -> None:
        """POST ``body`` and read the whole answer."""
        head = f"POST {path} HTTP/1.1\r\n{self._headers}Content-Length: {len(body)}\r\n\r\n"
        self._socket.sendall(head.encode() + body)
        status, answer = self._answer()
        if status != 202:
            raise BenchError(f"POST {path} answered {status}: {answer[:200]!r}")

    def _answer(self) -> tuple[int, bytes]:
        while (end := self._unread.find(b"\r\n\r\n")) < 0:
            self._receive()
        status_line, *fields = bytes(self._unread[:end]).split(b"\r\n")
        lengths = [f.split(b":", 1)[1] for f in fields if f.lower().startswith(b"content-length:")]
        if not lengths:
            raise BenchError(f"an answer without Content-Length: {status_line!r}")
        stop = end + 4 + int(lengths[0])
        while len(self._unread) < stop:
            self._receive()
        body = bytes(self._unread[end + 4 : stop])
        del self._unread[:stop]
        return int(status_line.split()[1]), body

    def _receive(self) -> None:
        chunk = self._socket.recv(65536)
        if not chunk:
            raise BenchError("the API closed the connection")
        self._unread += chunk


def job_body() -> bytes:
    """One ``diag.noop`` job."""
    return json.dumps({"type": "diag.noop"}).encode()


def batch_body(size: int) -> bytes:
    """A batch of ``size`` ``diag.noop`` jobs."""
    return json.dumps({"jobs": [{"type": "diag.noop"}] * size}).encode()
