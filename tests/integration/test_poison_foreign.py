"""A message that decodes but is not one of Taskyard's jobs is set aside, never run and never
dropped, on Redis and on RabbitMQ, and the worker runs the next job."""

from __future__ import annotations

import json
import uuid

from tests.support.poison import kept, run_noop
from tests.support.worker import embedded_worker
from workers import poison
from workers.app import app
from workers.queues import declared_queues


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
