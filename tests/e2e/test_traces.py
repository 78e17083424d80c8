"""One job's trace across real processes: an API process and a worker process export spans
over OTLP/HTTP to a receiver on loopback, and the job's spans from both share one trace, each
linked to its parent, from the API request to the worker's store writes. On both publishing
paths: the speedups' pipelined push and Celery's ``send_task``."""

from __future__ import annotations

import json
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import httpx
import pytest

from tasks.jobs.producer import JobRequest, enqueue
from tests.support.otlp import OtlpReceiver, ReceivedSpan, otlp_receiver
from tests.support.processes import (
    BIN,
    answers,
    celery_worker_command,
    running,
    wait_worker_ready,
)
from tests.support.sinks import free_port
from tests.support.waiting import wait_for
from workers.store.keys import create_key

pytestmark = pytest.mark.e2e
SERVER_KIND = 2  # OTLP's SPAN_KIND_SERVER
JOB_RUN_SPAN = "run/diag.noop"


@pytest.fixture(scope="module")
def database_url(preferred_database_url: str) -> str:
    return preferred_database_url


@pytest.fixture(scope="module")
def receiver(runtime: dict[str, str]) -> Iterator[OtlpReceiver]:
    with otlp_receiver() as running_receiver:
        yield running_receiver


def _chain(spans: dict[str, ReceivedSpan], span: ReceivedSpan) -> list[ReceivedSpan]:
    """``span`` and its ancestors, nearest first, as far as the received spans go."""
    chain = [span]
    while chain[-1].parent_span_id and chain[-1].parent_span_id in spans:
        chain.append(spans[chain[-1].parent_span_id])
    return chain


def _traced(receiver: OtlpReceiver) -> dict[str, str]:
    """The environment of a process exporting its spans to ``receiver`` without delay."""
    return {
        "TASKYARD_TRACING": "on", "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint,
        "OTEL_BSP_SCHEDULE_DELAY": "100", "TASKYARD_LOG_FORMAT": "json",
        "TASKYARD_LOG_LEVEL": "INFO",
    }  # fmt: skip


def _run_span(receiver: OtlpReceiver, job_id: str) -> ReceivedSpan | None:
    """The worker's span for ``job_id``, once received."""
    for span in receiver.spans():
        if span.name == JOB_RUN_SPAN and span.attributes.get("messaging.message.id") == job_id:
            return span
    return None


@pytest.mark.parametrize("speedups", ["on", "off"])
def test_one_job_is_one_trace_from_the_api_request_to_the_worker(
    tmp_path: Path, receiver: OtlpReceiver, speedups: str
) -> None:
    # Given an API process and a worker process exporting spans to the receiver
    env = {**_traced(receiver), "TASKYARD_SPEEDUPS": speedups}
    headers = {"Authorization": f"Bearer {create_key(f'traces-{speedups}', ['admin']).secret}"}
    port = free_port()
    api = [str(BIN / "taskyard"), "api", "--port", str(port), "--workers", "1"]
    worker_log = tmp_path / "worker.log"
    worker = celery_worker_command(["default"], f"traces-{speedups}")
    with running(api, tmp_path / "api.log", env), running(worker, worker_log, env) as process:
        wait_worker_ready(process, worker_log)
        base = f"http://127.0.0.1:{port}"
        wait_for(lambda: answers(f"{base}/healthz"), timeout=60, what="the API to answer")
        # When one job is enqueued through the API and runs
        response = httpx.post(f"{base}/v1/jobs", json={"type": "diag.noop"}, headers=headers)
        assert response.status_code == 202, response.text
        job_id = response.json()["id"]

        def succeeded() -> bool:
            job = httpx.get(f"{base}/v1/jobs/{job_id}", headers=headers).json()
            return bool(job["status"] == "succeeded")

        wait_for(succeeded, timeout=30, what="the job to succeed")

        run = wait_for(partial(_run_span, receiver, job_id), timeout=30, what="the job's span")

        # Then its worker span descends, parent by parent, from the API's request span
        def request_reached() -> list[ReceivedSpan] | None:
            spans = {s.span_id: s for s in receiver.spans() if s.trace_id == run.trace_id}
            chain = _chain(spans, run)
            return chain if chain[-1].kind == SERVER_KIND else None

        chain = wait_for(request_reached, timeout=30, what="the trace to reach the request")
    services = [span.service for span in chain]
    assert services[0] == "taskyard-worker", chain
    assert services[-1] == "taskyard-api", chain
    assert chain[-1].name == "POST /v1/jobs", chain
    assert "taskyard.publish" in [span.name for span in chain], chain
    # And the worker's store writes are spans of the job's run
    in_run = [s for s in receiver.spans() if s.parent_span_id == run.span_id]
    assert any("db.statement" in s.attributes or "db.query.text" in s.attributes
               for s in in_run), in_run  # fmt: skip
    # And the worker's log line for the outcome carries the trace id
    lines = [json.loads(line) for line in worker_log.read_text().splitlines()
             if line.startswith("{")]  # fmt: skip
    outcome = [e for e in lines if e.get("action") == "job.succeeded" and e.get("job_id") == job_id]
    assert outcome, lines
    assert outcome[0]["trace_id"] == run.trace_id, outcome


def test_a_delayed_job_is_one_trace_from_the_dispatcher_to_the_worker(
    tmp_path: Path, receiver: OtlpReceiver
) -> None:
    # Given a dispatcher and a worker exporting spans, and a job enqueued with a delay
    env = _traced(receiver)
    dispatcher = [str(BIN / "taskyard"), "dispatcher"]
    worker_log = tmp_path / "worker.log"
    worker = celery_worker_command(["default"], "traces-dispatched")
    with running(dispatcher, tmp_path / "dispatcher.log", env), \
            running(worker, worker_log, env) as process:  # fmt: skip
        wait_worker_ready(process, worker_log)
        job_id = str(enqueue(JobRequest("diag.noop", delay_s=1)).id)
        # When the dispatcher publishes it at its time and the worker runs it
        run = wait_for(partial(_run_span, receiver, job_id), timeout=30, what="the job's span")

        # Then the worker's span descends from the dispatcher's batch span
        def dispatch_reached() -> list[ReceivedSpan] | None:
            spans = {s.span_id: s for s in receiver.spans() if s.trace_id == run.trace_id}
            chain = _chain(spans, run)
            return chain if chain[-1].name == "taskyard.dispatch" else None

        chain = wait_for(dispatch_reached, timeout=30, what="the trace to reach the dispatcher")
    assert [span.service for span in chain] == ["taskyard-worker"] + ["taskyard-dispatcher"] * 2
    assert [span.name for span in chain[1:]] == ["taskyard.publish", "taskyard.dispatch"]
