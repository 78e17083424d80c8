"""The one Celery app: ``celery -A workers.app worker|beat|flower``."""

from __future__ import annotations

from celery import Celery

from workers import redis_transport, signals, transport
from workers.celery_config import TASK_MODULES, build_celery_config
from workers.settings import Settings, get_settings


def configure(celery_app: Celery, settings: Settings) -> None:
    """Apply ``settings`` to ``celery_app`` (also used by tests to point at their own broker)."""
    celery_app.conf.update(build_celery_config(settings))


# Before any connection: kombu resolves the transport name when it first connects. The
# poison guard always; the kept-client channel (a subclass of the guard's) over it.
transport.install()
redis_transport.install()
app = Celery("taskyard", include=TASK_MODULES)
configure(app, get_settings())
signals.connect()
