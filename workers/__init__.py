"""The Celery runtime every Taskyard process shares: settings, app, queues, store, observability."""

from workers.observability import multiproc as _multiproc  # noqa: F401 - must run first
