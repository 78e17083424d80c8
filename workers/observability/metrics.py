"""Prometheus metrics shared by every process, in multiprocess mode (prefork-safe).

Every process tree has its own ``PROMETHEUS_MULTIPROC_DIR``, set up by its entry point
(:mod:`workers.observability.multiproc`): pool children write their samples there and the
tree's exporter reads them all, with its processes' CPU, memory and descriptors
(:mod:`workers.observability.processes`). Workers, the dispatcher and beat export on
``TASKYARD_METRICS_PORT`` when it is set; the API serves ``/metrics``.

Importing this module records nothing. A labelled metric makes a value per label set when it
is first used; one without labels makes its value when it is defined, so those are defined on
first use (:func:`dispatched_jobs`, :func:`republished_jobs`), after the entry point's setup.
"""

from __future__ import annotations

from functools import cache, lru_cache
from typing import TypeVar

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    multiprocess,
    start_http_server,
)

from workers.observability.processes import ProcessTreeCollector

M = TypeVar("M", Counter, Gauge, Histogram)

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800)
#: A store commit takes well under a millisecond on a quiet local server.
STORE_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10)

API_REQUESTS = Counter(
    "taskyard_api_requests",
    "API requests by route template and status.",
    ["method", "route", "status"],
)
API_LATENCY = Histogram(
    "taskyard_api_request_duration_seconds",
    "API request latency by route template.",
    ["method", "route"],
    buckets=LATENCY_BUCKETS,
)

JOB_ATTEMPTS = Counter(
    "taskyard_job_attempts",
    "Job attempts by outcome (succeeded, failed, dead, retrying, cancelled, deferred, skipped).",
    ["type", "queue", "outcome"],
)
JOB_DURATION = Histogram(
    "taskyard_job_duration_seconds",
    "How long an attempt ran, from start to its recorded outcome.",
    ["type", "queue"],
    buckets=LATENCY_BUCKETS,
)
QUEUE_WAIT = Histogram(
    "taskyard_job_queue_wait_seconds",
    "From when an attempt became due (enqueue, delay or retry time) to its start.",
    ["type", "queue"],
    buckets=LATENCY_BUCKETS,
)
POISON_MESSAGES = Counter(
    "taskyard_poison_messages",
    "Broker entries no Taskyard process could run, set aside (see workers/poison.py).",
    ["queue"],
)
BAD_RECORDS = Counter(
    "taskyard_bad_records",
    "Store rows a reader could not use and skipped or failed (dispatcher: jobs; beat: schedules).",
    ["reader"],
)
DELIVERIES = Counter(
    "taskyard_deliveries",
    "Delivery sends and their ends by channel: sent, retrying, failed, dead, deferred, lost.",
    ["channel", "outcome"],
)
DELIVERY_SEND = Histogram(
    "taskyard_delivery_send_seconds",
    "How long one send to a channel's provider took, whatever its outcome.",
    ["channel"],
    buckets=LATENCY_BUCKETS,
)
BREAKER_TRANSITIONS = Counter(
    "taskyard_breaker_transitions",
    "Circuit breaker changes by endpoint and the state entered (open, half-open, closed).",
    ["endpoint", "state"],
)
REAPED = Counter(
    "taskyard_reaped_jobs", "Jobs whose worker went silent, by what the reaper did.", ["action"]
)
SCHEDULE_FIRES = Counter(
    "taskyard_schedule_fires",
    "Schedule slots the leading beat handled: fired, taken (by another beat), retry, rejected.",
    ["schedule", "outcome"],
)
MAINTENANCE_RUNS = Counter(
    "taskyard_maintenance_runs",
    "Maintenance runs by task and how they ended: succeeded, failed, skipped.",
    ["task", "outcome"],
)
STORE_COMMIT = Histogram(
    "taskyard_store_commit_seconds",
    "Store commits: a session's (transaction) or one hot-path statement's (autocommit).",
    ["kind"],
    buckets=STORE_BUCKETS,
)
STORE_CONNECTIONS = Gauge(
    "taskyard_store_connections",
    "Store connections of this process tree's pools: open, and in use (checked out).",
    ["state"],
    multiprocess_mode="livesum",
)
WORKERS = Gauge(
    "taskyard_workers",
    "Celery workers up in this process tree, by profile (the node name before '@') and state.",
    ["profile", "state"],
    multiprocess_mode="livesum",
)


@lru_cache(maxsize=4096)
def child(metric: M, *labels: str) -> M:
    """``metric.labels(*labels)``, kept: for the writes every job makes, where checking the
    labels again on each call costs as much as the write (a child survives a fork; multiprocess
    values reopen their file in the new process)."""
    return metric.labels(*labels)


@cache
def dispatched_jobs() -> Counter:
    """Jobs the dispatcher published."""
    return Counter(
        "taskyard_dispatched_jobs", "Jobs the dispatcher published (delayed, retried, deferred)."
    )


@cache
def republished_jobs() -> Counter:
    """Queued jobs whose message was lost, published again."""
    return Counter(
        "taskyard_republished_jobs",
        "Queued jobs whose message was lost in transit (Redis), published again by the dispatcher.",
    )


def multiprocess_registry() -> CollectorRegistry:
    """A registry that reads every sample this process tree wrote."""
    registry = CollectorRegistry()
    registry.register(ProcessTreeCollector())
    return registry


def serve_metrics(port: int) -> None:
    """Export this process tree's metrics over HTTP on ``port`` (a daemon thread); a port that
    cannot be bound stops the process with one line rather than exporting nothing silently."""
    try:
        start_http_server(port, registry=multiprocess_registry())
    except OSError as error:
        raise SystemExit(
            f"taskyard: cannot export metrics on TASKYARD_METRICS_PORT={port} ({error.strerror}); "
            "choose a free port or set it to 0"
        ) from None


def forget_process(pid: int) -> None:
    """Drop a finished pool child's live gauges (its counters are kept)."""
    multiprocess.mark_process_dead(pid)  # type: ignore[no-untyped-call]
