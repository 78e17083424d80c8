"""One switch installs every speedup, or none: ``TASKYARD_SPEEDUPS``."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest
from celery import Celery, signals
from kombu import Connection

from workers import speedups, transport
from workers.app import app
from workers.celery_config import build_celery_config
from workers.settings import get_settings
from workers.speedups import collector, redis_transport

URL = "redis://127.0.0.1:6399/3"  # nothing connects


@pytest.fixture
def switch(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    """Set ``TASKYARD_SPEEDUPS`` within a test; the process's own setting is back after."""
    yield monkeypatch
    monkeypatch.undo()
    get_settings.cache_clear()
    speedups.install(app)


def _set(switch: pytest.MonkeyPatch, value: str) -> None:
    switch.setenv("TASKYARD_SPEEDUPS", value)
    get_settings.cache_clear()
    speedups.install(Celery("switch", set_as_current=False))


def _consumer() -> str:
    return str(build_celery_config(get_settings())["worker_consumer"])


def _freezes_workers() -> bool:
    receivers = signals.worker_process_init.receivers or []
    return any("_freeze_startup_objects" in repr(receiver) for receiver in receivers)


@pytest.mark.parametrize("value", ["off", "false", "0"])
def test_off_leaves_every_library_on_its_own_path_with_the_poison_guard(
    switch: pytest.MonkeyPatch, value: str
) -> None:
    _set(switch, value)

    assert not speedups.enabled()
    assert Connection(URL).get_transport_cls() is transport.Transport
    assert _consumer() == speedups.PLAIN_CONSUMER
    assert not _freezes_workers()
    before = gc.get_threshold()
    speedups.tune_process()
    assert gc.get_threshold() == before


def test_on_installs_every_speedup(switch: pytest.MonkeyPatch) -> None:
    _set(switch, "on")

    assert speedups.enabled()
    assert Connection(URL).get_transport_cls() is redis_transport.Transport
    assert _consumer() == speedups.BATCHING_CONSUMER
    assert _freezes_workers()
    before = gc.get_threshold()
    try:
        speedups.tune_process()
        assert gc.get_threshold()[0] == collector.YOUNG_THRESHOLD
    finally:
        gc.set_threshold(*before)


def test_switching_back_and_forth_leaves_no_speedup_behind(switch: pytest.MonkeyPatch) -> None:
    _set(switch, "on")
    _set(switch, "off")

    assert Connection(URL).get_transport_cls() is transport.Transport
    assert _consumer() == speedups.PLAIN_CONSUMER
    assert not _freezes_workers()


def test_the_default_is_on(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TASKYARD_SPEEDUPS", raising=False)
    from workers.settings import Settings

    assert Settings().speedups is True
