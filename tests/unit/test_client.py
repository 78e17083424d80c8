"""The HTTP client's contract, against canned HTTP answers (no server, no store)."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime

import httpx
import pytest

from api.client import ApiError, Client, WaitTimeout
from workers.errors import TaskyardError

Handler = Callable[[httpx.Request], httpx.Response]


def client_for(handler: Handler, **kwargs: object) -> Client:
    return Client("http://api.test", "tyk_secret", transport=httpx.MockTransport(handler), **kwargs)  # type: ignore[arg-type]


def job(status: str, job_id: str = "j1") -> dict[str, object]:
    return {"id": job_id, "status": status}


def test_enqueue_sends_the_key_the_body_and_a_correlation_id() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(202, json=job("queued"))

    with client_for(handler, correlation_id="default-cid") as api:
        api.enqueue("diag.sleep", {"ms": 1}, queue="bulk", priority=7)
        api.enqueue("diag.noop", correlation_id="call-cid")

    first, second = seen
    assert (first.method, first.url.path) == ("POST", "/v1/jobs")
    assert first.headers["Authorization"] == "Bearer tyk_secret"
    assert json.loads(first.content) == {
        "type": "diag.sleep",
        "payload": {"ms": 1},
        "queue": "bulk",
        "priority": 7,
    }
    assert first.headers["X-Correlation-ID"] == "default-cid"
    assert json.loads(second.content) == {"type": "diag.noop", "payload": {}}
    assert second.headers["X-Correlation-ID"] == "call-cid"


def test_an_error_answer_raises_api_error_with_its_code() -> None:
    body = {"error": {"code": "invalid_job", "message": "bad ms", "details": [{"field": "ms"}]}}

    with (
        client_for(lambda _: httpx.Response(422, json=body)) as api,
        pytest.raises(ApiError) as caught,
    ):
        api.enqueue("diag.sleep", {"ms": -1})

    error = caught.value
    assert (error.status, error.code, error.message) == (422, "invalid_job", "bad ms")
    assert error.details == [{"field": "ms"}]
    assert isinstance(error, TaskyardError)
    assert str(error) == "invalid_job: bad ms (HTTP 422)"


def test_a_non_json_error_still_raises_api_error() -> None:
    with (
        client_for(lambda _: httpx.Response(502, text="Bad Gateway")) as api,
        pytest.raises(ApiError) as caught,
    ):
        api.get_job("j1")

    assert (caught.value.status, caught.value.code) == (502, "http_error")
    assert "Bad Gateway" in caught.value.message


def test_an_unreachable_api_raises_api_error_with_status_zero() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    with (
        client_for(refuse) as api,
        pytest.raises(ApiError) as caught,
    ):
        api.queues()

    assert (caught.value.status, caught.value.code) == (0, "unreachable")


def test_wait_polls_until_the_job_is_finished() -> None:
    answers = iter(["queued", "started", "retrying", "dead"])

    with client_for(lambda _: httpx.Response(200, json=job(next(answers)))) as api:
        finished = api.wait("j1", timeout=5, interval=0)

    assert finished["status"] == "dead"


def test_wait_gives_up_after_its_timeout_with_the_last_record() -> None:
    with (
        client_for(lambda _: httpx.Response(200, json=job("started"))) as api,
        pytest.raises(WaitTimeout) as caught,
    ):
        api.wait("j1", timeout=0.05, interval=0.01)

    assert caught.value.job["status"] == "started"
    assert caught.value.message == "job j1 has not finished after 0.05 s (status started)"


def test_list_jobs_sends_only_given_filters_and_iter_jobs_follows_cursors() -> None:
    queries: list[dict[str, str]] = []
    pages = {None: (["a", "b"], "c1"), "c1": (["c"], None)}

    def handler(request: httpx.Request) -> httpx.Response:
        params = dict(request.url.params)
        queries.append(params)
        ids, cursor = pages[params.get("cursor")]
        return httpx.Response(
            200, json={"items": [job("queued", i) for i in ids], "next_cursor": cursor}
        )

    with client_for(handler) as api:
        api.list_jobs(status="queued", type=None, limit=2)
        ids = [item["id"] for item in api.iter_jobs(queue="bulk", limit=2)]

    assert queries[0] == {"status": "queued", "limit": "2"}
    assert ids == ["a", "b", "c"]
    assert queries[2] == {"queue": "bulk", "limit": "2", "cursor": "c1"}


def test_queues_and_batch_return_the_useful_part() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/v1/queues":
            return httpx.Response(200, json={"queues": [{"name": "bulk", "depth": 0}]})
        assert json.loads(request.content) == {"jobs": [{"type": "diag.noop"}]}
        return httpx.Response(202, json={"accepted": 1, "rejected": 0, "results": []})

    with client_for(handler) as api:
        assert api.queues() == [{"name": "bulk", "depth": 0}]
        assert api.enqueue_batch([{"type": "diag.noop"}])["accepted"] == 1


def test_submit_sends_the_guarantee_fields_and_says_whether_it_created_the_job() -> None:
    seen: list[dict[str, object]] = []
    answers = iter([202, 200, 202])

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(json.loads(request.content))
        return httpx.Response(next(answers), json=job("scheduled"))

    due = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    with client_for(handler) as api:
        created = api.submit("diag.noop", run_at=due, idempotency_key="k1")
        again = api.submit("diag.noop", run_at="2026-01-02T03:04:05Z", idempotency_key="k1")
        plain = api.enqueue("diag.noop", delay_s=1.5, unique_key="u", unique_for_s=60)

    assert (created.created, again.created) == (True, False)
    assert created.job == again.job == plain == job("scheduled")
    assert seen[0] == {
        "type": "diag.noop",
        "payload": {},
        "run_at": "2026-01-02T03:04:05+00:00",
        "idempotency_key": "k1",
    }
    assert seen[1]["run_at"] == "2026-01-02T03:04:05Z"
    assert seen[2] == {
        "type": "diag.noop",
        "payload": {},
        "delay_s": 1.5,
        "unique_key": "u",
        "unique_for_s": 60,
    }


def test_cancel_replay_and_dead_letters_call_their_endpoints() -> None:
    seen: list[httpx.Request] = []
    answers = {
        "/v1/jobs/j1/cancel": {"job": job("cancelled"), "final": True},
        "/v1/jobs/j1/replay": job("queued", "j2"),
        "/v1/dead-letters": {"items": [job("dead")], "next_cursor": None},
        "/v1/dead-letters/replay": {"replayed": 1, "jobs": ["j2"], "errors": []},
    }

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(202, json=answers[request.url.path])

    since = datetime(2026, 1, 1, tzinfo=UTC)
    with client_for(handler) as api:
        assert api.cancel("j1")["final"] is True
        assert api.replay("j1")["id"] == "j2"
        assert api.retry("j1")["id"] == "j2", "the deprecated alias replays too"
        page = api.dead_letters(type="diag.fail", since=since, until=None, replayed=False)
        report = api.replay_dead_letters(queue="high", since=since, limit=10)

    assert page["items"][0]["status"] == "dead"
    assert report["jobs"] == ["j2"]
    assert [(r.method, r.url.path) for r in seen] == [
        ("POST", "/v1/jobs/j1/cancel"),
        ("POST", "/v1/jobs/j1/replay"),
        ("POST", "/v1/jobs/j1/replay"),
        ("GET", "/v1/dead-letters"),
        ("POST", "/v1/dead-letters/replay"),
    ]
    assert dict(seen[3].url.params) == {
        "type": "diag.fail",
        "since": "2026-01-01T00:00:00+00:00",
        "replayed": "false",
    }
    assert json.loads(seen[4].content) == {
        "queue": "high",
        "since": "2026-01-01T00:00:00+00:00",
        "limit": 10,
    }


def test_an_unknown_option_is_a_type_error_and_sends_nothing() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(202, json={})

    with client_for(handler) as api, pytest.raises(TypeError, match="quee"):
        api.enqueue("diag.noop", quee="bulk")  # type: ignore[call-arg]
    assert seen == []


def test_a_conflict_raises_api_error_with_its_details() -> None:
    body = {
        "error": {
            "code": "idempotency_conflict",
            "message": "idempotency key 'k' was used with another request",
            "details": {"job_id": "j0"},
        }
    }

    with (
        client_for(lambda _: httpx.Response(409, json=body)) as api,
        pytest.raises(ApiError) as caught,
    ):
        api.submit("diag.noop", idempotency_key="k")

    assert (caught.value.status, caught.value.code) == (409, "idempotency_conflict")
    assert caught.value.details == {"job_id": "j0"}
