"""Acting on queues and workers with real worker processes: a paused queue is not consumed (not
even by a worker started later) while producers still enqueue, and resuming runs what waited;
``taskyard workers check`` fails for a worker that is up but not consuming, and passes again
once it is restarted."""

from __future__ import annotations

import json
import os
import signal
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tasks.jobs.producer import JobRequest, enqueue
from tests.support.api import Headers, assert_error
from tests.support.cli import run
from tests.support.jobs import wait_finished
from tests.support.processes import celery_worker_command, running, wait_worker_ready
from tests.support.runtime import taskyard_runtime
from tests.support.services import RedisServer
from tests.support.waiting import wait_for
from workers.app import app
from workers.pausing import paused_queues
from workers.store import jobs
from workers.store.models import JobStatus

NODE = f"default@{socket.gethostname()}"


@pytest.fixture(scope="module")
def runtime(
    redis_service: RedisServer, redis_db: int, preferred_database_url: str
) -> Iterator[dict[str, str]]:
    """The module's Redis database and one store; INFO logs, so a worker's readiness shows."""
    redis_service.client(redis_db).flushdb()
    env = {
        "TASKYARD_BROKER_URL": redis_service.url(redis_db),
        "TASKYARD_DATABASE_URL": preferred_database_url,
        "TASKYARD_LOG_FORMAT": "text",
        "TASKYARD_LOG_LEVEL": "INFO",
        "TASKYARD_API_URL": "http://127.0.0.1:9",  # discard: no API answers here
    }
    with taskyard_runtime(env) as applied:
        yield applied


@pytest.fixture(autouse=True)
def nothing_paused(runtime: dict[str, str]) -> Iterator[None]:
    """Every test starts and ends with no queue paused."""
    for queue in paused_queues():
        assert run("queues", "resume", queue).exit_code == 0
    yield
    for queue in paused_queues():
        assert run("queues", "resume", queue).exit_code == 0


def _noop(queue: str) -> str:
    return str(enqueue(JobRequest("diag.noop", queue=queue)).id)


def _status(job_id: str) -> JobStatus:
    return JobStatus(jobs.get_job(uuid.UUID(job_id)).status)


def _worker() -> list[str]:
    return celery_worker_command(["default", "bulk"], NODE.partition("@")[0])


def test_a_paused_queue_waits_and_runs_once_resumed(
    client: TestClient, admin: Headers, keys: dict[str, Headers], tmp_path: Path
) -> None:
    log = tmp_path / "worker.log"
    with running(_worker(), log) as worker:
        wait_worker_ready(worker, log)

        # When an administrator pauses default on the API (a reader may not)
        assert_error(
            client.patch("/v1/queues/default", json={"paused": True}, headers=keys["reader"]),
            403,
            "forbidden",
        )
        paused = client.patch("/v1/queues/default", json={"paused": True}, headers=admin)
        assert paused.status_code == 200, paused.text
        assert paused.json() == {"name": "default", "paused": True, "workers": [NODE]}

        # Then a default job is accepted but waits, while the same worker runs bulk jobs
        waiting = _noop("default")
        assert wait_finished(_noop("bulk")).status == JobStatus.SUCCEEDED
        assert _status(waiting) == JobStatus.QUEUED
        queues = {q["name"]: q for q in client.get("/v1/queues", headers=admin).json()["queues"]}
        assert (queues["default"]["paused"], queues["default"]["depth"]) == (True, 1)
        assert queues["bulk"]["paused"] is False
        exposition = client.get("/metrics").text
        assert 'taskyard_queue_paused{queue="default"} 1.0' in exposition
        assert 'taskyard_queue_paused{queue="bulk"} 0.0' in exposition

        # When it is resumed from the CLI, the waiting job runs
        resumed = run("queues", "resume", "default")
        assert resumed.exit_code == 0, resumed.output
        assert NODE in resumed.stdout
        assert wait_finished(waiting).status == JobStatus.SUCCEEDED


