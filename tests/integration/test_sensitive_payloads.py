"""A sensitive payload's value reaches its job intact and nothing else: not the store, the
broker message, the worker's task events (what Flower shows), the logs, a Sentry report, or
an API read without ``admin``; ``taskyard keys rotate-data`` reseals it under a new key."""

from __future__ import annotations

import hashlib
import uuid
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient
from sqlalchemy import text

from cli.main import cli
from tests.support.api import Headers, assert_error
from tests.support.channels import DATA_KEY, use_keys
from tests.support.events import task_events
from tests.support.jobs import wait_finished
from tests.support.processes import celery_worker_command, running
from tests.support.sentry_sink import sentry_sink
from tests.support.waiting import wait_for
from workers.redis_client import shared_redis
from workers.sealing import new_key
from workers.settings import get_settings
from workers.store.engine import session_scope

SECRET = "s3cr3t-" + uuid.uuid4().hex
KEY = DATA_KEY


@pytest.fixture(scope="module")
def settings(sealing: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    return sealing


@pytest.fixture(scope="module")
def sealed_client(sealing: pytest.MonkeyPatch, client: TestClient) -> TestClient:
    """The module's client, made after the data key is set."""
    return client


def _enqueue(client: TestClient, headers: Headers, fail: bool) -> str:
    payload = {"account": "acme", "secret": SECRET, "fail": fail}
    response = client.post("/v1/jobs", json={"type": "diag.sealed", "payload": payload},
                           headers=headers)  # fmt: skip
    assert response.status_code == 202, response.text
    assert SECRET not in response.text
    job_id: str = response.json()["id"]
    return job_id


def _stored(job_id: str) -> str:
    with session_scope() as session:
        row = session.execute(
            text("SELECT payload, error_message, error_traceback FROM jobs WHERE id = :id"),
            {"id": uuid.UUID(job_id).hex if "sqlite" in get_settings().database_url else job_id},
        ).one()
    return repr(tuple(row))


def _broker_contents() -> bytes:
    client = shared_redis(get_settings().broker_url)
    lists = [key for key in client.scan_iter() if client.type(key) == b"list"]
    return b"".join(b"".join(client.lrange(key, 0, -1)) for key in lists)


def test_a_sensitive_value_shows_nowhere_but_in_its_job(
    sealed_client: TestClient, keys: dict[str, Headers], tmp_path: Path
) -> None:
    client = sealed_client
    # Given two diag.sealed jobs waiting in the broker, one that will log and raise its secret
    ok_id = _enqueue(client, keys["writer"], fail=False)
    failing_id = _enqueue(client, keys["writer"], fail=True)
    broker = _broker_contents()

    # When a real worker with Sentry on and every log line kept runs them, watched by events
    log_path = tmp_path / "worker.log"
    command = celery_worker_command(["default"], "sealed")
    with sentry_sink(in_process=False) as (dsn, envelopes), task_events() as events:
        env = {"TASKYARD_SENTRY_DSN": dsn, "TASKYARD_LOG_LEVEL": "DEBUG"}
        with running(command, log_path, env=env, unset=["PROMETHEUS_MULTIPROC_DIR"]):
            ok, failed = wait_finished(ok_id, timeout=60), wait_finished(failing_id, timeout=60)
            events.wait_for([ok_id], timeout=5)
            wait_for(lambda: b"DiagFailure" in b"".join(envelopes), what="the Sentry report")
        reports = b"".join(envelopes)
    logs = log_path.read_text()

    # Then the job got the secret intact
    assert ok.status == "succeeded"
    assert ok.result == {"secret_sha256": hashlib.sha256(SECRET.encode()).hexdigest()}
    assert failed.status == "failed"
    # And the store, the broker, the events, the logs and Sentry never saw it
    assert "diag.sealed refusing" in logs
    shown_args = events.args[ok_id] + events.args[failing_id]
    assert shown_args
    assert all("[redacted]" in args and "acme" in args for args in shown_args)
    seen: dict[str, Any] = {
        "store": _stored(ok_id) + _stored(failing_id),
        "broker": broker.decode(),
        "events": repr(shown_args),
        "logs": logs,
        "sentry": reports.decode(errors="replace"),
    }
    assert {where: SECRET in what for where, what in seen.items()} == dict.fromkeys(seen, False)
    # And the API shows it to admin only
    reader = client.get(f"/v1/jobs/{failing_id}", headers=keys["reader"])
    listing = client.get("/v1/jobs?type=diag.sealed", headers=keys["reader"])
    admin = client.get(f"/v1/jobs/{failing_id}", headers=keys["admin"])
    assert reader.json()["payload"] == {"account": "acme", "secret": "[redacted]", "fail": True}
    assert SECRET not in reader.text
    assert SECRET not in listing.text
    assert SECRET not in reader.json()["error"]["message"]
    assert listing.json()["items"]
    assert admin.json()["payload"]["secret"] == SECRET


def test_rotate_data_reseals_under_the_new_key(
    settings: pytest.MonkeyPatch, sealed_client: TestClient, keys: dict[str, Headers]
) -> None:
    # Given a sealed job stored under the first key
    job_id = _enqueue(sealed_client, keys["writer"], fail=False)
    newer = new_key()
    use_keys(settings, newer, KEY)

    # When the data keys are rotated, and the old key is dropped
    rotated = CliRunner().invoke(cli, ["keys", "rotate-data"])
    use_keys(settings, newer)

    # Then the new key alone opens the payload, which is still sealed
    assert rotated.exit_code == 0, rotated.output
    assert "sensitive job" in rotated.output
    admin = sealed_client.get(f"/v1/jobs/{job_id}", headers=keys["admin"])
    assert admin.json()["payload"]["secret"] == SECRET
    assert SECRET not in _stored(job_id)
    use_keys(settings, KEY)


def test_a_replay_seals_anew_and_a_schedule_is_refused(
    sealed_client: TestClient, keys: dict[str, Headers]
) -> None:
    # Given a sealed job that was cancelled before it ran
    job_id = _enqueue(sealed_client, keys["writer"], fail=False)
    sealed_client.post(f"/v1/jobs/{job_id}/cancel", headers=keys["writer"])

    # When it is replayed, and a schedule is asked for the type
    replayed = sealed_client.post(f"/v1/jobs/{job_id}/replay", headers=keys["writer"])
    schedule = {"name": "sealed-nightly", "task": "diag.sealed", "cron": "0 3 * * *",
                "payload": {"account": "acme", "secret": SECRET}}  # fmt: skip
    refused = sealed_client.post("/v1/schedules", json=schedule, headers=keys["admin"])

    # Then the replay is sealed in the store and opens intact for admin; the schedule is a 422
    assert replayed.status_code == 202, replayed.text
    replay_id = replayed.json()["id"]
    assert SECRET not in replayed.text
    assert SECRET not in _stored(replay_id)
    admin = sealed_client.get(f"/v1/jobs/{replay_id}", headers=keys["admin"])
    assert admin.json()["payload"]["secret"] == SECRET
    assert_error(refused, 422, "invalid_schedule", "task")
    assert SECRET not in refused.text


def test_without_a_data_key_a_sensitive_job_is_refused_and_nothing_stored(
    settings: pytest.MonkeyPatch, sealed_client: TestClient, keys: dict[str, Headers]
) -> None:
    use_keys(settings)
    try:
        payload = {"account": "acme", "secret": SECRET}
        response = sealed_client.post(
            "/v1/jobs", json={"type": "diag.sealed", "payload": payload}, headers=keys["writer"]
        )
        listed = sealed_client.get("/v1/jobs?type=diag.sealed&limit=500", headers=keys["reader"])
    finally:
        use_keys(settings, KEY)

    error = assert_error(response, 503, "sealing_unavailable")
    assert "TASKYARD_SECRET_KEYS" in error["message"]
    assert SECRET not in response.text
    assert all(SECRET not in _stored(job["id"]) for job in listed.json()["items"])


def test_a_worker_without_the_key_fails_the_job_naming_the_setting(
    sealed_client: TestClient, keys: dict[str, Headers], tmp_path: Path
) -> None:
    # Given a sealed job, when a worker whose settings hold no data key takes it
    job_id = _enqueue(sealed_client, keys["writer"], fail=False)
    command = celery_worker_command(["default"], "keyless")
    unset = ["TASKYARD_SECRET_KEYS", "PROMETHEUS_MULTIPROC_DIR"]
    with running(command, tmp_path / "worker.log", unset=unset):
        job = wait_finished(job_id, timeout=60)

    # Then the job failed (not left queued), saying which setting to fix
    assert job.status == "failed"
    assert job.error_type == "workers.errors.SealingUnavailable"
    assert "TASKYARD_SECRET_KEYS" in (job.error_message or "")
