"""Prometheus metrics: job outcomes from a prefork worker's children, queue depth per public
priority, jobs per status and API requests, in a valid exposition format."""

from __future__ import annotations

import socket
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from api.app import create_app
from schedules import store
from schedules.entries import ScheduleSpec
from schedules.slots import Timing
from tasks.jobs.producer import JobRequest, enqueue
from tests.support.jobs import wait_finished
from tests.support.processes import BIN, celery_worker_command, running
from tests.support.prometheus import promtool
from tests.support.waiting import wait_for
from workers.store.keys import create_key


def _samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def api(runtime: dict[str, str]) -> Iterator[TestClient]:
    with TestClient(create_app()) as client:
        yield client


def test_api_metrics_show_queue_depth_jobs_and_requests(api: TestClient) -> None:
    route = frozenset({("method", "GET"), ("route", "/v1/jobs/{job_id}"), ("status", "200")})
    before = _samples(api.get("/metrics").text).get(("taskyard_api_requests_total", route), 0)
    # Given two waiting bulk jobs (no worker) and one API request for a job
    enqueue(JobRequest("diag.noop", queue="bulk", priority=9))
    job = enqueue(JobRequest("diag.noop", queue="bulk", priority=2))
    key = create_key(f"metrics-{uuid.uuid4().hex[:6]}", ["admin"]).secret
    api.get(f"/v1/jobs/{job.id}", headers={"Authorization": f"Bearer {key}"})

    # When Prometheus scrapes the API
    response = api.get("/metrics")
    samples = _samples(response.text)

    # Then depth is per public priority, records per status, requests per route template
    assert response.status_code == 200
    assert samples[("taskyard_queue_depth", frozenset({("queue", "bulk"), ("priority", "9")}))] == 1
    assert samples[("taskyard_queue_depth", frozenset({("queue", "bulk"), ("priority", "2")}))] == 1
    assert samples[("taskyard_jobs", frozenset({("status", "queued")}))] >= 2
    assert samples[("taskyard_api_requests_total", route)] == before + 1
    # and how long the oldest queued job of each queue has waited, per queue
    assert samples[("taskyard_queue_oldest_age_seconds", frozenset({("queue", "bulk")}))] > 0
    assert samples[("taskyard_queue_oldest_age_seconds", frozenset({("queue", "critical")}))] == 0


def test_worker_exports_what_its_pool_children_did(runtime: dict[str, str], tmp_path: Path) -> None:
    # Given a worker started by the plain `celery` command with nothing preset (its plugins
    # import prometheus_client before the app chooses the multiprocess directory)
    port = _free_port()
    env = {"TASKYARD_METRICS_PORT": str(port)}
    unset = ["PROMETHEUS_MULTIPROC_DIR"]
    command = celery_worker_command(["default"], "metrics", concurrency=2)
    with running(command, tmp_path / "worker.log", env=env, unset=unset):
        jobs = [enqueue(JobRequest("diag.noop")) for _ in range(4)]
        jobs.append(enqueue(JobRequest("diag.fail", {"message": "no"})))
        for job in jobs:
            wait_finished(job.id, timeout=60)

        def scrape() -> str | None:
            try:
                return httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=2).text
            except httpx.HTTPError:
                return None

        text = wait_for(scrape, timeout=20, what="the worker's exporter")

    samples = _samples(text)
    succeeded = frozenset({("type", "diag.noop"), ("queue", "default"), ("outcome", "succeeded")})
    failed = frozenset({("type", "diag.fail"), ("queue", "default"), ("outcome", "failed")})
    assert samples[("taskyard_job_attempts_total", succeeded)] == 4
    assert samples[("taskyard_job_attempts_total", failed)] == 1
    count = frozenset({("type", "diag.noop"), ("queue", "default")})
    assert samples[("taskyard_job_duration_seconds_count", count)] == 4
    waited = frozenset({("type", "diag.noop"), ("queue", "default")})
    assert samples[("taskyard_job_queue_wait_seconds_count", waited)] == 4
    # and the worker itself: online under its profile, its main process and two pool children
    # with their CPU and memory, and its store writes and connections
    assert samples[("taskyard_workers", frozenset({("profile", "metrics"), ("state", "online")}))]
    worker = frozenset({("process", "worker")})
    assert samples[("taskyard_processes", worker)] == 3
    assert samples[("taskyard_process_cpu_seconds_total", worker)] > 0
    assert samples[("taskyard_process_resident_memory_bytes", worker)] > 0
    autocommit = frozenset({("kind", "autocommit")})
    assert samples[("taskyard_store_commit_seconds_count", autocommit)] >= 10  # start, outcome
    assert samples[("taskyard_store_connections", frozenset({("state", "open")}))] >= 1


