"""The base of Taskyard's pure ASGI middleware: HTTP requests are handled, the rest passed on."""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send


class HttpMiddleware:
    """Pure ASGI middleware that acts on HTTP requests only (lifespan and the rest pass by).

    Pure ASGI rather than Starlette's ``BaseHTTPMiddleware``: no extra task per request and
    no buffering of the response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        await self.handle(scope, receive, send)

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Handle one HTTP request: ``self.app`` is the rest of the stack."""
        raise NotImplementedError