def test_a_worker_started_while_a_queue_is_paused_leaves_it_alone(tmp_path: Path) -> None:
    # Given default paused with a job waiting, and no worker running
    assert run("queues", "pause", "default").exit_code == 0
    waiting = _noop("default")

    # When a worker for default and bulk starts
    log = tmp_path / "worker.log"
    with running(_worker(), log) as worker:
        wait_worker_ready(worker, log)

        # Then it consumes bulk only: the default job still waits
        assert wait_finished(_noop("bulk")).status == JobStatus.SUCCEEDED
        assert _status(waiting) == JobStatus.QUEUED
        listed = run("workers", "list", "--json", "--timeout", "5")
        (seen,) = json.loads(listed.stdout)
        assert (seen["node"], seen["own"], seen["consuming"]) == (
            NODE, ["bulk", "default"], ["bulk"]
        )  # fmt: skip

        # And once resumed, it consumes default too
        assert run("queues", "resume", "default").exit_code == 0
        assert wait_finished(waiting).status == JobStatus.SUCCEEDED


def test_an_unknown_queue_is_a_404_and_a_usage_error(client: TestClient, admin: Headers) -> None:
    unknown = client.patch("/v1/queues/nope", json={"paused": True}, headers=admin)
    assert_error(unknown, 404, "queue_not_found")
    assert_error(client.patch("/v1/queues/bulk", json={"paused": 1}, headers=admin), 422,
                 "validation_error")  # fmt: skip
    assert run("queues", "pause", "nope").exit_code == 2


def _check(*args: str) -> tuple[int, str]:
    result = run("workers", "check", "--timeout", "5", *args)
    return result.exit_code, result.stdout


def test_workers_check_fails_for_a_worker_up_but_not_consuming(tmp_path: Path) -> None:
    log = tmp_path / "worker.log"
    with running(_worker(), log) as worker:
        wait_worker_ready(worker, log)
        assert _check("--profile", "default") == (
            0,
            f"ok: 1 worker consuming their queues ({NODE})\n",
        )
        code, out = _check("--profile", "default", "--profile", "realtime")
        assert code == 1
        assert out.startswith("no realtime worker answers (queues critical, high)")

        # When its consumer of default is cancelled behind Taskyard's back (not paused)
        app.control.cancel_consumer("default", destination=[NODE], reply=True, timeout=5)

        # Then the check fails, naming the worker and the queue
        code, out = _check("--node", NODE)
        assert code == 1
        assert out.startswith(f"{NODE} does not consume default, which is not paused")

    # And a restarted worker passes
    with running(_worker(), log) as worker:
        wait_worker_ready(worker, log)
        wait_for(lambda: _check("--node", NODE)[0] == 0, timeout=60, what="a passing check")

        # When its main process is stopped (alive, but answering and fetching nothing)
        os.kill(worker.pid, signal.SIGSTOP)
        try:
            # Then the check fails within its reply timeout
            code, out = _check("--node", NODE)
            assert code == 1
            assert out.startswith(f"{NODE} does not answer within 5 s")
        finally:
            os.kill(worker.pid, signal.SIGCONT)

        # And passes again once it runs on
        wait_for(lambda: _check("--node", NODE)[0] == 0, timeout=30, what="the worker to answer")


def test_status_says_what_fails_and_what_to_do(tmp_path: Path) -> None:
    log = tmp_path / "worker.log"
    with running(_worker(), log) as worker:
        wait_worker_ready(worker, log)
        # Given default paused with a job waiting, and no API, beat, or realtime or bulk worker
        assert run("queues", "pause", "default").exit_code == 0
        _noop("default")

        result = run("status", "--json")

    # Then the lines say so, each with what to do next, and the exit code is 1
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    lines = {line["name"]: line for line in report["checks"]}
    assert report["healthy"] is False
    assert (lines["store"]["status"], lines["broker"]["status"]) == ("ok", "ok")
    assert lines["api"]["status"] == "FAIL"
    assert lines["beat"]["status"] == "FAIL"
    assert "start beat" in lines["beat"]["next_step"]
    assert lines["workers bulk"]["status"] == "FAIL"
    assert lines["workers default"]["status"] == "warn"
    assert lines["workers default"]["detail"] == "1 live; paused: default"
    assert lines["queue default"]["status"] == "warn"
    assert lines["queue default"]["detail"].startswith("paused; 1 waiting")
    assert lines["queue default"]["next_step"] == "`taskyard queues resume default`"
    assert lines["dispatcher"]["status"] == "ok"
    assert result.stderr.startswith("taskyard: 4 parts failing (api, beat, workers realtime")


def test_top_draws_the_status_screen_and_stops_after_its_count() -> None:
    result = run("top", "--count", "2", "--interval", "0.5")

    assert result.exit_code == 0, result.output
    assert result.stdout.count("taskyard top: ") >= 1
    assert "workers default" in result.stdout
