"""Bearer API keys: who is calling (401 when unknown or expired), what their scopes allow
(403), and how fast they may call (429, per key and per client address failing to
authenticate, counted in Redis so every API process shares the count)."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable, Iterable
from typing import Annotated

from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from limits.errors import StorageError as LimitsError
from redis.exceptions import RedisError

from api.correlation import from_scope
from api.errors import ApiProblem
from workers import scopes
from workers.errors import JobNotFound, MissingScope
from workers.limits import RateScope, RateWindow, parse_rate_limit, take_rate_permits
from workers.settings import get_settings
from workers.store.keys import authenticate, remembered
from workers.store.models import ApiKey, Job

log = logging.getLogger(__name__)

bearer = HTTPBearer(
    auto_error=False,
    scheme_name="apiKey",
    description="An API key: `Authorization: Bearer tyk_...` (create one with the CLI).",
)


def unauthorized(message: str) -> ApiProblem:
    """A 401 asking for a bearer key."""
    return ApiProblem(401, "unauthorized", message, headers={"WWW-Authenticate": "Bearer"})


def forbidden(scope: str, alternative: str | None = None) -> MissingScope:
    """A 403 naming the scope the key lacks."""
    return MissingScope(scope, alternative)


def too_many(window: RateWindow, what: str) -> ApiProblem:
    """A 429 saying when to come back, with the ``RateLimit-*`` headers."""
    headers = {
        "Retry-After": str(window.reset_s),
        "RateLimit-Limit": str(window.limit),
        "RateLimit-Remaining": str(window.remaining),
        "RateLimit-Reset": str(window.reset_s),
    }
    details = {"limit": window.limit, "remaining": window.remaining, "reset_s": window.reset_s}
    message = f"{what}; retry in {window.reset_s} s"
    return ApiProblem(429, "rate_limited", message, details, headers)


def _rate_window(scope: RateScope, name: str, limit: str, cost: int) -> RateWindow:
    """Where ``name``'s window stands after taking ``cost`` permits; allowed when Redis cannot
    be reached (a limit is a guard, not a dependency: the request meets its own outage)."""
    item = parse_rate_limit(limit)
    try:
        return take_rate_permits(get_settings().locks_url, scope, name, item, cost)
    except (RedisError, LimitsError, OSError) as error:
        log.warning("rate limit not checked: %s", error, extra={"action": "api.rate_unchecked"})
        return RateWindow(True, item.amount, item.amount, 1)


def spend(key: ApiKey, cost: int = 1) -> None:
    """Count ``cost`` requests (a batch's jobs) against ``key``'s rate limit, or 429."""
    limit = key.rate_limit or get_settings().api_rate_limit
    if limit is None:
        return
    window = _rate_window("key", str(key.id), limit, cost)
    if not window.allowed:
        raise too_many(window, f"the API key {key.name!r} is over its rate limit of {limit}")


def _authenticate(secret: str, client: str | None) -> ApiKey:
    """The live key for ``secret``, or 401; 429 once ``client`` failed too often (checked
    before the key, so a guess is not even tried)."""
    limit = get_settings().auth_failure_limit
    address = client or "unknown"
    if limit is not None:
        window = _rate_window("auth", address, limit, 0)
        if not window.allowed:
            raise too_many(window, "too many failed authentications from this address")
    key = authenticate(secret, client)
    if key is None:
        if limit is not None:
            _rate_window("auth", address, limit, 1)
        raise unauthorized("invalid, expired or revoked API key")
    spend(key)
    return key


# The dependencies below are coroutines: FastAPI runs a plain function dependency in its thread
# pool, and those hops cost more than the checks themselves. Only a key not checked recently
# goes to the store, in the thread pool.


async def current_key(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> ApiKey:
    """The live key the request carries, counted against its rate limit; else 401 or 429."""
    if credentials is None:
        raise unauthorized("missing API key; send 'Authorization: Bearer <key>'")
    secret = credentials.credentials
    key = remembered(secret)
    if key is not None and key.rate_limit is None and get_settings().api_rate_limit is None:
        return key
    if key is not None:
        await run_in_threadpool(spend, key)
        return key
    client = request.client.host if request.client else None
    return await run_in_threadpool(_authenticate, secret, client)


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


reader = _allowed(
    scopes.may_read,
    scopes.JOBS_READ,
    "to read every job, and what is not a job (queues, schedules, alerts)",
)
job_reader = _allowed(
    scopes.may_read_own,
    scopes.JOBS_READ,
    "to read jobs: every one, or only its own (see :func:`owner`)",
)
writer = _allowed(
    scopes.may_write_some,
    scopes.JOBS_WRITE,
    "to enqueue at least some job type (each type is checked on its own)",
)
admin = _allowed(scopes.is_admin, scopes.ADMIN, "everything, including bulk operator actions")
#: ``admin`` on an endpoint that puts jobs on queues (bulk replay, schedules), where the key's
#: queue and priority scopes hold as for enqueueing (:func:`check_queue`); its own dependency,
#: so the endpoint table says so.
queue_admin = _allowed(
    scopes.is_admin,
    scopes.ADMIN,
    "everything, on an endpoint that puts jobs on queues (its queue and priority scopes hold)",
)
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


def owner(key: ApiKey) -> uuid.UUID | None:
    """The key whose jobs alone ``key`` may see (``jobs:read:own`` without ``jobs:read``), or
    ``None`` when no such limit applies."""
    return key.id if scopes.reads_own_only(key.scopes) else None


def check_read(key: ApiKey, job: Job) -> Job:
    """``job`` when ``key`` may read it; else 404, as if it did not exist."""
    if owner(key) not in (None, job.api_key_id):
        raise JobNotFound(f"no job with id {job.id}")
    return job


def check_write(key: ApiKey, job: Job) -> Job:
    """``job`` when ``key`` may act on it (cancel, replay): it may enqueue its type on its
    queue; else 403."""
    if not scopes.may_write(key.scopes, job.type):
        raise forbidden(scopes.write_scope_for(job.type), scopes.JOBS_WRITE)
    check_queue(key, job.queue)
    return job


def check_queue(key: ApiKey, queue: str, priority: int | None = None) -> None:
    """403 unless ``key`` may put a job on ``queue`` (at ``priority``, when given)."""
    missing = scopes.missing_for_job(key.scopes, queue, priority)
    if missing is not None:
        raise forbidden(missing)


def check_notify(key: ApiKey, channel: str) -> None:
    """403 unless ``key`` may send to ``channel``."""
    if not scopes.may_notify(key.scopes, channel):
        raise forbidden(scopes.notify_scope_for(channel), scopes.NOTIFICATIONS_WRITE)


async def correlation_id(request: Request) -> str | None:
    """The request's correlation id (set by :class:`api.correlation.CorrelationMiddleware`)."""
    return from_scope(request.scope)


ReadKey = Annotated[ApiKey, Depends(reader)]
JobReadKey = Annotated[ApiKey, Depends(job_reader)]
WriteKey = Annotated[ApiKey, Depends(writer)]
AdminKey = Annotated[ApiKey, Depends(admin)]
QueueAdminKey = Annotated[ApiKey, Depends(queue_admin)]
DeliveryReadKey = Annotated[ApiKey, Depends(delivery_reader)]
NotifyKey = Annotated[ApiKey, Depends(notifier)]
AlertSendKey = Annotated[ApiKey, Depends(alert_sender)]
CorrelationId = Annotated[str | None, Depends(correlation_id)]
