"""``taskyard dispatcher``: publishes due jobs and requeues lost ones until stopped."""

from __future__ import annotations

import signal
import threading
from types import FrameType

import click

from workers.dispatcher import Dispatcher
from workers.observability import metrics, tracing
from workers.observability.logging import configure_logging
from workers.observability.multiproc import setup_multiprocess_metrics
from workers.observability.processes import declare_process
from workers.observability.sentry import init_sentry
from workers.settings import get_settings


@click.command()
def dispatcher() -> None:
    """Run the dispatcher (delayed jobs, retries, deferred jobs, the lost-job reaper).

    Safe to run more than one: each due job is claimed by exactly one. Stops on Ctrl-C or
    SIGTERM after the current pass.
    """
    settings = get_settings()
    configure_logging(settings.log_format, settings.log_level)
    init_sentry(settings, "dispatcher")
    tracing.install("dispatcher")
    setup_multiprocess_metrics()
    declare_process("dispatcher")
    metrics.dispatched_jobs(), metrics.republished_jobs()  # exported from the start, at 0
    if settings.metrics_port:
        metrics.serve_metrics(settings.metrics_port)
    stop = threading.Event()

    def _stop(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    try:
        Dispatcher().run(stop)
    finally:
        tracing.flush()