def test_the_dispatcher_exports_what_it_published(runtime: dict[str, str], tmp_path: Path) -> None:
    # Given `taskyard dispatcher` with nothing preset (the CLI imports every metric first)
    port = _free_port()
    command = [str(BIN / "taskyard"), "dispatcher"]
    env = {"TASKYARD_METRICS_PORT": str(port)}
    with running(command, tmp_path / "dispatcher.log", env=env, unset=["PROMETHEUS_MULTIPROC_DIR"]):
        # When it publishes a delayed job
        job = enqueue(JobRequest("diag.noop", queue="bulk", delay_s=1))

        def dispatched() -> float | None:
            try:
                text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=2).text
            except httpx.HTTPError:
                return None
            return _samples(text).get(("taskyard_dispatched_jobs_total", frozenset())) or None

        # Then its exporter counts it
        assert wait_for(dispatched, timeout=30, what="the dispatcher to count the job") >= 1
    assert job.id is not None


def test_beat_exports_its_schedule_fires(runtime: dict[str, str], tmp_path: Path) -> None:
    # Given beat with an entry every second, exporting on its own port
    name = f"metrics.every-second-{uuid.uuid4().hex[:6]}"
    store.create_schedule(ScheduleSpec(name, "diag.noop", Timing(interval_s=1)))
    port = _free_port()
    env = {"TASKYARD_METRICS_PORT": str(port), "TASKYARD_BEAT_STATIC_ENTRIES": "false"}
    command = [str(BIN / "celery"), "-A", "workers.app", "beat", "-S",
               "schedules.scheduler:TaskyardScheduler"]  # fmt: skip
    fired = frozenset({("schedule", name), ("outcome", "fired")})
    with running(command, tmp_path / "beat.log", env=env, unset=["PROMETHEUS_MULTIPROC_DIR"]):

        def scraped() -> dict[tuple[str, frozenset[tuple[str, str]]], float] | None:
            try:
                samples = _samples(httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=2).text)
            except httpx.HTTPError:
                return None
            return samples if samples.get(("taskyard_schedule_fires_total", fired)) else None

        # When it fires, then its exporter counts the fires, and beat's process
        samples = wait_for(scraped, timeout=30, what="beat to count a fire")
    assert samples[("taskyard_processes", frozenset({("process", "beat")}))] == 1


def test_a_taken_metrics_port_stops_the_worker_with_one_line(
    runtime: dict[str, str], tmp_path: Path
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        command = celery_worker_command(["default"], "clash", concurrency=1)
        env = {"TASKYARD_METRICS_PORT": str(port)}
        with running(command, tmp_path / "worker.log", env=env) as worker:
            wait_for(lambda: worker.poll() is not None, timeout=30, what="the worker to stop")
        output = (tmp_path / "worker.log").read_text()

    assert worker.returncode != 0
    assert f"cannot export metrics on TASKYARD_METRICS_PORT={port}" in output


def test_exposition_passes_promtool(api: TestClient) -> None:
    text = api.get("/metrics").text
    list(text_string_to_metric_families(text))  # parses
    done = promtool("check", "metrics", stdin=text)
    assert done.returncode == 0, done.stdout + done.stderr


def test_api_processes_share_one_metrics_directory(runtime: dict[str, str], tmp_path: Path) -> None:
    # Given `taskyard api` with two processes behind one port
    port = _free_port()
    command = [str(BIN / "taskyard"), "api", "--port", str(port), "--workers", "2"]
    with running(command, tmp_path / "api.log", unset=["PROMETHEUS_MULTIPROC_DIR"]):
        base = f"http://127.0.0.1:{port}"
        wait_for(lambda: _answers(f"{base}/healthz"), timeout=60, what="the API to answer")

        # When 40 requests go over separate connections (the kernel spreads them)
        for _ in range(40):
            assert httpx.get(f"{base}/healthz").status_code == 200
        route = frozenset({("method", "GET"), ("route", "/healthz"), ("status", "200")})

        # Then any process's /metrics counts them all
        counted = [
            _samples(httpx.get(f"{base}/metrics").text)[("taskyard_api_requests_total", route)]
            for _ in range(6)
        ]
    assert min(counted) >= 40


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False
