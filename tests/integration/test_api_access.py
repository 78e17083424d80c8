"""Access to the producer API: queue and priority scopes, own-jobs reads, key expiry, rotation
and revocation across processes, per-key and failed-authentication rate limits (real store and
Redis; no worker, so what is enqueued stays put)."""

from __future__ import annotations

import os
import subprocess
import time
import uuid
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update

from tests.support.api import Headers, api_client, assert_error, bearer, issue_keys
from tests.support.processes import BIN
from tests.support.waiting import wait_for
from workers.settings import get_settings
from workers.store.engine import session_scope
from workers.store.keys import create_key, list_keys, rotate_key
from workers.store.models import Job
from workers.store.types import utcnow

SCOPES = {
    "admin": ["admin"],
    "bulk": ["jobs:write", "jobs:read", "jobs:queue:bulk"],
    "two-queues": ["jobs:write", "jobs:queue:bulk", "jobs:queue:high"],
    "low": ["jobs:write", "jobs:priority:3"],
    "anywhere": ["jobs:write", "jobs:read"],
    "bulk-admin": ["admin", "jobs:queue:bulk"],
    "capped-admin": ["admin", "jobs:priority:2"],
    "own-a": ["jobs:write", "jobs:read:own"],
    "own-b": ["jobs:write", "jobs:read:own"],
}


@pytest.fixture(scope="module")
def keys(runtime: dict[str, str]) -> dict[str, Headers]:
    return issue_keys(SCOPES)


def enqueue(client: TestClient, headers: Headers, **fields: Any) -> Any:
    return client.post("/v1/jobs", json={"type": "diag.noop", **fields}, headers=headers)


def missing_scope(response: Any) -> str:
    error = assert_error(response, 403, "forbidden")
    assert error["details"]["scope"] in error["message"]
    return str(error["details"]["scope"])


def dead_job(client: TestClient, headers: Headers, **fields: Any) -> str:
    """A job enqueued with ``headers`` and then marked dead in the store."""
    response = enqueue(client, headers, **fields)
    assert response.status_code == 202, response.text
    job_id = response.json()["id"]
    with session_scope() as session:
        dead = {"status": "dead", "finished_at": utcnow()}
        session.execute(update(Job).where(Job.id == uuid.UUID(job_id)).values(**dead))
    return str(job_id)


# Scopes: queues and priorities


def test_a_queue_limited_key_enqueues_only_on_its_queues(
    client: TestClient, keys: dict[str, Headers]
) -> None:
    # Given a key limited to bulk, when it enqueues on the type's own queue (default), then 403
    assert missing_scope(enqueue(client, keys["bulk"])) == "jobs:queue:default"
    assert missing_scope(enqueue(client, keys["bulk"], queue="critical")) == "jobs:queue:critical"
    # And on bulk it goes through; a key with two queue scopes has both
    assert enqueue(client, keys["bulk"], queue="bulk").status_code == 202
    assert enqueue(client, keys["two-queues"], queue="high").status_code == 202
    # And a key without any queue scope keeps every queue
    assert enqueue(client, keys["anywhere"], queue="critical", priority=9).status_code == 202


def test_a_batch_rejects_each_item_off_the_keys_queues_or_over_its_priority(
    client: TestClient, keys: dict[str, Headers]
) -> None:
    jobs = [{"type": "diag.noop", "queue": "bulk"}, {"type": "diag.noop", "queue": "critical"}]
    body = client.post("/v1/jobs/batch", json={"jobs": jobs}, headers=keys["bulk"]).json()
    assert (body["accepted"], body["rejected"]) == (1, 1)
    assert body["results"][1]["error"]["details"] == {"scope": "jobs:queue:critical"}

    jobs = [{"type": "diag.noop", "priority": 3}, {"type": "diag.noop", "priority": 9}]
    body = client.post("/v1/jobs/batch", json={"jobs": jobs}, headers=keys["low"]).json()
    assert (body["accepted"], body["rejected"]) == (1, 1)
    assert body["results"][1]["error"]["code"] == "forbidden"
    assert body["results"][1]["error"]["details"] == {"scope": "jobs:priority:9"}


