"""A message that decodes but is not one of Taskyard's jobs is set aside, never run and never
dropped, on Redis and on RabbitMQ, and the worker runs the next job; one of Taskyard's with
absurd Taskyard headers runs, and what it carried stays out of the log lines."""

from __future__ import annotations

import json
import logging
import uuid

from tasks.jobs.producer import JobRequest, prepare
from tests.support.jobs import wait_finished
from tests.support.poison import kept, run_noop
from tests.support.worker import embedded_worker
from workers import poison
from workers.app import app
from workers.observability.context import CORRELATION_HEADER
from workers.observability.logging import JsonFormatter
from workers.queues import declared_queues
from workers.store import jobs
from workers.store.models import JobStatus


def _foreign_messages(job_id: str) -> list[tuple[str, dict[str, object]]]:
    """Well-formed messages that are not Taskyard jobs: (reason fragment, publish options)."""
    task = {"task": "diag.noop", "id": job_id, "lang": "py", "argsrepr": "()"}
    body = [[{}], {}, {"callbacks": None, "errbacks": None, "chain": None, "chord": None}]
    return [
        ("no task header", {"body": body, "headers": {}}),
        ("no task header", {"body": {"task": "diag.noop", "id": job_id, "args": [{}]},
                            "headers": {}}),  # protocol 1
        ("no task header", {"body": body, "headers": {"task": ["diag.noop"], "id": job_id}}),
        ("unknown task", {"body": body, "headers": {**task, "task": "os.system"}}),
        ("not a Taskyard id", {"body": body, "headers": {**task, "id": "not-a-uuid"}}),
        ("refused", {"body": body, "headers": task, "serializer": "pickle"}),
        ("refused", {"body": b"this is not json", "headers": {},
                     "content_type": "application/octet-stream", "content_encoding": "binary"}),
        ("body is not JSON", {"body": b"[[{}], {", "headers": task,
                              "content_type": "application/json", "content_encoding": "utf-8"}),
        ("not Celery's", {"body": b'{"args": []}', "headers": task,
                          "content_type": "application/json", "content_encoding": "utf-8"}),
    ]  # fmt: skip


def test_foreign_messages_are_set_aside_never_run_and_the_next_job_runs(
    core_runtime: str,
) -> None:
    # Given messages that decode but are not Taskyard's, published through kombu
    poison.purge_poison()
    job_id = str(uuid.uuid4())
    foreign = _foreign_messages(job_id)
    queue = next(q for q in declared_queues() if q.name == "default")
    with app.connection_for_write() as connection, connection.Producer() as producer:
        for _, options in foreign:
            options = dict(options)
            producer.publish(options.pop("body"), exchange="default", routing_key="default",
                             serializer=options.pop("serializer", "json"), declare=[queue],
                             **options)  # fmt: skip

    # When a worker consumes the queue and a job is enqueued after them
    with embedded_worker(["default"]):
        run_noop("default")

    # Then every foreign message was kept, with the reason it was refused
    entries = kept("default")
    reasons = sorted(e.reason for e in entries)
    assert len(entries) == len(foreign), reasons
    for fragment, _ in foreign:
        assert any(fragment in reason for reason in reasons), (fragment, reasons)
    # And what it carried is kept as JSON
    assert all(json.loads(e.raw)["headers"] is not None for e in entries)
    poison.purge_poison()


#: Correlation headers a message crafted straight into the broker may carry.
CRAFTED_CORRELATION_IDS = [
    "x" * 20_000,  # RabbitMQ's frame size bounds the headers; Redis does not
    {"nested": ["a"] * 500},
    12345,
    "line\nbreak\x1b[31m",
    "a\x00b",
]


class _Lines(logging.Handler):
    """Keeps each record as the JSON log line it makes, formatted in the worker's thread (where
    the job's log context is set)."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.setFormatter(JsonFormatter())
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


def test_a_crafted_correlation_header_never_reaches_a_log_line_and_the_job_runs(
    core_runtime: str,
) -> None:
    # Given recorded jobs whose messages carry absurd correlation headers: a long text, an
    # object, a number, control characters, a NUL
    new = [prepare(JobRequest("diag.noop", queue="default")).new for _ in CRAFTED_CORRELATION_IDS]
    jobs.insert_jobs(new)
    queue = next(q for q in declared_queues() if q.name == "default")
    body = [[{}], {}, {"callbacks": None, "errbacks": None, "chain": None, "chord": None}]
    with app.connection_for_write() as connection, connection.Producer() as producer:
        for job, crafted in zip(new, CRAFTED_CORRELATION_IDS, strict=True):
            headers = {"task": "diag.noop", "id": str(job.id), "lang": "py",
                       CORRELATION_HEADER: crafted}  # fmt: skip
            producer.publish(body, exchange="default", routing_key="default",
                             serializer="json", declare=[queue], headers=headers)  # fmt: skip
    execution = logging.getLogger("workers.execution")
    lines, level = _Lines(), execution.level
    execution.addHandler(lines)
    execution.setLevel(logging.INFO)

    # When a worker runs them
    try:
        with embedded_worker(["default"]):
            records = [wait_finished(job.id) for job in new]
    finally:
        execution.removeHandler(lines)
        execution.setLevel(level)

    # Then each succeeded, and its log lines carry no correlation id and stay short
    assert [r.status for r in records] == [JobStatus.SUCCEEDED] * len(new)
    ids = {str(job.id) for job in new}
    mine = [json.loads(line) for line in lines.lines if json.loads(line).get("job_id") in ids]
    assert {entry["job_id"] for entry in mine} == ids
    assert all("correlation_id" not in entry for entry in mine), mine
    assert max(len(line) for line in lines.lines) < 1000
