"""Fixtures for unit tests that must not reach a real store."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from workers.settings import get_settings


@pytest.fixture
def scratch_store(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """Settings pointing at a scratch store, in case a check let something reach for it."""
    monkeypatch.setenv("TASKYARD_DATABASE_URL", f"sqlite:///{tmp_path / 'unused.db'}")
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()
