"""The producer API: ``uvicorn api.app:create_app --factory``."""

from __future__ import annotations

from collections.abc import AsyncIterator, MutableMapping
from contextlib import asynccontextmanager
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from anyio import CapacityLimiter
from fastapi import Depends, FastAPI
from fastapi.telemetry import TelemetryConfig

from api.access import document_access
from api.correlation import CorrelationMiddleware
from api.errors import install_error_handlers
from api.limits import BodySizeLimit
from api.metrics import RequestMetrics
from api.operations import route_operation_id
from api.refusals import document_refusals, refuse_ambiguous_body, refuse_unknown_query
from api.routes import (
    alert_routes,
    alert_rules,
    alertmanager,
    alerts,
    audit,
    channels,
    dead_letters,
    deliveries,
    health,
    inhibit_rules,
    jobs,
    metrics,
    notifications,
    queues,
    schedules,
    silences,
    subscriptions,
    templates,
)
from api.submissions import CoalescedSubmissions
from api.surfaces import install_surfaces
from tasks.jobs.producer import Producer
from workers import speedups
from workers.observability import tracing
from workers.observability.logging import configure_logging
from workers.observability.multiproc import setup_multiprocess_metrics
from workers.observability.processes import declare_process
from workers.observability.sentry import init_sentry
from workers.settings import get_settings
from workers.store.confirmations import BackgroundConfirmations

DESCRIPTION = """\
Enqueue jobs of registered types and follow them to completion.

Authenticate with an API key: `Authorization: Bearer <key>`. Scopes: `jobs:write`
(any type) or `jobs:write:<glob>` (matching types, e.g. `jobs:write:diag.*`) to enqueue,
narrowed by `jobs:queue:<queue>` (repeatable; none: every queue) and `jobs:priority:<max>`,
`jobs:read` to read jobs and queues (`jobs:read:own`: only the key's own jobs),
`notifications:write` (any channel) or
`notifications:write:<glob>` (matching channel names, e.g. `notifications:write:ops-*`) to
send notifications, `notifications:read` to read deliveries, `alerts:write` to post alerts to
the Alertmanager-compatible `POST /api/v2/alerts`, `admin` for everything (bulk
dead-letter replay, channels and templates included); cancelling or replaying a job needs the
scope to enqueue its type on its queue, and a delivery the scope to send to its channel.
Priorities run from 0 to 9, 9 the most urgent. A key over its rate limit gets 429 with
`Retry-After` and `RateLimit-*` headers (a batch counts each job).

Delay a job with `delay_s` or `run_at` (RFC 3339 with a time zone). Send an idempotency key
(`idempotency_key`, or the `Idempotency-Key` header) to make retries of a request safe: the
same key and request return the same job with 200 and `Taskyard-Deduplicated: true`; the same
key with another request is a 409. A `unique_key` with `unique_for_s` keeps one open job of a
type per key.

Every error is `{"error": {"code", "message", "details"}}`; send
`X-Correlation-ID` to follow a request into the worker's logs.
"""
#: Batch requests a process works on at once (the rest wait their turn): two, so that one's
#: Python runs while the other waits on the store or the broker.
BATCH_THREADS = 2


def _version() -> str:
    try:
        return version("taskyard")
    except PackageNotFoundError:
        return "0.0.0"


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    speedups.process_started()
    # What is still to be confirmed at shutdown is written before the process exits.
    try:
        yield
    finally:
        app.state.confirmations.close()
        tracing.flush()


def _telemetry() -> TelemetryConfig:
    """FastAPI's own telemetry settings: its request spans when tracing is on (after
    ``tracing.install``), but for probes and scrapes; none of its metrics or logs (Prometheus
    and our JSON lines have those), nor its per-operation spans."""
    return {"tracing": tracing.ACTIVE, "metrics": False, "logs": False,
            "operation_spans": False, "exclude": _unwatched}  # fmt: skip


def _unwatched(scope: MutableMapping[str, Any]) -> bool:
    return scope.get("path") in tracing.UNTRACED_PATHS


def create_app() -> FastAPI:
    """Build the API from the settings (logging, Sentry and metrics included)."""
    settings = get_settings()
    setup_multiprocess_metrics()
    declare_process("api")
    speedups.tune_process()
    configure_logging(settings.log_format, settings.log_level)
    init_sentry(settings, "api")
    tracing.install("api")
    app = FastAPI(
        title="Taskyard producer API",
        version=_version(),
        description=DESCRIPTION,
        lifespan=_lifespan,
        # /docs is served by api/surfaces.py with its own policy; ReDoc and the OAuth2
        # redirect page (unused: keys are bearer tokens) are not served at all.
        docs_url=None,
        redoc_url=None,
        swagger_ui_oauth2_redirect_url=None,
        generate_unique_id_function=route_operation_id,
        telemetry=_telemetry(),
        dependencies=[Depends(refuse_unknown_query), Depends(refuse_ambiguous_body)],
        openapi_tags=[
            {"name": "jobs", "description": "Enqueue jobs, read their records, cancel, replay."},
            {"name": "dead-letters", "description": "Jobs that used up their attempts; replay."},
            {"name": "queues", "description": "What waits in each queue."},
            {"name": "schedules", "description": "Beat entries: list, add, pause, edit."},
            {"name": "templates", "description": "Notification templates: add, preview, edit."},
            {"name": "notifications", "description": "Send a notification to channels."},
            {"name": "deliveries", "description": "Deliveries of notifications: read, replay."},
            {"name": "alerts", "description": "Alert rules, alerts, routes, silences, inhibition."},
            {"name": "audit", "description": "Who did what: every administrative action."},
            {"name": "health", "description": "Liveness and readiness probes (no key)."},
        ],
    )
    # Published jobs are confirmed `queued` off the request path (one thread, started on use).
    app.state.confirmations = BackgroundConfirmations()
    app.state.producer = Producer(app.state.confirmations.add)
    # Single-job enqueues of concurrent requests share one insert and one publish.
    app.state.submissions = CoalescedSubmissions(app.state.producer)
    # Batches take turns, BATCH_THREADS at a time: their work is Python, and many threads
    # contending for the GIL spend far more CPU on each job than a few doing them in turn.
    app.state.batch_limiter = CapacityLimiter(BATCH_THREADS)
    install_error_handlers(app)
    # Added last is outermost: the correlation id is on every response, a 413 included.
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
    app.add_middleware(CorrelationMiddleware)
    app.add_middleware(RequestMetrics)
    install_surfaces(app, settings)
    routers = (jobs, dead_letters, queues, schedules, notifications, deliveries, channels,
               templates, subscriptions, alert_rules, alerts, alertmanager, alert_routes,
               inhibit_rules, silences, audit, health, metrics)  # fmt: skip
    for module in routers:
        app.include_router(document_access(document_refusals(module.router)))
    return app
