"""The one Celery app: ``celery -A workers.app worker|beat|flower``."""

from __future__ import annotations

from celery import Celery

from workers import signals, speedups
from workers.celery_config import TASK_MODULES, build_celery_config
from workers.settings import Settings, get_settings


def configure(celery_app: Celery, settings: Settings) -> None:
    """Apply ``settings`` to ``celery_app`` (also used by tests to point at their own broker),
    with the speedups installed or not as ``TASKYARD_SPEEDUPS`` says."""
    celery_app.conf.update(build_celery_config(settings))
    speedups.install(celery_app)


app = Celery("taskyard", include=TASK_MODULES)
configure(app, get_settings())
signals.connect()
