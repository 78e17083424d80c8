"""Bare Celery, the yardstick: ``celery -A bench.bare_app worker``, with a no-op, a sleep and
a webhook's POST (httpx, one client per pool process).

It shares the settings of Taskyard's app that matter for speed (serializers, prefetch, late
acks, task events: :data:`MIRRORED`, handed over by the harness in ``BENCH_BARE_CONF`` so the
two never drift apart) and nothing else: no job records, no routing, no priority steps,
Celery's default transport options, results ignored (Taskyard publishes with
``ignore_result``). ``BENCH_BARE_QUEUE_PRIORITY=1`` adds ``queue_order_strategy='priority'``
(its best set-up for urgent work on one worker).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Mapping
from typing import Any

import httpx
from celery import Celery

BROKER_ENV = "BENCH_BARE_BROKER_URL"
PRIORITY_ENV = "BENCH_BARE_QUEUE_PRIORITY"
CONF_ENV = "BENCH_BARE_CONF"
#: Celery settings bare Celery takes over from Taskyard's app.
MIRRORED = (
    "task_serializer",
    "result_serializer",
    "accept_content",
    "task_acks_late",
    "task_reject_on_worker_lost",
    "worker_prefetch_multiplier",
    "worker_send_task_events",
    "task_send_sent_event",
)
NOOP = "bare.noop"
SLEEP = "bare.sleep"
POST = "bare.post"


_clients: dict[int, httpx.Client] = {}


def _client() -> httpx.Client:
    """The pool process's one HTTP client, made after the fork, as a bare task would keep it."""
    pid = os.getpid()
    if pid not in _clients:
        _clients[pid] = httpx.Client(timeout=10, trust_env=False)
    return _clients[pid]


def build_app(broker_url: str, mirrored: Mapping[str, Any], queue_priority: bool = False) -> Celery:
    """A bare Celery app on ``broker_url`` with a no-op and a sleep task."""
    bare = Celery("bare", broker=broker_url, set_as_current=False)
    bare.conf.update(
        {key: mirrored[key] for key in MIRRORED if key in mirrored},
        task_ignore_result=True,
        task_default_queue="default",
        broker_connection_retry_on_startup=True,
        worker_hijack_root_logger=True,
    )
    if queue_priority:
        bare.conf.broker_transport_options = {"queue_order_strategy": "priority"}

    @bare.task(name=NOOP, shared=False)  # type: ignore[untyped-decorator]
    def noop() -> dict[str, bool]:
        return {"ok": True}

    @bare.task(name=SLEEP, shared=False)  # type: ignore[untyped-decorator]
    def sleep(ms: int) -> dict[str, int]:
        time.sleep(ms / 1000)
        return {"slept_ms": ms}

    @bare.task(name=POST, shared=False)  # type: ignore[untyped-decorator]
    def post(url: str, key: str) -> int:
        """What a webhook delivery does at its core, and nothing else: one JSON POST."""
        body = json.dumps({"id": key, "subject": "bench", "text": "a webhook"}).encode()
        headers = {"Content-Type": "application/json", "Idempotency-Key": key}
        response = _client().post(url, content=body, headers=headers)
        response.raise_for_status()
        return int(response.status_code)

    return bare


# The harness always sets these; without them a stray worker idles on the memory transport.
app = build_app(
    os.environ.get(BROKER_ENV, "memory://"),
    json.loads(os.environ.get(CONF_ENV, "{}")),
    os.environ.get(PRIORITY_ENV) == "1",
)
