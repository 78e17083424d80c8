"""Tracing's switch and the trace context on both publishing paths' messages."""

from __future__ import annotations

import base64
import json
import subprocess
import sys

import orjson

from workers.messages import Message, taskyard_headers
from workers.observability import tracing
from workers.speedups.redis_publish import envelope

TRACEPARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
MESSAGE = Message("6f1c0a52-9a4e-4f53-9a55-2f3c1b8d0c11", "diag.noop", {}, "default", 5, "cid")

UNTRACED_PROCESS = """
import sys
from api.app import create_app
from workers.observability import tracing
create_app()
assert not tracing.install("worker")
# FastAPI imports OpenTelemetry's API itself; the SDK, its exporter and instrumentations not.
sdk = ("opentelemetry.sdk.trace", "opentelemetry.exporter", "opentelemetry.instrumentation")
print(sorted(name for name in sys.modules if name.startswith(sdk)))
"""


def test_off_a_process_imports_nothing_of_the_sdk() -> None:
    # Given TASKYARD_TRACING unset (off) in a fresh process
    # When the API is built and a worker would install tracing
    out = subprocess.run(
        [sys.executable, "-c", UNTRACED_PROCESS], capture_output=True, text=True, check=True,
        env={"PATH": "/usr/bin:/bin", "TASKYARD_DATABASE_URL": "sqlite://"},
    )  # fmt: skip
    # Then nothing of OpenTelemetry's SDK was loaded: an untraced deployment pays nothing
    assert out.stdout.strip() == "[]", out.stdout + out.stderr


def test_off_the_hooks_do_nothing() -> None:
    assert not tracing.ACTIVE
    assert tracing.carrier() is None
    assert tracing.current_ids() is None
    with tracing.enqueue_span([{"traceparent": TRACEPARENT}]), tracing.dispatch_span():
        pass
    assert "traceparent" not in taskyard_headers(MESSAGE)


def test_the_speedups_push_carries_the_trace_context_in_the_message_headers() -> None:
    # Given a message carrying a trace context (as tracing's publish span hands it on)
    traced = Message(**{**vars(MESSAGE), "trace": {"traceparent": TRACEPARENT}})
    # When the speedups build what they push to Redis, bypassing send_task
    _, stored = envelope(traced, "reply")
    # Then the headers Celery's worker reads into task.request carry it, as send_task's do
    message = orjson.loads(stored)
    assert message["headers"]["traceparent"] == TRACEPARENT
    assert taskyard_headers(traced)["traceparent"] == TRACEPARENT
    assert json.loads(base64.b64decode(message["body"]))[0] == [{}]
