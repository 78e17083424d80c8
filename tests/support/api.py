"""The producer API in tests: an app client, keys as headers, the one error shape, job waits."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from fastapi.testclient import TestClient

from api.app import create_app
from tests.support.waiting import wait_for
from workers.store.keys import create_key

Headers = dict[str, str]
#: The keys the ``keys`` fixture issues: an administrator, a reader and a writer of jobs.
ROLES = {"admin": ["admin"], "reader": ["jobs:read"], "writer": ["jobs:write"]}


def bearer(secret: str) -> Headers:
    """The ``Authorization`` header for an API key's secret."""
    return {"Authorization": f"Bearer {secret}"}


def issue_keys(scopes: Mapping[str, Sequence[str]], prefix: str = "") -> dict[str, Headers]:
    """One key per name (stored as ``prefix + name``) with its scopes, as request headers."""
    return {
        name: bearer(create_key(f"{prefix}{name}", list(granted)).secret)
        for name, granted in scopes.items()
    }


@contextmanager
def api_client() -> Iterator[TestClient]:
    """A client of a fresh app, its startup and shutdown run around the block."""
    with TestClient(create_app()) as client:
        yield client


def assert_error(response: Any, status: int, code: str, field: str = "") -> dict[str, Any]:
    """The error of ``response`` after checking its status and the one error shape (and, given
    a ``field``, that its details name it)."""
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "details"}
    assert body["error"]["code"] == code, body
    assert body["error"]["message"]
    if field:
        assert field in [item["field"] for item in body["error"]["details"]], body["error"]
    return dict(body["error"])


def wait_status(client: TestClient, headers: Headers, job_id: str, status: str) -> dict[str, Any]:
    """The job once the API shows it in ``status``; fails after 20 s."""

    def reached() -> dict[str, Any]:
        job: dict[str, Any] = client.get(f"/v1/jobs/{job_id}", headers=headers).json()
        return job if job["status"] == status else {}  # empty: not yet

    return wait_for(reached, timeout=20, what=f"job {job_id} to be {status}")