def test_a_priority_cap_refuses_anything_more_urgent(
    client: TestClient, keys: dict[str, Headers]
) -> None:
    assert missing_scope(enqueue(client, keys["low"], priority=4)) == "jobs:priority:4"
    # The type's default priority (5) counts as asked for
    assert missing_scope(enqueue(client, keys["low"])) == "jobs:priority:5"
    assert enqueue(client, keys["low"], priority=3).status_code == 202


def test_cancel_and_replay_need_the_jobs_queue(
    client: TestClient, keys: dict[str, Headers]
) -> None:
    # Given a job on default and a dead one there
    waiting = enqueue(client, keys["admin"], delay_s=3600).json()["id"]
    dead = dead_job(client, keys["admin"])
    # When a key limited to bulk acts on them, then 403 naming default's scope
    cancel = client.post(f"/v1/jobs/{waiting}/cancel", headers=keys["bulk"])
    assert missing_scope(cancel) == "jobs:queue:default"
    replay = client.post(f"/v1/jobs/{dead}/replay", headers=keys["bulk"])
    assert missing_scope(replay) == "jobs:queue:default"
    # And a replay above the key's priority cap is refused too
    assert missing_scope(client.post(f"/v1/jobs/{dead}/replay", headers=keys["low"])) == (
        "jobs:priority:5"
    )
    assert client.post(f"/v1/jobs/{dead}/replay", headers=keys["anywhere"]).status_code == 202


def test_dead_letter_replay_keeps_a_queue_limited_admin_on_its_queues(
    client: TestClient, keys: dict[str, Headers]
) -> None:
    dead_job(client, keys["admin"], queue="bulk")
    url = "/v1/dead-letters/replay"
    # Without a queue the replay would reach every queue: 403 naming the first it lacks
    assert missing_scope(client.post(url, json={}, headers=keys["bulk-admin"])) == (
        "jobs:queue:critical"
    )
    other = client.post(url, json={"queue": "default"}, headers=keys["bulk-admin"])
    assert missing_scope(other) == "jobs:queue:default"
    own = client.post(url, json={"queue": "bulk"}, headers=keys["bulk-admin"])
    assert own.status_code == 202, own.text
    assert own.json()["replayed"] >= 1


def test_schedules_go_only_where_the_key_may_put_jobs(
    client: TestClient, keys: dict[str, Headers]
) -> None:
    entry = {"name": "scoped-entry", "task": "diag.noop", "interval_s": 3600}
    refused = client.post("/v1/schedules", json=entry, headers=keys["bulk-admin"])
    assert missing_scope(refused) == "jobs:queue:default"
    created = client.post(
        "/v1/schedules", json={**entry, "queue": "bulk"}, headers=keys["bulk-admin"]
    )
    assert created.status_code == 201, created.text
    moved = client.patch(
        f"/v1/schedules/{created.json()['id']}",
        json={"queue": "critical"},
        headers=keys["bulk-admin"],
    )
    assert missing_scope(moved) == "jobs:queue:critical"
    # And a priority cap holds for what an entry's runs ask for (the type's default included)
    capped = {**entry, "name": "capped-entry"}
    refused = client.post("/v1/schedules", json=capped, headers=keys["capped-admin"])
    assert missing_scope(refused) == "jobs:priority:5"
    low = client.post("/v1/schedules", json={**capped, "priority": 2}, headers=keys["capped-admin"])
    assert low.status_code == 201, low.text


def test_dead_letter_replay_reports_those_above_the_keys_priority_cap(
    client: TestClient, keys: dict[str, Headers]
) -> None:
    urgent = dead_job(client, keys["admin"], queue="high", priority=8)
    body = {"queue": "high", "type": "diag.noop"}
    report = client.post("/v1/dead-letters/replay", json=body, headers=keys["capped-admin"])
    assert report.status_code == 202, report.text
    errors = {error["job_id"]: error["message"] for error in report.json()["errors"]}
    assert "jobs:priority:8" in errors[urgent]
    assert urgent not in report.json()["jobs"]


