"""Fixtures shared by the integration tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from tests.support.api import api_client


@pytest.fixture(scope="module")
def client(runtime: dict[str, str]) -> Iterator[TestClient]:
    """A client of the producer API on this module's store and broker (a module may override
    it, e.g. to set more settings first)."""
    with api_client() as test_client:
        yield test_client
