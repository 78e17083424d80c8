"""Bearer API keys: who is calling (401 when unknown) and what their scopes allow (403)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from typing import Annotated

from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api.correlation import from_scope
from api.errors import ApiProblem
from workers import scopes
from workers.store import audit
from workers.store.keys import authenticate, remembered
from workers.store.models import ApiKey

bearer = HTTPBearer(
    auto_error=False,
    scheme_name="apiKey",
    description="An API key: `Authorization: Bearer tyk_...` (create one with the CLI).",
)


def unauthorized(message: str) -> ApiProblem:
    """A 401 asking for a bearer key."""
    return ApiProblem(401, "unauthorized", message, headers={"WWW-Authenticate": "Bearer"})


def forbidden(scope: str, alternative: str | None = None) -> ApiProblem:
    """A 403 naming the scope the key lacks."""
    needed = f"{scope} (or {alternative})" if alternative else scope
    return ApiProblem(403, "forbidden", f"this API key lacks the scope {needed}", {"scope": scope})


# The dependencies below are coroutines: FastAPI runs a plain function dependency in its thread
# pool, and those hops cost more than the checks themselves. Only a key not checked recently
# goes to the store, in the thread pool.


async def current_key(
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> ApiKey:
    """The live key the request carries, or 401; the request acts under its name in the audit
    trail."""
    if credentials is None:
        raise unauthorized("missing API key; send 'Authorization: Bearer <key>'")
    secret = credentials.credentials
    key = remembered(secret) or await run_in_threadpool(authenticate, secret)
    if key is None:
        raise unauthorized("invalid or revoked API key")
    audit.actor.set(key.name)
    return key


KeyCheck = Callable[[ApiKey], Awaitable[ApiKey]]


def _allowed(allows: Callable[[Iterable[str]], bool], scope: str, what: str) -> KeyCheck:
    """A dependency answering with the request's key when ``allows`` its scopes, else 403
    naming ``scope``; ``what`` says what such a key may do."""

    async def check(key: Annotated[ApiKey, Depends(current_key)]) -> ApiKey:
        if not allows(key.scopes):
            raise forbidden(scope)
        return key

    check.__doc__ = f"A key allowed {what}."
    return check


reader = _allowed(scopes.may_read, scopes.JOBS_READ, "to read jobs and queues")
writer = _allowed(
    scopes.may_write_some,
    scopes.JOBS_WRITE,
    "to enqueue at least some job type (each type is checked on its own)",
)
admin = _allowed(scopes.is_admin, scopes.ADMIN, "everything, including bulk operator actions")
delivery_reader = _allowed(
    scopes.may_read_deliveries, scopes.NOTIFICATIONS_READ, "to read notification deliveries"
)
notifier = _allowed(
    scopes.may_notify_some,
    scopes.NOTIFICATIONS_WRITE,
    "to send to at least some channel (each channel is checked on its own)",
)
alert_sender = _allowed(
    scopes.may_post_alerts,
    scopes.ALERTS_WRITE,
    "to post alerts to the Alertmanager-compatible door",
)


def check_write(key: ApiKey, job_type: str) -> None:
    """403 unless ``key`` may enqueue ``job_type``."""
    if not scopes.may_write(key.scopes, job_type):
        raise forbidden(scopes.write_scope_for(job_type), scopes.JOBS_WRITE)


def check_notify(key: ApiKey, channel: str) -> None:
    """403 unless ``key`` may send to ``channel``."""
    if not scopes.may_notify(key.scopes, channel):
        raise forbidden(scopes.notify_scope_for(channel), scopes.NOTIFICATIONS_WRITE)


async def correlation_id(request: Request) -> str | None:
    """The request's correlation id (set by :class:`api.correlation.CorrelationMiddleware`)."""
    return from_scope(request.scope)


ReadKey = Annotated[ApiKey, Depends(reader)]
WriteKey = Annotated[ApiKey, Depends(writer)]
AdminKey = Annotated[ApiKey, Depends(admin)]
DeliveryReadKey = Annotated[ApiKey, Depends(delivery_reader)]
NotifyKey = Annotated[ApiKey, Depends(notifier)]
AlertSendKey = Annotated[ApiKey, Depends(alert_sender)]
CorrelationId = Annotated[str | None, Depends(correlation_id)]
