"""Bearer API keys: who is calling (401 when unknown) and what their scopes allow (403)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api.correlation import from_scope
from api.errors import ApiProblem
from workers.scopes import (
    ADMIN,
    ALERTS_WRITE,
    JOBS_READ,
    JOBS_WRITE,
    NOTIFICATIONS_READ,
    NOTIFICATIONS_WRITE,
    is_admin,
    may_notify,
    may_notify_some,
    may_post_alerts,
    may_read,
    may_read_deliveries,
    may_write,
    may_write_some,
    notify_scope_for,
    write_scope_for,
)
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
    """The live key the request carries, or 401."""
    if credentials is None:
        raise unauthorized("missing API key; send 'Authorization: Bearer <key>'")
    secret = credentials.credentials
    key = remembered(secret) or await run_in_threadpool(authenticate, secret)
    if key is None:
        raise unauthorized("invalid or revoked API key")
    return key


async def reader(key: Annotated[ApiKey, Depends(current_key)]) -> ApiKey:
    """A key allowed to read jobs and queues."""
    if not may_read(key.scopes):
        raise forbidden(JOBS_READ)
    return key


async def writer(key: Annotated[ApiKey, Depends(current_key)]) -> ApiKey:
    """A key allowed to enqueue at least some job type (each type is checked on its own)."""
    if not may_write_some(key.scopes):
        raise forbidden(JOBS_WRITE)
    return key


async def admin(key: Annotated[ApiKey, Depends(current_key)]) -> ApiKey:
    """A key allowed everything, including bulk operator actions."""
    if not is_admin(key.scopes):
        raise forbidden(ADMIN)
    return key


async def delivery_reader(key: Annotated[ApiKey, Depends(current_key)]) -> ApiKey:
    """A key allowed to read notification deliveries."""
    if not may_read_deliveries(key.scopes):
        raise forbidden(NOTIFICATIONS_READ)
    return key


async def notifier(key: Annotated[ApiKey, Depends(current_key)]) -> ApiKey:
    """A key allowed to send to at least some channel (each channel is checked on its own)."""
    if not may_notify_some(key.scopes):
        raise forbidden(NOTIFICATIONS_WRITE)
    return key


async def alert_sender(key: Annotated[ApiKey, Depends(current_key)]) -> ApiKey:
    """A key allowed to post alerts to the Alertmanager-compatible door."""
    if not may_post_alerts(key.scopes):
        raise forbidden(ALERTS_WRITE)
    return key


def check_write(key: ApiKey, job_type: str) -> None:
    """403 unless ``key`` may enqueue ``job_type``."""
    if not may_write(key.scopes, job_type):
        raise forbidden(write_scope_for(job_type), JOBS_WRITE)


def check_notify(key: ApiKey, channel: str) -> None:
    """403 unless ``key`` may send to ``channel``."""
    if not may_notify(key.scopes, channel):
        raise forbidden(notify_scope_for(channel), NOTIFICATIONS_WRITE)


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
