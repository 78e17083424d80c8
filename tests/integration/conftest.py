"""Fixtures shared by the integration tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from tests.support.api import ROLES, Headers, api_client, issue_keys
from tests.support.channels import data_keyed
from tests.support.sinks import HttpSink


@pytest.fixture(scope="module")
def client(runtime: dict[str, str]) -> Iterator[TestClient]:
    """A client of the producer API on this module's store and broker (a module may override
    it, e.g. to set more settings first)."""
    with api_client() as test_client:
        yield test_client


@pytest.fixture(scope="module")
def keys(runtime: dict[str, str]) -> dict[str, Headers]:
    """Headers of an ``admin``, a ``reader`` and a ``writer`` key (``ROLES``); a module that
    needs other scopes overrides it."""
    return issue_keys(ROLES)


@pytest.fixture(scope="module")
def admin(keys: dict[str, Headers]) -> Headers:
    """The ``admin`` key's headers."""
    return keys["admin"]


@pytest.fixture
def fresh_sink(sink: HttpSink) -> HttpSink:
    """The module's sink reset for this test (a module applies it to every test with
    ``pytestmark = pytest.mark.usefixtures("fresh_sink")``)."""
    sink.reset()
    return sink


@pytest.fixture(scope="module")
def sealing(runtime: dict[str, str]) -> Iterator[pytest.MonkeyPatch]:
    """The module's runtime with one data key, ``DATA_KEY``, sealing channel secrets and
    sensitive payloads; yields the patch for further changes (``use_keys``)."""
    with data_keyed() as patch:
        yield patch
