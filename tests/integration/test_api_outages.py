"""When the broker or the store is down, the API says so quickly with 503s, never a 500."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from tests.support.runtime import services_replaced
from workers.store.keys import create_key

UNREACHABLE_BROKER = "redis://127.0.0.1:1/0"
UNREACHABLE_STORE = "postgresql://taskyard@127.0.0.1:1/taskyard"
#: A readiness probe must answer within this, whatever is down.
PROBE_BUDGET_S = 4.0


@contextmanager
def outage(**env: str) -> Iterator[TestClient]:
    """A fresh API whose settings name unreachable services; the module's are restored after."""
    with services_replaced(**env), TestClient(create_app()) as client:
        yield client


@pytest.fixture(scope="module")
def admin(runtime: dict[str, str]) -> dict[str, str]:
    return {"Authorization": f"Bearer {create_key('admin', ['admin']).secret}"}


def timed_get(client: TestClient, path: str) -> tuple[Any, float]:
    started = time.monotonic()
    response = client.get(path)
    return response, time.monotonic() - started


def assert_unavailable(response: Any, code: str) -> None:
    assert response.status_code == 503, response.text
    assert response.json()["error"]["code"] == code
    assert int(response.headers["Retry-After"]) > 0


def test_a_broker_outage_is_unready_and_refuses_jobs_with_503(admin: dict[str, str]) -> None:
    # Given an API whose broker does not answer (the store still does)
    with outage(TASKYARD_BROKER_URL=UNREACHABLE_BROKER) as client:
        # When readiness is probed
        ready, took = timed_get(client, "/readyz")

        # Then it is unready, names the broker, and answers promptly
        assert ready.status_code == 503, ready.text
        body = ready.json()
        assert body["status"] == "unready"
        assert body["checks"]["store"] == "ok"
        assert body["checks"]["broker"] != "ok"
        assert "broker" in body["message"]
        assert took < PROBE_BUDGET_S
        # And enqueueing is refused with a 503 the caller may retry, leaving no record behind
        job = client.post("/v1/jobs", json={"type": "diag.noop"}, headers=admin)
        assert_unavailable(job, "broker_unavailable")
        batch = client.post("/v1/jobs/batch", json={"jobs": [{"type": "diag.noop"}]}, headers=admin)
        assert_unavailable(batch, "broker_unavailable")
        assert client.get("/v1/jobs", headers=admin).json()["items"] == []
        # And queue depths cannot be read either
        assert_unavailable(client.get("/v1/queues", headers=admin), "broker_unavailable")
        # While liveness does not care
        assert client.get("/healthz").status_code == 200


def test_a_store_outage_is_unready_and_answers_503(admin: dict[str, str]) -> None:
    # Given an API whose store does not answer (the broker still does)
    with outage(TASKYARD_DATABASE_URL=UNREACHABLE_STORE) as client:
        # When readiness is probed
        ready, took = timed_get(client, "/readyz")

        # Then it is unready, names the store, and answers promptly
        assert ready.status_code == 503, ready.text
        assert ready.json()["checks"] == {"store": ready.json()["checks"]["store"], "broker": "ok"}
        assert ready.json()["checks"]["store"] != "ok"
        assert took < PROBE_BUDGET_S
        # And requests that need the store get a 503, not a 500
        assert_unavailable(
            client.post("/v1/jobs", json={"type": "diag.noop"}, headers=admin), "store_unavailable"
        )
        assert_unavailable(client.get("/v1/jobs", headers=admin), "store_unavailable")


def test_the_api_is_ready_again_once_the_services_are_back(admin: dict[str, str]) -> None:
    # Given the module's real services, after the outages above
    with TestClient(create_app()) as client:
        # Then readiness and enqueueing work again
        assert client.get("/readyz").status_code == 200
        response = client.post("/v1/jobs", json={"type": "diag.noop"}, headers=admin)
        assert response.status_code == 202, response.text
