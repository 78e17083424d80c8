"""Request counts and latencies per route, as pure ASGI middleware."""

from __future__ import annotations

import time

from prometheus_client import Counter, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from workers.observability.metrics import LATENCY_BUCKETS

REQUESTS = Counter(
    "taskyard_api_requests",
    "API requests by route template and status.",
    ["method", "route", "status"],
)
LATENCY = Histogram(
    "taskyard_api_request_duration_seconds",
    "API request latency by route template.",
    ["method", "route"],
    buckets=LATENCY_BUCKETS,
)


class RequestMetrics:
    """Counts every request under its route template (``/v1/jobs/{job_id}``), never the raw
    path, so ids do not explode the label set."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        began = time.perf_counter()
        status = 500

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            route = scope.get("route")
            template = getattr(route, "path", "unmatched")
            method = scope["method"]
            REQUESTS.labels(method, template, str(status)).inc()
            LATENCY.labels(method, template).observe(time.perf_counter() - began)
