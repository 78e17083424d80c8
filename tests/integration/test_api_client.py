"""The Python client against a real uvicorn server, store, Redis and worker."""

from __future__ import annotations

import socket
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import uvicorn

from api.client import ApiError, Client
from tests.support.waiting import wait_for
from tests.support.worker import embedded_worker
from workers.store.keys import create_key


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def base_url(runtime: dict[str, str]) -> Iterator[str]:
    """The API served by uvicorn on a free loopback port, in a thread; stopped afterwards."""
    port = free_port()
    config = uvicorn.Config(
        "api.app:create_app", factory=True, host="127.0.0.1", port=port, log_level="warning"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="uvicorn", daemon=True)
    thread.start()
    wait_for(lambda: server.started, timeout=10, what="uvicorn to start")
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        assert not thread.is_alive(), "uvicorn did not stop"


@pytest.fixture(scope="module")
def api(runtime: dict[str, str], base_url: str) -> Iterator[Client]:
    secret = create_key("client-test", ["jobs:write", "jobs:read"]).secret
    with Client(base_url, secret, timeout=5) as client:
        yield client


@pytest.fixture(scope="module")
def worker(runtime: dict[str, str]) -> Iterator[None]:
    with embedded_worker():
        yield


def test_enqueue_then_wait_returns_the_finished_job(api: Client, worker: None) -> None:
    # Given a job enqueued through the client with a correlation id
    job = api.enqueue("diag.sleep", {"ms": 5}, priority=8, correlation_id="client-flow")
    assert job["status"] == "queued"

    # When the client waits for it
    done = api.wait(job["id"], timeout=20)

    # Then it has succeeded, and reading it back agrees
    assert done["status"] == "succeeded"
    assert done["result"] == {"slept_ms": 5}
    assert api.get_job(job["id"]) == done
    assert done["correlation_id"] == "client-flow"
    assert done["priority"] == 8


def test_batch_list_and_queues(api: Client, worker: None) -> None:
    outcome = api.enqueue_batch([{"type": "diag.noop"}, {"type": "diag.nope"}])
    assert (outcome["accepted"], outcome["rejected"]) == (1, 1)
    accepted = outcome["results"][0]["job"]["id"]

    api.wait(accepted, timeout=20)

    assert accepted in [j["id"] for j in api.iter_jobs(type="diag.noop", limit=1)]
    assert [q["name"] for q in api.queues()] == ["critical", "high", "default", "bulk"]


def test_batch_items_carry_their_own_idempotency_keys(api: Client) -> None:
    key = f"client-batch-{uuid.uuid4()}"
    item = {"type": "diag.noop", "delay_s": 300, "idempotency_key": key}

    first = api.enqueue_batch([item])["results"][0]["job"]
    again = api.enqueue_batch([item])["results"][0]["job"]
    single = api.submit("diag.noop", delay_s=300, idempotency_key=key)

    assert again["id"] == first["id"]
    assert (single.created, single.job["id"]) == (False, first["id"])
    api.cancel(first["id"])


def test_api_errors_raise_api_error_with_the_code(api: Client) -> None:
    with pytest.raises(ApiError) as unknown:
        api.get_job(str(uuid.uuid4()))
    assert (unknown.value.status, unknown.value.code) == (404, "job_not_found")

    with pytest.raises(ApiError) as invalid:
        api.enqueue("diag.sleep", {"ms": "soon"})
    assert (invalid.value.status, invalid.value.code) == (422, "invalid_job")
    assert invalid.value.details[0]["field"] == "ms"


def test_a_bad_key_is_unauthorized(base_url: str) -> None:
    with (
        Client(base_url, "tyk_wrong") as client,
        pytest.raises(ApiError) as caught,
    ):
        client.queues()

    assert (caught.value.status, caught.value.code) == (401, "unauthorized")


def test_an_unreachable_api_raises_api_error() -> None:
    with (
        Client(f"http://127.0.0.1:{free_port()}", "tyk_x", timeout=2) as client,
        pytest.raises(ApiError) as caught,
    ):
        client.get_job(str(uuid.uuid4()))

    assert (caught.value.status, caught.value.code) == (0, "unreachable")


def test_keys_delays_cancel_and_dead_letters_through_the_client(api: Client) -> None:
    # Given a delayed job submitted with an idempotency key, twice
    due = datetime.now(UTC) + timedelta(minutes=5)
    key = f"client-{uuid.uuid4()}"
    first = api.submit("diag.noop", run_at=due, idempotency_key=key)
    again = api.submit("diag.noop", run_at=due, idempotency_key=key)

    # Then the second returns the first, which waits as scheduled
    assert (first.created, again.created) == (True, False)
    assert again.job["id"] == first.job["id"]
    assert first.job["status"] == "scheduled"

    # And it can be cancelled once, then neither cancelled nor replayed as if it had failed
    outcome = api.cancel(first.job["id"])
    assert (outcome["final"], outcome["job"]["status"]) == (True, "cancelled")
    with pytest.raises(ApiError) as twice:
        api.cancel(first.job["id"])
    assert (twice.value.status, twice.value.code) == (409, "job_state_conflict")
    assert api.replay(first.job["id"])["replay_of"] == first.job["id"]

    # And the dead-letter set is readable, but replaying it in bulk needs admin
    assert api.dead_letters(type="diag.noop", since=due - timedelta(days=1))["items"] == []
    with pytest.raises(ApiError) as refused:
        api.replay_dead_letters(type="diag.noop")
    assert (refused.value.status, refused.value.code) == (403, "forbidden")