# Scopes: own-jobs reads


def test_an_own_reader_sees_only_its_own_jobs_and_others_are_not_found(
    client: TestClient, keys: dict[str, Headers], runtime: dict[str, str]
) -> None:
    # Given one job from each of two own-reading keys
    mine = enqueue(client, keys["own-a"], delay_s=3600).json()["id"]
    theirs = enqueue(client, keys["own-b"], delay_s=3600).json()["id"]
    # Then each lists only its own, and another's job is a 404 (not a 403)
    listed = client.get("/v1/jobs", headers=keys["own-a"]).json()["items"]
    assert [job["id"] for job in listed] == [mine]
    assert client.get(f"/v1/jobs/{mine}", headers=keys["own-a"]).status_code == 200
    assert_error(client.get(f"/v1/jobs/{theirs}", headers=keys["own-a"]), 404, "job_not_found")
    assert_error(
        client.post(f"/v1/jobs/{theirs}/cancel", headers=keys["own-a"]), 404, "job_not_found"
    )
    # And a full reader sees both
    ids = {job["id"] for job in client.get("/v1/jobs", headers=keys["anywhere"]).json()["items"]}
    assert {mine, theirs} <= ids
    # And after a rotation, the new secret still reads the jobs of the old one
    rotated = bearer(rotate_key("own-a", timedelta(0)).secret)
    assert client.get(f"/v1/jobs/{mine}", headers=rotated).status_code == 200


# Keys: expiry, rotation, revocation, last use


def test_an_expired_key_is_refused(client: TestClient, runtime: dict[str, str]) -> None:
    issued = create_key("short-lived", ["jobs:read"], expires_at=utcnow() + timedelta(seconds=1))
    headers = bearer(issued.secret)
    assert client.get("/v1/queues", headers=headers).status_code == 200

    def refused() -> bool:
        return client.get("/v1/queues", headers=headers).status_code == 401

    wait_for(refused, timeout=3, what="the expired key to be refused")
    expired = client.get("/v1/queues", headers=headers)
    assert "expired" in assert_error(expired, 401, "unauthorized")["message"]


def test_a_rotated_key_keeps_its_old_secret_for_the_grace_only(
    client: TestClient, runtime: dict[str, str]
) -> None:
    old = bearer(create_key("rotating", ["jobs:read"]).secret)
    assert client.get("/v1/queues", headers=old).status_code == 200
    # When it is rotated with a grace period, both secrets work
    new = bearer(rotate_key("rotating", timedelta(hours=1)).secret)
    assert client.get("/v1/queues", headers=new).status_code == 200
    assert client.get("/v1/queues", headers=old).status_code == 200
    (record,) = [k for k in list_keys() if k.name == "rotating"]
    assert record.last_used_at is not None
    assert record.previous_last_used_at is not None
    assert record.last_client == "testclient"
    # When it is rotated again without grace, the secret it replaces stops at once
    newest = bearer(rotate_key("rotating", timedelta(0)).secret)
    assert client.get("/v1/queues", headers=new).status_code == 401
    assert client.get("/v1/queues", headers=old).status_code == 401
    assert client.get("/v1/queues", headers=newest).status_code == 200


def test_a_key_revoked_by_another_process_is_refused_within_a_second(
    client: TestClient, runtime: dict[str, str]
) -> None:
    # Given a key this process has just found live (and remembers)
    headers = bearer(create_key("revoked-elsewhere", ["jobs:read"]).secret)
    assert client.get("/v1/queues", headers=headers).status_code == 200
    # When another process revokes it
    env = {**os.environ, **runtime}
    subprocess.run([str(BIN / "taskyard"), "keys", "revoke", "revoked-elsewhere"], env=env,
                   check=True, capture_output=True)  # fmt: skip
    revoked_at = time.monotonic()
    # Then this process refuses it within a second
    wait_for(
        lambda: client.get("/v1/queues", headers=headers).status_code == 401,
        timeout=3,
        what="the revoked key to be refused",
    )
    assert time.monotonic() - revoked_at < 1.5


