"""Pointing this process's Taskyard runtime (settings, Celery app, store) at a test's services."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from workers.app import app, configure
from workers.settings import get_settings
from workers.store.engine import dispose_engines
from workers.store.migrate import upgrade


def _reset_celery_connections() -> None:
    # Private names: Celery has no public way to drop its cached producer pool and result
    # backend short of a new app (tasks import the one app); test_speedups_upstream pins them.
    app.close()
    app.amqp._producer_pool = None
    app._backend_cache = None
    app._local = threading.local()


def rebind() -> None:
    """Point settings, engines and the Celery app at the current environment."""
    get_settings.cache_clear()
    dispose_engines()
    configure(app, get_settings())
    _reset_celery_connections()


@contextmanager
def services_replaced(**env: str) -> Iterator[None]:
    """Within, the settings name ``env``'s services (an unreachable broker, say); after, the
    ones named before."""
    with pytest.MonkeyPatch.context() as patch:
        for name, value in env.items():
            patch.setenv(name, value)
        rebind()
        try:
            yield
        finally:
            dispose_engines()
    rebind()


@contextmanager
def taskyard_runtime(env: dict[str, str]) -> Iterator[dict[str, str]]:
    """Set ``TASKYARD_*`` variables, migrate the store, and rebind the app; undo afterwards."""
    with pytest.MonkeyPatch.context() as patch:
        for name, value in env.items():
            patch.setenv(name, value)
        get_settings.cache_clear()
        dispose_engines()
        configure(app, get_settings())
        _reset_celery_connections()
        upgrade(get_settings().database_url)
        try:
            yield env
        finally:
            dispose_engines()
            _reset_celery_connections()
    get_settings.cache_clear()
    configure(app, get_settings())
