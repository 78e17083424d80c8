"""Request counts and latencies per route, as pure ASGI middleware."""

from __future__ import annotations

import time

from starlette.types import Message, Receive, Scope, Send

from api.middleware import HttpMiddleware
from workers.observability.metrics import API_LATENCY, API_REQUESTS


class RequestMetrics(HttpMiddleware):
    """Counts every request under its route template (``/v1/jobs/{job_id}``), never the raw
    path, so ids do not explode the label set."""

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Run the request, then count it and its latency under its route template."""
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
            API_REQUESTS.labels(method, template, str(status)).inc()
            API_LATENCY.labels(method, template).observe(time.perf_counter() - began)
