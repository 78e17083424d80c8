"""What the API shows a browser and a scraper: security headers on every response, a strict
Content-Security-Policy on ``/docs``, CORS only for configured origins, and ``/metrics``
behind a bearer token when one is set."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.middleware.cors import CORSMiddleware
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import SecretStr
from starlette.datastructures import MutableHeaders
from starlette.types import Message, Receive, Scope, Send

from api.auth import unauthorized
from api.correlation import HEADER as CORRELATION_HEADER
from api.idempotency import DEDUPLICATED_HEADER
from api.middleware import HttpMiddleware
from workers.settings import Settings, split_origins

CSP = "Content-Security-Policy"
#: Every response: no content sniffing, no referrer, and (unless a page sets its own) a policy
#: under which a JSON answer opened in a browser can load and run nothing.
HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}
JSON_POLICY = "default-src 'none'; frame-ancestors 'none'"
DOCS_PATH = "/docs"
#: Swagger UI's parameters: no validator badge (it would fetch from validator.swagger.io).
SWAGGER_PARAMETERS = {"validatorUrl": None}
_INLINE_SCRIPT = re.compile(r"<script>(.*?)</script>", re.S)
_SCRIPT_SRC = re.compile(r'<script src="([^"]+)"')
_STYLESHEET = re.compile(r'<link type="text/css" rel="stylesheet" href="([^"]+)"')
_ICON = re.compile(r'<link rel="shortcut icon" href="([^"]+)"')


class SecurityHeaders(HttpMiddleware):
    """Pure ASGI middleware adding :data:`HEADERS` and a default policy to every response."""

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass the request on; add the headers as the response starts."""

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers.update(HEADERS)
                headers.setdefault(CSP, JSON_POLICY)
            await send(message)

        await self.app(scope, receive, send_with_headers)


def docs_policy(page: str) -> str:
    """The policy that lets ``page`` (Swagger UI's HTML) load exactly what it names: its
    scripts and stylesheet by URL, its inline script by hash, the spec from this origin."""

    def sources(pattern: re.Pattern[str]) -> str:
        return " ".join(pattern.findall(page))

    hashes = " ".join(
        "'sha256-" + base64.b64encode(hashlib.sha256(script.encode()).digest()).decode() + "'"
        for script in _INLINE_SCRIPT.findall(page)
    )
    # Swagger UI sets style attributes as it renders, hence 'unsafe-inline' for styles only.
    return (
        f"default-src 'none'; script-src {sources(_SCRIPT_SRC)} {hashes}; "
        f"style-src {sources(_STYLESHEET)} 'unsafe-inline'; img-src {sources(_ICON)} data:; "
        "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    )


docs = APIRouter(include_in_schema=False)


@docs.get(DOCS_PATH)
def swagger_ui(request: Request) -> HTMLResponse:
    """Swagger UI, with a policy that allows what its page loads and nothing else."""
    app: FastAPI = request.app
    page = get_swagger_ui_html(
        openapi_url=app.openapi_url or "/openapi.json",
        title=f"{app.title} - Swagger UI",
        swagger_ui_parameters=SWAGGER_PARAMETERS,
        oauth2_redirect_url=None,
    )
    page.headers[CSP] = docs_policy(bytes(page.body).decode())
    return page


def install_surfaces(app: FastAPI, settings: Settings) -> None:
    """Serve /docs, keep the metrics token, answer cross-origin requests from
    ``TASKYARD_CORS_ORIGINS`` only (none when unset: a browser then keeps the responses from
    other origins' pages), and add :class:`SecurityHeaders` outermost of all so far."""
    app.include_router(docs)
    app.state.metrics_token = settings.metrics_token
    origins = split_origins(settings.cors_origins)
    if origins:
        _allow_origins(app, origins)
    app.add_middleware(SecurityHeaders)


def _allow_origins(app: FastAPI, origins: list[str]) -> None:
    app.add_middleware(
        CORSMiddleware,
        allow_origins=origins,
        allow_methods=["GET", "POST", "PATCH", "DELETE"],
        allow_headers=["Authorization", "Content-Type", "Idempotency-Key", CORRELATION_HEADER],
        expose_headers=[CORRELATION_HEADER, DEDUPLICATED_HEADER, "Retry-After"],
        allow_credentials=False,
        max_age=600,
    )


_metrics_bearer = HTTPBearer(auto_error=False)


async def metrics_token(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_metrics_bearer)],
) -> None:
    """401 unless the request carries ``TASKYARD_METRICS_TOKEN`` (when it is set)."""
    token: SecretStr | None = request.app.state.metrics_token
    if token is None:
        return
    given = credentials.credentials if credentials is not None else ""
    if not hmac.compare_digest(given.encode(), token.get_secret_value().encode()):
        raise unauthorized("/metrics needs 'Authorization: Bearer <TASKYARD_METRICS_TOKEN>'")
