"""Measured bypasses of Celery, kombu, SQLAlchemy and CPython defaults, behind one switch.

Every module here replaces a library's public path with a faster one that leans on something
the library does not promise: a private method, a message format, a driver's own API. Each
opens with what it replaces, what upstream change would make it unnecessary, and where
``docs/performance.md`` gives what it buys; a test in ``tests/unit/test_speedups_upstream.py``
or ``tests/integration`` pins the upstream behaviour it relies on.

``TASKYARD_SPEEDUPS=off`` turns them all off, and Taskyard runs on the plain paths: Celery's
``send_task`` for publishing, kombu's Redis transport and Celery's consumer (each with the
poison guard, ``workers/transport.py`` and ``workers/screening.py``), SQLAlchemy's
``INSERT`` for batches, CPython's collector as it comes. The plain paths keep every guarantee
(the guarantee tests run both ways in CI).

What the switch decides, all of it from here:

- :func:`install` (``workers.app`` calls it whenever it configures the app): the Redis
  transport and the collector's freeze in worker processes;
- :func:`worker_consumer`, the ``worker_consumer`` setting ``workers.celery_config`` derives;
- :func:`enabled`, read where a call takes one path or the other: ``workers.publisher``
  (pipelined Redis push or ``send_task``), ``workers.store.jobs`` (``COPY`` or ``INSERT``),
  ``workers.store.transitions`` (a job's claim and success write prepared on the server, or
  ``Connection.execute``);
- :func:`tune_process` and :func:`process_started`, for processes that are not Celery's (the
  API).
"""

from __future__ import annotations

from typing import Any

from celery import Celery, signals

from workers.settings import Settings, get_settings
from workers.speedups import collector, redis_transport

#: Celery's own consumer with the poison screen (``workers/screening.py``), used when the
#: switch is off; the batching consumer subclasses it.
PLAIN_CONSUMER = "workers.screening:Consumer"
#: The consumer that batches task events (``workers/speedups/consumer.py``).
BATCHING_CONSUMER = "workers.speedups.consumer:Consumer"


def enabled() -> bool:
    """Whether this process runs with the speedups (``TASKYARD_SPEEDUPS``, on by default)."""
    return get_settings().speedups


def install(app: Celery) -> None:
    """Install the speedups that hook into kombu and Celery's signals for ``app``'s process
    when the switch is on; when it is off, make sure none is (so re-configuring a process
    follows the setting either way)."""
    on = enabled()
    # Before any connection: kombu resolves the transport name when it first connects.
    redis_transport.install() if on else redis_transport.uninstall()
    # Full collections then skip what a worker holds once its tasks are imported (frozen
    # before the pool forks, so its processes inherit that) and what each pool process adds.
    for signal in (signals.worker_init, signals.worker_process_init):
        if on:
            signal.connect(_freeze_startup_objects, weak=False)
        else:
            signal.disconnect(_freeze_startup_objects)


def worker_consumer(settings: Settings) -> str:
    """The worker's consumer class for ``settings``: batching task events, or Celery's."""
    return BATCHING_CONSUMER if settings.speedups else PLAIN_CONSUMER


def tune_process() -> None:
    """Set the collector for a process that builds many short-lived objects (the API)."""
    if enabled():
        collector.tune_collector()


def process_started() -> None:
    """Call when a process has finished starting: its objects leave the collector's walks."""
    if enabled():
        collector.freeze_startup_objects()


def _freeze_startup_objects(**_: Any) -> None:
    collector.freeze_startup_objects()
