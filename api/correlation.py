"""The request's correlation id: taken from ``X-Correlation-ID`` or generated, and echoed."""

from __future__ import annotations

import uuid
from collections.abc import MutableMapping
from typing import Any

from starlette.datastructures import Headers, MutableHeaders
from starlette.types import Message, Receive, Scope, Send

from api.middleware import HttpMiddleware
from workers.observability import context

HEADER = "X-Correlation-ID"


def accept_or_generate(value: str | None) -> str:
    """The caller's id when it is acceptable (see :mod:`workers.observability.context`), else
    a new uuid4 hex."""
    return context.acceptable_correlation_id(value) or uuid.uuid4().hex


def from_scope(scope: MutableMapping[str, Any]) -> str | None:
    """The correlation id the middleware gave this request, if any."""
    state = scope.get("state") or {}
    cid = state.get("correlation_id")
    return cid if isinstance(cid, str) else None


class CorrelationMiddleware(HttpMiddleware):
    """Pure ASGI middleware: sets the id in ``request.state``, the log context and the response."""

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Take or make the request's id, and hand it to the log context and the response."""
        cid = accept_or_generate(Headers(scope=scope).get(HEADER))
        scope.setdefault("state", {})["correlation_id"] = cid

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message)[HEADER] = cid
            await send(message)

        token = context.correlation_id.set(cid)
        try:
            await self.app(scope, receive, send_with_id)
        finally:
            context.correlation_id.reset(token)