# Rate limits


@pytest.fixture
def settings_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    """Settings changed for one test (the cached settings are read again, before and after)."""
    get_settings.cache_clear()
    yield monkeypatch
    monkeypatch.undo()
    get_settings.cache_clear()


def assert_rate_limited(response: Any, limit: int) -> dict[str, Any]:
    error = assert_error(response, 429, "rate_limited")
    headers = response.headers
    assert headers["RateLimit-Limit"] == str(limit)
    assert headers["RateLimit-Remaining"] == "0"
    assert int(headers["RateLimit-Reset"]) >= 1
    assert headers["Retry-After"] == headers["RateLimit-Reset"]
    return error


def test_a_keys_own_rate_limit_is_shared_by_every_api_instance(
    client: TestClient, runtime: dict[str, str]
) -> None:
    headers = bearer(create_key("limited", ["jobs:read"], rate_limit="4/minute").secret)
    with api_client() as other:
        for each in (client, other, client, other):
            assert each.get("/v1/queues", headers=headers).status_code == 200
        assert_rate_limited(other.get("/v1/queues", headers=headers), 4)
        assert_rate_limited(client.get("/v1/queues", headers=headers), 4)


def test_a_batch_counts_each_of_its_jobs(client: TestClient, runtime: dict[str, str]) -> None:
    headers = bearer(create_key("batcher", ["jobs:write"], rate_limit="5/minute").secret)
    four = {"jobs": [{"type": "diag.noop", "queue": "bulk"}] * 4}
    assert client.post("/v1/jobs/batch", json=four, headers=headers).status_code == 202
    two = {"jobs": [{"type": "diag.noop", "queue": "bulk"}] * 2}
    assert_rate_limited(client.post("/v1/jobs/batch", json=two, headers=headers), 5)


def test_the_default_rate_limit_comes_from_the_settings(
    client: TestClient, runtime: dict[str, str], settings_env: pytest.MonkeyPatch
) -> None:
    headers = bearer(create_key("defaulted", ["jobs:read"]).secret)
    settings_env.setenv("TASKYARD_API_RATE_LIMIT", "2/minute")
    get_settings.cache_clear()
    for _ in range(2):
        assert client.get("/v1/queues", headers=headers).status_code == 200
    assert_rate_limited(client.get("/v1/queues", headers=headers), 2)


def test_failed_authentications_are_limited_per_address(
    client: TestClient, runtime: dict[str, str], settings_env: pytest.MonkeyPatch
) -> None:
    settings_env.setenv("TASKYARD_AUTH_FAILURE_LIMIT", "3/minute")
    get_settings.cache_clear()
    for attempt in range(3):
        guess = bearer(f"tyk_guess-{attempt}")
        assert_error(client.get("/v1/queues", headers=guess), 401, "unauthorized")
    # Then the address is refused before any key is checked, a right one included
    assert_rate_limited(client.get("/v1/queues", headers=bearer("tyk_guess-4")), 3)
    fresh = bearer(create_key("after-guessing", ["jobs:read"]).secret)
    assert_rate_limited(client.get("/v1/queues", headers=fresh), 3)


def test_an_unreachable_redis_leaves_requests_unlimited_rather_than_failing(
    client: TestClient, runtime: dict[str, str], settings_env: pytest.MonkeyPatch
) -> None:
    headers = bearer(create_key("limited-offline", ["jobs:read"], rate_limit="1/minute").secret)
    settings_env.setenv("TASKYARD_REDIS_URL", "redis://127.0.0.1:1/0")
    get_settings.cache_clear()
    for _ in range(3):
        assert client.get("/v1/jobs", headers=headers).status_code == 200
