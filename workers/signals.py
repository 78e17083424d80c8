"""Cross-cutting Celery hooks in one place: logging, Sentry, metrics and per-job log context."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from celery import signals

from workers import consumers, pausing
from workers.observability import context, metrics, tracing
from workers.observability.logging import configure_logging
from workers.observability.multiproc import setup_multiprocess_metrics
from workers.observability.processes import declare_process
from workers.observability.sentry import init_sentry
from workers.settings import get_settings


def _setup_logging(**_: Any) -> None:
    settings = get_settings()
    configure_logging(settings.log_format, settings.log_level)


def _init_sentry_worker(**_: Any) -> None:
    init_sentry(get_settings(), "worker")


def _init_sentry_beat(**_: Any) -> None:
    init_sentry(get_settings(), "beat")


def _trace_worker(**_: Any) -> None:
    # In each pool process, after the fork: the exporter's thread does not survive one.
    tracing.install("worker")


def _trace_beat(**_: Any) -> None:
    tracing.install("beat")


def _flush_traces(**_: Any) -> None:
    tracing.flush()


def _setup_metrics(kind: str) -> None:
    setup_multiprocess_metrics()
    declare_process(kind)
    port = get_settings().metrics_port
    if port:
        metrics.serve_metrics(port)


def _setup_worker_metrics(**_: Any) -> None:
    # Before the pool forks: its processes inherit the directory and write their samples there.
    _setup_metrics("worker")


def _worker_queues(sender: Any = None, **_: Any) -> None:
    consumers.worker_started(sender)
    pausing.leave_out_paused(sender)


def _declare_pool_child(**_: Any) -> None:
    declare_process("worker")


def _setup_beat_metrics(**_: Any) -> None:
    _setup_metrics("beat")


def worker_profile(hostname: str) -> str:
    """The profile of a worker node: its name before ``@`` (``realtime@host`` -> ``realtime``)."""
    return hostname.partition("@")[0] or "celery"


def _worker_online(sender: Any = None, **_: Any) -> None:
    metrics.WORKERS.labels(worker_profile(sender.hostname), "online").set(1)


def _worker_offline(sender: Any = None, **_: Any) -> None:
    metrics.WORKERS.labels(worker_profile(sender.hostname), "online").set(0)


def _forget_pool_child(pid: int | None = None, **_: Any) -> None:
    metrics.forget_process(pid or os.getpid())


def _enter_job(task_id: str | None = None, task: Any = None, **_: Any) -> None:
    context.job_id.set(task_id)
    request = task.request if task is not None else None
    # The header is whatever the message carried: only an acceptable id reaches log lines.
    header = getattr(request, context.CORRELATION_HEADER, None)
    context.correlation_id.set(context.acceptable_correlation_id(header))


def _leave_job(**_: Any) -> None:
    context.job_id.set(None)
    context.correlation_id.set(None)


#: Each Celery signal and the hooks it runs, in the order they run.
_HOOKS: tuple[tuple[Any, tuple[Callable[..., Any], ...]], ...] = (
    (signals.setup_logging, (_setup_logging,)),
    (signals.celeryd_init, (_init_sentry_worker,)),
    (signals.worker_init, (_setup_worker_metrics, _worker_queues)),
    (signals.task_received, (consumers.message_fetched,)),
    (signals.worker_process_init, (_init_sentry_worker, _declare_pool_child, _trace_worker)),
    (signals.worker_ready, (_worker_online,)),
    (signals.beat_init, (_init_sentry_beat, _setup_beat_metrics, _trace_beat)),
    (signals.task_prerun, (_enter_job,)),
    (signals.task_postrun, (_leave_job,)),
    (signals.worker_process_shutdown, (_forget_pool_child, _flush_traces)),
    (signals.worker_shutdown, (_worker_offline,)),
)


def connect() -> None:
    """Connect the hooks (idempotent: Celery signals dedupe by receiver)."""
    for signal, hooks in _HOOKS:
        for hook in hooks:
            signal.connect(hook, weak=False)
