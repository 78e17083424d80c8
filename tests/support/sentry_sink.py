"""A local HTTP server standing in for Sentry's ingest: it keeps every envelope it is sent."""

from __future__ import annotations

import gzip
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import sentry_sdk


class _Handler(BaseHTTPRequestHandler):
    received: list[bytes]

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        if self.headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        self.received.append(body)
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@contextmanager
def sentry_sink(in_process: bool = True) -> Iterator[tuple[str, list[bytes]]]:
    """Yields a DSN pointing at the sink and the list its envelopes land in; Sentry is
    switched off again afterwards in this process, unless only other processes report to the
    sink (``in_process=False``): even ``sentry_sdk.init(dsn=None)`` installs the Celery
    integration, which adds headers to every later ``send_task`` here."""
    received: list[bytes] = []
    handler = type("Sink", (_Handler,), {"received": received})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://public@127.0.0.1:{server.server_address[1]}/1", received
    finally:
        if in_process:
            sentry_sdk.init(dsn=None)
        server.shutdown()
