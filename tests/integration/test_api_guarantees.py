"""The execution guarantees through the API: delays, idempotency and unique keys, cancel,
retry, the dead-letter set; with a real worker, dispatcher, Redis and store."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.support.api import Headers, assert_error, issue_keys, wait_status
from tests.support.dispatcher import running_dispatcher
from tests.support.waiting import wait_for
from tests.support.worker import embedded_worker
from workers.store.types import utcnow

SCOPES = {
    "admin": ["admin"],
    "operator": ["jobs:write", "jobs:read"],
    "reader": ["jobs:read"],
    "sleeper": ["jobs:write:diag.sleep"],
}
DEDUPLICATED = "Taskyard-Deduplicated"
#: A transient failure: retried until its attempts run out, then dead.
DYING = {"type": "diag.fail", "payload": {"message": "disk full", "transient": True}}
Job = dict[str, Any]


@pytest.fixture(scope="module")
def keys(runtime: dict[str, str]) -> dict[str, Headers]:
    return issue_keys(SCOPES)


@pytest.fixture(scope="module")
def worker(runtime: dict[str, str]) -> Iterator[None]:
    with embedded_worker(concurrency=4), running_dispatcher():
        yield


@pytest.fixture(scope="module")
def dead(client: TestClient, keys: dict[str, Headers], worker: None) -> dict[str, list[Job]]:
    """Dead letters made once, in parallel, on separate queues per use: ``listed`` (critical),
    ``bulk`` (high) and ``retried`` (default)."""
    groups = {"listed": ("critical", 3), "bulk": ("high", 2), "retried": ("default", 1)}
    items = [{**DYING, "queue": queue} for queue, n in groups.values() for _ in range(n)]
    created = post(client, "/v1/jobs/batch", keys["admin"], {"jobs": items}, 202)
    ids = iter(result["job"]["id"] for result in created["results"])
    by_group = {name: [next(ids) for _ in range(n)] for name, (_, n) in groups.items()}
    return {
        name: [wait_status(client, keys["admin"], job_id, "dead") for job_id in job_ids]
        for name, job_ids in by_group.items()
    }


def post(
    client: TestClient, path: str, headers: Headers, body: Any = None, status: int = 202
) -> Any:
    response = client.post(path, json=body, headers=headers)
    assert response.status_code == status, response.text
    return response.json()


def get(client: TestClient, path: str, headers: Headers, **params: Any) -> Any:
    response = client.get(path, params=params, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


def stamp(moment: datetime) -> str:
    return moment.isoformat()


def parse(value: str) -> datetime:
    return datetime.fromisoformat(value)


# --- delays ---------------------------------------------------------------------------------


def test_a_delayed_job_is_scheduled_then_runs_once_due(
    client: TestClient, keys: dict[str, Headers], worker: None
) -> None:
    # Given one job delayed by delay_s and one by run_at
    by_delay = post(client, "/v1/jobs", keys["admin"], {"type": "diag.noop", "delay_s": 1})
    due = utcnow() + timedelta(seconds=1)
    by_time = post(client, "/v1/jobs", keys["admin"], {"type": "diag.noop", "run_at": stamp(due)})

    # Then both are accepted as scheduled, listed so, and run once due
    for job in (by_delay, by_time):
        assert job["status"] == "scheduled"
        assert job["run_at"] is not None
    scheduled = get(client, "/v1/jobs", keys["admin"], status="scheduled", limit=500)["items"]
    assert {by_delay["id"], by_time["id"]} <= {job["id"] for job in scheduled}
    assert parse(by_time["run_at"]) == due
    for job in (by_delay, by_time):
        done = wait_status(client, keys["admin"], job["id"], "succeeded")
        assert parse(done["started_at"]) >= parse(job["run_at"])
        assert done["attempts"] == 1


# --- idempotency and unique keys --------------------------------------------------------------


def test_an_idempotency_key_in_the_body_or_header_returns_the_same_job(
    client: TestClient, keys: dict[str, Headers]
) -> None:
    key = f"order-{uuid.uuid4()}"
    body = {"type": "diag.sleep", "payload": {"ms": 1}, "queue": "bulk"}

    # When the same request is sent with the key in the body, again, then in the header
    first = client.post("/v1/jobs", json={**body, "idempotency_key": key}, headers=keys["admin"])
    again = client.post("/v1/jobs", json={**body, "idempotency_key": key}, headers=keys["admin"])
    header = client.post("/v1/jobs", json=body, headers={**keys["admin"], "Idempotency-Key": key})

    # Then the first creates the job and the others get it back, marked deduplicated
    assert first.status_code == 202, first.text
    assert DEDUPLICATED not in first.headers
    for response in (again, header):
        assert response.status_code == 200, response.text
        assert response.headers[DEDUPLICATED] == "true"
        assert response.json()["id"] == first.json()["id"]


def test_an_idempotency_key_reused_for_another_request_is_a_conflict(
    client: TestClient, keys: dict[str, Headers]
) -> None:
    key = f"order-{uuid.uuid4()}"
    body = {"type": "diag.sleep", "payload": {"ms": 1}, "queue": "bulk"}
    original = post(client, "/v1/jobs", {**keys["admin"], "Idempotency-Key": key}, body)

    changed = {**body, "payload": {"ms": 2}}
    conflict = client.post(
        "/v1/jobs", json=changed, headers={**keys["admin"], "Idempotency-Key": key}
    )
    disagree = client.post(
        "/v1/jobs",
        json={**body, "idempotency_key": key},
        headers={**keys["admin"], "Idempotency-Key": "other"},
    )

    assert assert_error(conflict, 409, "idempotency_conflict")["details"] == {
        "job_id": original["id"]
    }
    error = assert_error(disagree, 422, "validation_error")
    assert error["details"][0]["field"] == "header.Idempotency-Key"


def test_an_idempotency_key_covers_the_delay_and_the_unique_key(
    client: TestClient, keys: dict[str, Headers]
) -> None:
    # Given a delayed job enqueued with an idempotency key
    key = f"order-{uuid.uuid4()}"
    body = {"type": "diag.noop", "delay_s": 60, "idempotency_key": key}
    original = post(client, "/v1/jobs", keys["admin"], body)

    # When the same request comes again later, and then with another delay or unique key
    again = client.post("/v1/jobs", json=body, headers=keys["admin"])
    in_a_day = stamp(utcnow() + timedelta(days=1))
    changes: list[dict[str, Any]] = [
        {"delay_s": 120},
        {"delay_s": None, "run_at": in_a_day},
        {"unique_key": f"u-{uuid.uuid4()}", "unique_for_s": 60},
        {"unique_for_s": 60},
    ]
    conflicts = [
        client.post("/v1/jobs", json={**body, **change}, headers=keys["admin"])
        for change in changes
    ]

    # Then the same delay returns the first job (due when it was), any other change is a 409
    assert again.status_code == 200, again.text
    assert again.json()["id"] == original["id"]
    assert again.json()["run_at"] == original["run_at"]
    for conflict in conflicts:
        error = assert_error(conflict, 409, "idempotency_conflict")
        assert error["details"] == {"job_id": original["id"]}
    post(client, f"/v1/jobs/{original['id']}/cancel", keys["admin"])


def test_a_unique_key_returns_the_open_job(client: TestClient, keys: dict[str, Headers]) -> None:
    body = {
        "type": "diag.sleep",
        "payload": {"ms": 1},
        "delay_s": 60,
        "unique_key": f"report-{uuid.uuid4()}",
        "unique_for_s": 60,
    }
    first = client.post("/v1/jobs", json=body, headers=keys["admin"])
    second = client.post("/v1/jobs", json=body, headers=keys["operator"])

    assert first.status_code == 202, first.text
    assert second.status_code == 200, second.text
    assert second.headers[DEDUPLICATED] == "true"
    assert second.json()["id"] == first.json()["id"]
    post(client, f"/v1/jobs/{first.json()['id']}/cancel", keys["admin"])


def test_batch_items_take_keys_and_delays_and_report_conflicts_per_item(
    client: TestClient, keys: dict[str, Headers]
) -> None:
    key = f"batch-{uuid.uuid4()}"
    sleep = {"type": "diag.sleep", "payload": {"ms": 1}, "queue": "bulk"}
    items = [
        {**sleep, "idempotency_key": key},
        {**sleep, "idempotency_key": key},
        {**sleep, "payload": {"ms": 2}, "idempotency_key": key},
        {"type": "diag.noop", "delay_s": 60},
    ]

    body = post(client, "/v1/jobs/batch", keys["admin"], {"jobs": items})

    results = body["results"]
    assert (body["accepted"], body["rejected"]) == (3, 1)
    assert results[1]["job"]["id"] == results[0]["job"]["id"]
    assert results[2]["error"]["code"] == "idempotency_conflict"
    assert results[2]["error"]["details"] == {"job_id": results[0]["job"]["id"]}
    assert results[3]["job"]["status"] == "scheduled"
    post(client, f"/v1/jobs/{results[3]['job']['id']}/cancel", keys["admin"])


def test_a_batch_refuses_an_idempotency_header_and_creates_nothing(
    client: TestClient, keys: dict[str, Headers]
) -> None:
    # Given a batch sent with an Idempotency-Key header
    key = f"batch-{uuid.uuid4()}"
    item = {"type": "diag.noop", "delay_s": 60, "idempotency_key": key}
    headers = {**keys["admin"], "Idempotency-Key": f"header-{uuid.uuid4()}"}

    refused = client.post("/v1/jobs/batch", json={"jobs": [item]}, headers=headers)

    # Then it is a 422 saying keys go on each item, and nothing was created
    error = assert_error(refused, 422, "validation_error")
    assert "each item" in error["message"]
    assert error["details"][0]["field"] == "header.Idempotency-Key"
    accepted = post(client, "/v1/jobs/batch", keys["admin"], {"jobs": [item]})
    created = client.post("/v1/jobs", json=item, headers=keys["admin"])
    assert created.status_code == 200, "the item's key names the job the second batch made"
    assert created.json()["id"] == accepted["results"][0]["job"]["id"]
    post(client, f"/v1/jobs/{created.json()['id']}/cancel", keys["admin"])


def test_a_replay_refuses_an_idempotency_header_and_enqueues_nothing(
    client: TestClient, keys: dict[str, Headers]
) -> None:
    # Given a cancelled job, and a replay of it sent with an Idempotency-Key header
    job = post(client, "/v1/jobs", keys["admin"], {"type": "diag.noop", "delay_s": 60})
    post(client, f"/v1/jobs/{job['id']}/cancel", keys["admin"])
    headers = {**keys["admin"], "Idempotency-Key": f"replay-{uuid.uuid4()}"}

    refused = client.post(f"/v1/jobs/{job['id']}/replay", headers=headers)

    # Then it is a 422 (each replay is a new job, a key would not stop a second), and no replay
    error = assert_error(refused, 422, "validation_error")
    assert "every replay enqueues a new job" in error["message"]
    assert get(client, f"/v1/jobs/{job['id']}", keys["admin"])["replayed_by"] is None


def test_the_openapi_document_does_not_offer_the_header_where_it_is_refused(
    client: TestClient,
) -> None:
    paths = client.get("/openapi.json").json()["paths"]

    for path in ("/v1/jobs/batch", "/v1/jobs/{job_id}/replay", "/v1/jobs/{job_id}/retry"):
        names = [p["name"] for p in paths[path]["post"].get("parameters", [])]
        assert "Idempotency-Key" not in names


def test_a_write_refuses_a_query_string_instead_of_ignoring_it(
    client: TestClient, keys: dict[str, Headers], dead: dict[str, list[Job]]
) -> None:
    # Given filters sent as a query string to a replay whose body asks for every dead letter
    response = client.post(
        "/v1/dead-letters/replay?type=diag.nope&limit=1", json={}, headers=keys["admin"]
    )

    # Then nothing is replayed: a 422 names the parameters and says where they go
    error = assert_error(response, 422, "validation_error")
    assert [item["field"] for item in error["details"]] == ["query.limit", "query.type"]
    assert "JSON body" in error["message"]
    for job in dead["bulk"]:
        assert get(client, f"/v1/jobs/{job['id']}", keys["admin"])["replayed_by"] is None
    enqueue = client.post("/v1/jobs?priority=9", json={"type": "diag.noop"}, headers=keys["admin"])
    assert_error(enqueue, 422, "validation_error")


INVALID = [
    ("negative delay", {"delay_s": -1}, "validation_error", "body.delay_s"),
    ("delay as text", {"delay_s": "soon"}, "validation_error", "body.delay_s"),
    ("delay as bool", {"delay_s": True}, "validation_error", "body.delay_s"),
    ("delay over a year", {"delay_s": 40_000_000}, "validation_error", "body.delay_s"),
    ("naive run_at", {"run_at": "2026-01-01T09:00:00"}, "validation_error", "body.run_at"),
    ("run_at as number", {"run_at": 1_700_000_000}, "validation_error", "body.run_at"),
    ("run_at as words", {"run_at": "tomorrow"}, "validation_error", "body.run_at"),
    ("delay and run_at", {"delay_s": 1, "run_at": "2030-01-01T00:00:00Z"}, "invalid_job", ""),
    ("empty idempotency key", {"idempotency_key": ""}, "validation_error", "body.idempotency_key"),
    ("long unique key", {"unique_key": "k" * 201}, "validation_error", "body.unique_key"),
    ("zero unique window", {"unique_for_s": 0}, "validation_error", "body.unique_for_s"),
    ("unique key, no window", {"unique_key": "k"}, "invalid_job", ""),
    ("NUL in idempotency key", {"idempotency_key": "a\x00"}, "invalid_job", "idempotency_key"),
    ("NUL in unique key", {"unique_key": "a\x00", "unique_for_s": 5}, "invalid_job", "unique_key"),
]


@pytest.mark.parametrize(
    ("fields", "code", "field"),
    [case[1:] for case in INVALID],
    ids=[case[0] for case in INVALID],
)
def test_invalid_guarantee_fields_are_unprocessable(
    client: TestClient, keys: dict[str, Headers], fields: dict[str, Any], code: str, field: str
) -> None:
    response = client.post("/v1/jobs", json={"type": "diag.noop", **fields}, headers=keys["admin"])

    assert_error(response, 422, code, field)


def test_an_overlong_idempotency_header_is_unprocessable(
    client: TestClient, keys: dict[str, Headers]
) -> None:
    headers = {**keys["admin"], "Idempotency-Key": "k" * 201}

    response = client.post("/v1/jobs", json={"type": "diag.noop"}, headers=headers)

    assert assert_error(response, 422, "validation_error")["details"][0]["field"] == (
        "header.Idempotency-Key"
    )


# --- cancel -------------------------------------------------------------------------------------


def test_cancelling_a_scheduled_job_is_final_and_a_finished_one_is_a_conflict(
    client: TestClient, keys: dict[str, Headers]
) -> None:
    job = post(client, "/v1/jobs", keys["admin"], {"type": "diag.noop", "delay_s": 30})

    outcome = post(client, f"/v1/jobs/{job['id']}/cancel", keys["operator"])

    assert outcome["final"] is True
    assert outcome["job"]["status"] == "cancelled"
    assert outcome["job"]["cancel_requested_at"] is not None
    assert get(client, f"/v1/jobs/{job['id']}", keys["reader"])["status"] == "cancelled"
    again = client.post(f"/v1/jobs/{job['id']}/cancel", headers=keys["operator"])
    assert "cancelled" in assert_error(again, 409, "job_state_conflict")["message"]


def test_cancelling_a_running_job_asks_it_to_stop(
    client: TestClient, keys: dict[str, Headers], worker: None
) -> None:
    # Given a diag.steps job that is running and reporting progress
    body = {"type": "diag.steps", "payload": {"steps": 200, "step_ms": 50}}
    job = post(client, "/v1/jobs", keys["admin"], body)

    def reporting() -> Job | None:
        record: Job = get(client, f"/v1/jobs/{job['id']}", keys["admin"])
        return record if record["progress_message"] else None

    running = wait_for(reporting, timeout=20, what="diag.steps to report progress")
    assert running["status"] == "started"
    assert running["heartbeat_at"] is not None
    assert running["progress_message"].startswith("step ")

    # When it is cancelled
    outcome = post(client, f"/v1/jobs/{job['id']}/cancel", keys["admin"])

    # Then the cancel is not final at once, and the job stops at its next check
    assert outcome["final"] is False
    assert outcome["job"]["cancel_requested_at"] is not None
    stopped = wait_status(client, keys["admin"], job["id"], "cancelled")
    assert (stopped["progress"] or 0) < 100


def test_progress_is_visible_when_a_steps_job_is_done(
    client: TestClient, keys: dict[str, Headers], worker: None
) -> None:
    body = {"type": "diag.steps", "payload": {"steps": 4, "step_ms": 10}}
    job = post(client, "/v1/jobs", keys["admin"], body)

    done = wait_status(client, keys["admin"], job["id"], "succeeded")

    assert (done["progress"], done["progress_message"]) == (100, "step 4/4")
    assert done["max_attempts"] >= 1
    assert done["timed_out"] is False


def test_acting_on_a_job_needs_the_scope_for_its_type(
    client: TestClient, keys: dict[str, Headers]
) -> None:
    job = post(client, "/v1/jobs", keys["admin"], {"type": "diag.noop", "delay_s": 30})

    for action in ("cancel", "replay", "retry"):
        path = f"/v1/jobs/{job['id']}/{action}"
        reader = client.post(path, headers=keys["reader"])
        narrow = client.post(path, headers=keys["sleeper"])
        assert assert_error(reader, 403, "forbidden")["details"] == {"scope": "jobs:write"}
        scope = assert_error(narrow, 403, "forbidden")["details"]
        assert scope == {"scope": "jobs:write:diag.noop"}
        for unknown in (str(uuid.uuid4()), "nope"):
            response = client.post(f"/v1/jobs/{unknown}/{action}", headers=keys["admin"])
            assert_error(response, 404, "job_not_found")
    post(client, f"/v1/jobs/{job['id']}/cancel", keys["admin"])


# --- replay and dead letters --------------------------------------------------------------------


def test_a_dead_job_is_replayed_as_a_new_job_linked_to_it(
    client: TestClient, keys: dict[str, Headers], dead: dict[str, list[Job]]
) -> None:
    original = dead["retried"][0]
    assert original["attempts"] == original["max_attempts"] > 1

    replay = post(client, f"/v1/jobs/{original['id']}/replay", keys["operator"])

    assert replay["id"] != original["id"]
    assert replay["replay_of"] == original["id"]
    assert replay["status"] in ("queued", "started", "retrying")
    assert replay["payload"] == original["payload"]
    assert get(client, f"/v1/jobs/{original['id']}", keys["reader"])["replayed_by"] == replay["id"]


def test_the_deprecated_retry_path_replays_too_and_says_it_is_deprecated(
    client: TestClient, keys: dict[str, Headers], dead: dict[str, list[Job]]
) -> None:
    original = dead["retried"][0]

    replay = post(client, f"/v1/jobs/{original['id']}/retry", keys["operator"])

    assert replay["replay_of"] == original["id"]
    assert get(client, f"/v1/jobs/{original['id']}", keys["reader"])["replayed_by"] == replay["id"]
    paths = client.get("/openapi.json").json()["paths"]
    assert paths["/v1/jobs/{job_id}/retry"]["post"]["deprecated"] is True
    assert "/v1/jobs/{job_id}/replay" in paths["/v1/jobs/{job_id}/retry"]["post"]["description"]
    assert "deprecated" not in paths["/v1/jobs/{job_id}/replay"]["post"]


def test_replaying_a_job_that_did_not_fail_is_a_conflict(
    client: TestClient, keys: dict[str, Headers], worker: None
) -> None:
    job = post(client, "/v1/jobs", keys["admin"], {"type": "diag.noop"})
    wait_status(client, keys["admin"], job["id"], "succeeded")

    response = client.post(f"/v1/jobs/{job['id']}/replay", headers=keys["admin"])

    message = assert_error(response, 409, "job_state_conflict")["message"]
    assert message.startswith(f"job {job['id']} has succeeded; only dead, failed or cancelled")


def test_dead_letters_are_listed_by_type_and_time_of_death_a_page_at_a_time(
    client: TestClient, keys: dict[str, Headers], dead: dict[str, list[Job]]
) -> None:
    listed = dead["listed"]
    ids = {job["id"] for job in listed}
    deaths = sorted(parse(job["finished_at"]) for job in listed)
    window = {"since": stamp(deaths[0]), "until": stamp(deaths[-1] + timedelta(milliseconds=1))}
    base = {"type": "diag.fail", "queue": "critical", "limit": 2}

    # When the queue's dead letters are read two at a time
    first = get(client, "/v1/dead-letters", keys["reader"], **base)
    second = get(client, "/v1/dead-letters", keys["reader"], **base, cursor=first["next_cursor"])

    # Then all three come, dead and newest first, over two pages
    assert len(first["items"]) == 2
    assert second["next_cursor"] is None
    items = first["items"] + second["items"]
    assert {job["id"] for job in items} == ids
    assert {job["status"] for job in items} == {"dead"}
    order = [(job["created_at"], job["id"]) for job in items]
    assert order == sorted(order, reverse=True)
    # And the time filters bound the time of death: since inclusive, until exclusive
    by_window = get(client, "/v1/dead-letters", keys["reader"], **{**base, "limit": 50, **window})
    assert {job["id"] for job in by_window["items"]} == ids
    after = get(client, "/v1/dead-letters", keys["reader"], **{**base, "since": window["until"]})
    before = get(client, "/v1/dead-letters", keys["reader"], **{**base, "until": window["since"]})
    assert after["items"] == before["items"] == []
    # And a type with no dead letters lists none
    assert get(client, "/v1/dead-letters", keys["reader"], type="diag.noop")["items"] == []


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"since": "yesterday"}, "query.since"),
        ({"since": "2026-01-01T00:00:00"}, "query.since"),
        ({"until": "1700000000"}, "query.until"),
        ({"until": "2026-13-01T00:00:00Z"}, "query.until"),
        ({"replayed": "maybe"}, "query.replayed"),
        ({"cursor": "bm90IGEgY3Vyc29y"}, "query.cursor"),
    ],
)
def test_bad_dead_letter_filters_are_unprocessable(
    client: TestClient, keys: dict[str, Headers], params: dict[str, str], field: str
) -> None:
    response = client.get("/v1/dead-letters", params=params, headers=keys["reader"])

    assert assert_error(response, 422, "validation_error")["details"][0]["field"] == field


def test_dead_letters_are_replayed_in_bulk_by_an_admin_only(
    client: TestClient, keys: dict[str, Headers], dead: dict[str, list[Job]]
) -> None:
    originals = {job["id"] for job in dead["bulk"]}
    last_death = max(parse(job["finished_at"]) for job in dead["bulk"])
    # Only the deaths so far: replays that die in turn must not be taken by the second call
    body = {
        "type": "diag.fail",
        "queue": "high",
        "until": stamp(last_death + timedelta(milliseconds=1)),
    }

    # A key that may write and read every job still may not replay in bulk
    refused = client.post("/v1/dead-letters/replay", json=body, headers=keys["operator"])
    assert assert_error(refused, 403, "forbidden")["details"] == {"scope": "admin"}

    # When an admin replays the queue's dead letters, twice
    report = post(client, "/v1/dead-letters/replay", keys["admin"], body)
    again = post(client, "/v1/dead-letters/replay", keys["admin"], body)

    # Then each dead letter is replayed once, as a new job linked to it
    assert (report["replayed"], report["errors"]) == (2, [])
    replays = [get(client, f"/v1/jobs/{job_id}", keys["reader"]) for job_id in report["jobs"]]
    assert {job["replay_of"] for job in replays} == originals
    assert again == {"replayed": 0, "jobs": [], "errors": []}
    replayed = get(client, "/v1/dead-letters", keys["reader"], queue="high", replayed="true")
    assert {job["id"] for job in replayed["items"]} == originals


def test_a_bulk_replay_limit_is_bounded(client: TestClient, keys: dict[str, Headers]) -> None:
    for limit in (0, 10_001):
        response = client.post(
            "/v1/dead-letters/replay", json={"limit": limit}, headers=keys["admin"]
        )
        assert assert_error(response, 422, "validation_error")["details"][0]["field"] == (
            "body.limit"
        )


def test_the_openapi_document_lists_the_guarantee_paths(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()

    assert {
        "/v1/jobs/{job_id}/cancel",
        "/v1/jobs/{job_id}/replay",
        "/v1/jobs/{job_id}/retry",
        "/v1/dead-letters",
        "/v1/dead-letters/replay",
    } <= set(spec["paths"])
    enqueue = spec["paths"]["/v1/jobs"]["post"]
    assert {"200", "202", "409"} <= set(enqueue["responses"])
    assert "Idempotency-Key" in [p["name"] for p in enqueue["parameters"]]
    job_in = spec["components"]["schemas"]["JobIn"]["properties"]
    assert {"delay_s", "run_at", "idempotency_key", "unique_key", "unique_for_s"} <= set(job_in)
