"""The producer API against a real store, Redis and worker: enqueue, read, list, refuse."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.support.api import Headers, assert_error, issue_keys, wait_status
from tests.support.worker import embedded_worker
from workers.errors import DETAILS_LIMIT, ECHO_LIMIT, MESSAGE_LIMIT
from workers.store.keys import revoke_key

#: The worker leaves ``bulk`` alone, so what is enqueued there stays to be counted.
CONSUMED_QUEUES = ("critical", "high", "default")
SCOPES = {
    "admin": ["admin"],
    "writer": ["jobs:write"],
    "reader": ["jobs:read"],
    "diag": ["jobs:write:diag.*", "jobs:read"],
    "sleeper": ["jobs:write:diag.sleep"],
    "revoked": ["admin"],
}


@pytest.fixture(scope="module")
def keys(runtime: dict[str, str]) -> dict[str, Headers]:
    """Authorization headers by key name; ``revoked`` is revoked already."""
    issued = issue_keys(SCOPES)
    revoke_key("revoked")
    return issued


@pytest.fixture(scope="module")
def worker(runtime: dict[str, str]) -> Iterator[None]:
    with embedded_worker(CONSUMED_QUEUES):
        yield


def test_an_enqueued_noop_runs_and_its_result_is_readable(
    client: TestClient, keys: dict[str, Headers], worker: None
) -> None:
    # Given a key that may write and read
    headers = keys["admin"]

    # When a diag.noop job is enqueued
    response = client.post("/v1/jobs", json={"type": "diag.noop"}, headers=headers)

    # Then it is accepted as queued with the job type's defaults
    assert response.status_code == 202, response.text
    job = response.json()
    assert job["status"] == "queued"
    assert (job["type"], job["queue"], job["priority"]) == ("diag.noop", "default", 5)
    assert job["payload"] == {}
    assert job["error"] is None
    # And the worker runs it to success, visible through GET
    done = wait_status(client, headers, job["id"], "succeeded")
    assert done["result"] == {"ok": True}
    assert done["attempts"] == 1
    assert done["worker"]
    assert done["finished_at"] is not None


def test_a_failed_job_shows_its_error(
    client: TestClient, keys: dict[str, Headers], worker: None
) -> None:
    body = {"type": "diag.fail", "payload": {"message": "no disk"}, "priority": 9}
    job = client.post("/v1/jobs", json=body, headers=keys["admin"]).json()

    failed = wait_status(client, keys["admin"], job["id"], "failed")

    assert failed["priority"] == 9
    assert failed["error"]["message"] == "no disk"
    assert failed["error"]["type"].endswith("DiagFailure")


def test_a_batch_accepts_valid_items_and_explains_each_rejection(
    client: TestClient, keys: dict[str, Headers], worker: None
) -> None:
    # Given a key that may write diag.* types only
    items = [
        {"type": "diag.noop"},
        {"type": "diag.sleep", "payload": {"ms": -1}},
        {"type": "diag.nope"},
        {"type": "mail.send", "payload": {}},
        {"type": "diag.sleep", "payload": {"ms": 1}, "priority": 2},
    ]

    # When they are sent as one batch
    response = client.post("/v1/jobs/batch", json={"jobs": items}, headers=keys["diag"])

    # Then the valid ones are enqueued and every other one says why, in request order
    assert response.status_code == 202, response.text
    body = response.json()
    assert (body["accepted"], body["rejected"]) == (2, 3)
    results = body["results"]
    assert [r["index"] for r in results] == [0, 1, 2, 3, 4]
    assert [r.get("error", {}).get("code") for r in results] == [
        None,
        "invalid_job",
        "unknown_job_type",
        "forbidden",
        None,
    ]
    assert results[1]["error"]["details"][0]["field"] == "ms"
    assert results[3]["error"]["details"] == {"scope": "jobs:write:mail.send"}
    assert results[4]["job"]["priority"] == 2
    for accepted in (results[0], results[4]):
        wait_status(client, keys["diag"], accepted["job"]["id"], "succeeded")


@pytest.mark.parametrize(
    "authorization",
    [None, "Bearer tyk_not-a-real-key-at-all", "Basic dXNlcjpwYXNz", "Bearer", "revoked"],
)
def test_requests_without_a_live_key_are_unauthorized(
    client: TestClient, keys: dict[str, Headers], authorization: str | None
) -> None:
    if authorization == "revoked":
        headers = keys["revoked"]
    else:
        headers = {"Authorization": authorization} if authorization else {}

    for response in (
        client.post("/v1/jobs", json={"type": "diag.noop"}, headers=headers),
        client.get("/v1/jobs", headers=headers),
        client.get("/v1/queues", headers=headers),
    ):
        assert_error(response, 401, "unauthorized")
        assert response.headers["WWW-Authenticate"] == "Bearer"


def test_a_key_without_the_scope_is_forbidden_and_told_which_scope(
    client: TestClient, keys: dict[str, Headers]
) -> None:
    # A read-only key cannot enqueue at all
    response = client.post("/v1/jobs", json={"type": "diag.noop"}, headers=keys["reader"])
    assert assert_error(response, 403, "forbidden")["details"] == {"scope": "jobs:write"}

    # A key narrowed to diag.sleep cannot enqueue diag.noop (nor reveal whether a type exists)
    for job_type in ("diag.noop", "nope.nope"):
        response = client.post("/v1/jobs", json={"type": job_type}, headers=keys["sleeper"])
        error = assert_error(response, 403, "forbidden")
        assert error["details"] == {"scope": f"jobs:write:{job_type}"}
        assert "jobs:write" in error["message"]

    # A write-only key cannot read
    for path in ("/v1/jobs", f"/v1/jobs/{uuid.uuid4()}", "/v1/queues"):
        response = client.get(path, headers=keys["writer"])
        assert assert_error(response, 403, "forbidden")["details"] == {"scope": "jobs:read"}


def test_the_narrowed_key_may_enqueue_what_it_matches(
    client: TestClient, keys: dict[str, Headers]
) -> None:
    body = {"type": "diag.sleep", "payload": {"ms": 0}, "queue": "bulk"}
    response = client.post("/v1/jobs", json=body, headers=keys["sleeper"])

    assert response.status_code == 202, response.text


@pytest.mark.parametrize("job_id", ["3f6c0d52-8a3e-4c59-9d1e-2b7c4e5a6f10", "not-a-uuid", "1"])
def test_an_unknown_job_is_not_found(
    client: TestClient, keys: dict[str, Headers], job_id: str
) -> None:
    response = client.get(f"/v1/jobs/{job_id}", headers=keys["reader"])

    error = assert_error(response, 404, "job_not_found")
    assert job_id in error["message"]


def _longest_run(text: str) -> int:
    """The longest run of non-space characters in ``text``."""
    return max((len(word) for word in text.split()), default=0)


def test_an_error_echoes_a_huge_value_only_in_part(
    client: TestClient, keys: dict[str, Headers]
) -> None:
    # Given requests carrying a 10,000-character value where an error would quote it
    huge = "n" * 10_000
    many = {f"field_{index}": 1 for index in range(200)}
    responses = [
        client.get(f"/v1/jobs/{huge}", headers=keys["reader"]),
        client.post(
            "/v1/jobs", json={"type": "diag.noop", "payload": {huge: 1}}, headers=keys["admin"]
        ),
        client.post("/v1/jobs", json={"type": "diag.noop", huge: 1}, headers=keys["admin"]),
        client.post("/v1/jobs", json={"type": "diag.noop", "payload": many}, headers=keys["admin"]),
        client.post(f"/v1/{huge}", headers=keys["admin"]),
    ]
    batch = client.post(
        "/v1/jobs/batch",
        json={"jobs": [{"type": "diag.noop", "payload": {huge: 1}}]},
        headers=keys["admin"],
    )

    # Then every error says what is wrong, quoting at most ECHO_LIMIT characters of the value
    errors = [response.json()["error"] for response in responses]
    errors.append(batch.json()["results"][0]["error"])
    assert [response.status_code for response in responses] == [404, 422, 422, 422, 404]
    for error in errors:
        assert _longest_run(json.dumps(error)) < ECHO_LIMIT + 10, error["code"]
        assert len(error["message"]) <= MESSAGE_LIMIT + 1
    assert len(errors[3]["details"]) == DETAILS_LIMIT


def test_an_oversized_body_is_refused_before_anything_else(
    client: TestClient, keys: dict[str, Headers]
) -> None:
    # Given a body just over the default limit of 256 KiB
    big = {"type": "diag.noop", "payload": {"blob": "x" * (256 * 1024)}}

    # When it is sent with its length declared, or streamed without one
    declared = client.post("/v1/jobs", json=big, headers=keys["admin"])
    streamed = client.post(
        "/v1/jobs",
        content=iter([b'{"type": "diag.noop", "payload": {"blob": "', b"x" * 300_000, b'"}}']),
        headers={**keys["admin"], "Content-Type": "application/json"},
    )

    # Then both are answered 413
    for response in (declared, streamed):
        error = assert_error(response, 413, "payload_too_large")
        assert error["details"] == {"limit_bytes": 256 * 1024}


INVALID_JOBS: list[tuple[str, Any, str, str]] = [
    ("unknown type", {"type": "diag.nope"}, "unknown_job_type", ""),
    ("bad payload", {"type": "diag.sleep", "payload": {"ms": "soon"}}, "invalid_job", "ms"),
    ("extra payload field", {"type": "diag.noop", "payload": {"x": 1}}, "invalid_job", "x"),
    # Payloads are strict, like the request's own fields: nothing is coerced
    ("payload int as text", {"type": "diag.sleep", "payload": {"ms": "100"}}, "invalid_job", "ms"),
    ("payload int as bool", {"type": "diag.sleep", "payload": {"ms": True}}, "invalid_job", "ms"),
    ("payload int as float", {"type": "diag.sleep", "payload": {"ms": 1.5}}, "invalid_job", "ms"),
    (
        "payload bool as text",
        {"type": "diag.fail", "payload": {"message": "x", "transient": "yes"}},
        "invalid_job",
        "transient",
    ),
    ("priority 10", {"type": "diag.noop", "priority": 10}, "validation_error", "body.priority"),
    ("priority -1", {"type": "diag.noop", "priority": -1}, "validation_error", "body.priority"),
    ("priority true", {"type": "diag.noop", "priority": True}, "validation_error", "body.priority"),
    ("unknown queue", {"type": "diag.noop", "queue": "urgent"}, "validation_error", "body.queue"),
    ("no type", {"payload": {}}, "validation_error", "body.type"),
    (
        "payload not object",
        {"type": "diag.noop", "payload": [1]},
        "validation_error",
        "body.payload",
    ),
    ("unknown field", {"type": "diag.noop", "priorty": 3}, "validation_error", "body.priorty"),
    ("not an object", [1, 2], "validation_error", "body"),
    # PostgreSQL cannot store a NUL: the producer refuses it up front, never a 500
    (
        "NUL in payload",
        {"type": "diag.fail", "payload": {"message": "a\x00"}},
        "invalid_job",
        "message",
    ),
    (
        "NUL in nested key",
        {"type": "diag.noop", "payload": {"a": [{"\x00": 1}]}},
        "invalid_job",
        "a.0",
    ),
    ("NUL in payload key", {"type": "diag.noop", "payload": {"\x00": 1}}, "invalid_job", "payload"),
    ("NUL in type", {"type": "diag.noop\x00"}, "validation_error", "body.type"),
]


@pytest.mark.parametrize(
    ("body", "code", "field"),
    [case[1:] for case in INVALID_JOBS],
    ids=[case[0] for case in INVALID_JOBS],
)
def test_invalid_jobs_are_unprocessable_with_field_details(
    client: TestClient, keys: dict[str, Headers], body: Any, code: str, field: str
) -> None:
    response = client.post("/v1/jobs", json=body, headers=keys["admin"])

    assert_error(response, 422, code, field)


def test_an_unknown_queue_error_lists_the_queues(
    client: TestClient, keys: dict[str, Headers]
) -> None:
    body = {"type": "diag.noop", "queue": "urgent"}
    error = assert_error(
        client.post("/v1/jobs", json=body, headers=keys["admin"]), 422, "validation_error"
    )

    assert all(name in error["message"] for name in ("critical", "high", "default", "bulk"))


@pytest.mark.parametrize(
    "raw", [b"{", b'{"type": "diag.noop",}', b"\xff\xfe", b'{"type": "\xff"}', b"null"]
)
def test_malformed_json_is_unprocessable_not_a_crash(
    client: TestClient, keys: dict[str, Headers], raw: bytes
) -> None:
    headers = {**keys["admin"], "Content-Type": "application/json"}

    response = client.post("/v1/jobs", content=raw, headers=headers)

    assert_error(response, 422, "validation_error")


def test_a_lone_surrogate_in_the_payload_is_an_invalid_job(
    client: TestClient, keys: dict[str, Headers]
) -> None:
    raw = b'{"type": "diag.fail", "payload": {"message": "\\ud800"}}'
    headers = {**keys["admin"], "Content-Type": "application/json"}

    response = client.post("/v1/jobs", content=raw, headers=headers)

    assert assert_error(response, 422, "invalid_job")["details"][0]["field"] == "message"


def test_a_batch_over_1000_jobs_is_refused_whole(
    client: TestClient, keys: dict[str, Headers]
) -> None:
    jobs = [{"type": "diag.noop"}] * 1001

    response = client.post("/v1/jobs/batch", json={"jobs": jobs}, headers=keys["admin"])

    error = assert_error(response, 422, "validation_error")
    assert error["details"][0]["field"] == "body.jobs"


def test_listing_pages_through_filtered_jobs_with_a_cursor(
    client: TestClient, keys: dict[str, Headers]
) -> None:
    # Given seven jobs of one type on one queue (one batch: they share created_at)
    batch = [{"type": "diag.sleep", "payload": {"ms": 0}, "queue": "high"}] * 7
    created = client.post("/v1/jobs/batch", json={"jobs": batch}, headers=keys["admin"]).json()
    ids = {result["job"]["id"] for result in created["results"]}

    # When they are listed three at a time
    seen: list[dict[str, Any]] = []
    cursor: str | None = None
    pages = 0
    while True:
        params = {"type": "diag.sleep", "queue": "high", "limit": 3}
        if cursor:
            params["cursor"] = cursor
        response = client.get("/v1/jobs", params=params, headers=keys["reader"])
        assert response.status_code == 200, response.text
        page = response.json()
        pages += 1
        seen.extend(page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            break

    # Then every job appears once, newest first, and only jobs matching the filters
    assert ids <= {job["id"] for job in seen}
    assert len(seen) == len({job["id"] for job in seen})
    assert all(job["type"] == "diag.sleep" and job["queue"] == "high" for job in seen)
    keys_order = [(job["created_at"], job["id"]) for job in seen]
    assert keys_order == sorted(keys_order, reverse=True)
    assert pages == -(-len(seen) // 3)


def test_listing_filters_by_status(
    client: TestClient, keys: dict[str, Headers], worker: None
) -> None:
    job = client.post("/v1/jobs", json={"type": "diag.noop"}, headers=keys["admin"]).json()
    wait_status(client, keys["admin"], job["id"], "succeeded")

    page = client.get(
        "/v1/jobs", params={"status": "succeeded", "limit": 500}, headers=keys["reader"]
    ).json()

    assert job["id"] in [item["id"] for item in page["items"]]
    assert {item["status"] for item in page["items"]} == {"succeeded"}


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"status": "done"}, "query.status"),
        ({"queue": "urgent"}, "query.queue"),
        ({"limit": 0}, "query.limit"),
        ({"limit": 501}, "query.limit"),
        ({"limit": "many"}, "query.limit"),
        ({"cursor": "bm90IGEgY3Vyc29y"}, "query.cursor"),
        ({"cursor": "%%%"}, "query.cursor"),
        ({"cursor": "A" * 201}, "query.cursor"),
        ({"type": "diag.noop\x00"}, "query.type"),
    ],
)
def test_bad_list_parameters_are_unprocessable(
    client: TestClient, keys: dict[str, Headers], params: dict[str, Any], field: str
) -> None:
    response = client.get("/v1/jobs", params=params, headers=keys["reader"])

    error = assert_error(response, 422, "validation_error")
    assert error["details"][0]["field"] == field


def test_an_invalid_status_error_lists_the_statuses(
    client: TestClient, keys: dict[str, Headers]
) -> None:
    response = client.get("/v1/jobs", params={"status": "done"}, headers=keys["reader"])

    message = assert_error(response, 422, "validation_error")["message"]
    assert all(s in message for s in ("queued", "succeeded", "dead", "cancelled"))


def test_queue_depth_is_reported_by_public_priority(
    client: TestClient, keys: dict[str, Headers], worker: None
) -> None:
    def bulk() -> dict[str, Any]:
        queues = client.get("/v1/queues", headers=keys["reader"]).json()["queues"]
        assert [q["name"] for q in queues] == ["critical", "high", "default", "bulk"]
        return dict(next(q for q in queues if q["name"] == "bulk"))

    # Given the bulk queue, which no worker consumes here
    before = bulk()

    # When jobs wait there at public priorities 9, 9 and 0
    for priority in (9, 9, 0):
        body = {"type": "diag.sleep", "payload": {"ms": 0}, "queue": "bulk", "priority": priority}
        assert client.post("/v1/jobs", json=body, headers=keys["admin"]).status_code == 202

    # Then the depth grows by three, counted under the public priorities (never Redis's)
    after = bulk()
    assert after["depth"] == before["depth"] + 3
    grown = {
        p: n - before["by_priority"].get(p, 0)
        for p, n in after["by_priority"].items()
        if n != before["by_priority"].get(p, 0)
    }
    assert grown == {"9": 2, "0": 1}
    assert list(after["by_priority"]) == sorted(after["by_priority"], key=int, reverse=True)


def test_the_correlation_id_is_echoed_and_stored_on_the_job(
    client: TestClient, keys: dict[str, Headers]
) -> None:
    # Given a request carrying its own correlation id
    headers = {**keys["admin"], "X-Correlation-ID": "order-42.checkout"}

    # When it enqueues a job (and another request carries none)
    response = client.post("/v1/jobs", json={"type": "diag.noop"}, headers=headers)
    anonymous = client.post("/v1/jobs", json={"type": "diag.noop"}, headers=keys["admin"])

    # Then the id comes back on the response and is stored on the job
    assert response.headers["X-Correlation-ID"] == "order-42.checkout"
    job = client.get(f"/v1/jobs/{response.json()['id']}", headers=keys["admin"]).json()
    assert job["correlation_id"] == "order-42.checkout"
    # And a request without one gets a fresh id, echoed and stored too
    generated = anonymous.headers["X-Correlation-ID"]
    assert len(generated) == 32
    assert anonymous.json()["correlation_id"] == generated


def test_batch_jobs_share_the_request_correlation_id(
    client: TestClient, keys: dict[str, Headers]
) -> None:
    headers = {**keys["admin"], "X-Correlation-ID": "import-7"}
    batch = {"jobs": [{"type": "diag.noop"}, {"type": "diag.noop"}]}

    body = client.post("/v1/jobs/batch", json=batch, headers=headers).json()

    assert {r["job"]["correlation_id"] for r in body["results"]} == {"import-7"}


def test_health_and_readiness_answer_without_a_key(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}

    ready = client.get("/readyz")

    assert ready.status_code == 200, ready.text
    assert ready.json() == {
        "status": "ready",
        "checks": {"store": "ok", "broker": "ok"},
        "message": None,
    }


def test_the_openapi_document_lists_the_paths_and_the_bearer_scheme(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()

    assert spec["info"]["title"] == "Taskyard producer API"
    assert spec["info"]["version"]
    assert {"/v1/jobs", "/v1/jobs/batch", "/v1/jobs/{job_id}", "/v1/queues"} <= set(spec["paths"])
    assert {"/healthz", "/readyz"} <= set(spec["paths"])
    schemes = spec["components"]["securitySchemes"]
    assert [s["scheme"] for s in schemes.values()] == ["bearer"]
    assert spec["paths"]["/v1/jobs"]["post"]["security"]
    assert "422" in spec["paths"]["/v1/jobs"]["post"]["responses"]
    assert client.get("/docs").status_code == 200


def test_a_nul_in_one_batch_item_rejects_that_item_only(
    client: TestClient, keys: dict[str, Headers]
) -> None:
    items = [{"type": "diag.fail", "payload": {"message": "a\x00"}}, {"type": "diag.noop"}]

    response = client.post("/v1/jobs/batch", json={"jobs": items}, headers=keys["admin"])

    assert response.status_code == 202, response.text
    first, second = response.json()["results"]
    assert first["error"]["code"] == "invalid_job"
    assert first["error"]["details"] == [
        {"field": "message", "message": "strings and keys must not contain NUL (\\u0000)"}
    ]
    assert second["job"]["status"] == "queued"
