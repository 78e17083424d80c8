"""The pure parts of the poison guard: what is a kombu envelope, what is a Taskyard task, and
how a kept entry reads back; plus the kombu internals the guarded channel mirrors."""

from __future__ import annotations

import inspect
import json
import uuid
from datetime import UTC, datetime

import pytest
from kombu import Connection
from kombu.message import Message as TaskMessage
from kombu.transport import redis as kombu_redis
from kombu.transport.virtual import Message
from kombu.utils.imports import symbol_by_name

from workers import screening, transport
from workers.app import app
from workers.poison import OTHER_QUEUE, PoisonEntry, metric_queue
from workers.screening import body_problem, foreign_problem
from workers.transport import decoded_entry, envelope_problem, fanout_exchange

ENVELOPE = {
    "body": "W1t7fV0sIHt9LCB7fV0=",
    "content-encoding": "utf-8",
    "content-type": "application/json",
    "headers": {"task": "diag.noop", "id": str(uuid.uuid4())},
    "properties": {
        "delivery_tag": "c5d0b5a5-1d64-4b1b-9e63-1b2b3c4d5e6f",
        "delivery_info": {"exchange": "default", "routing_key": "default"},
        "body_encoding": "base64",
        "priority": 0,
    },
}


def _with(**changes: object) -> dict[str, object]:
    """The envelope with fields (``a__b`` for nested ones) replaced, or removed when None."""
    entry = json.loads(json.dumps(ENVELOPE))
    for path, value in changes.items():
        *parents, last = path.split("__")
        target = entry
        for name in parents:
            target = target[name]
        if value is None:
            target.pop(last)
        else:
            target[last] = value
    return entry


def test_kombus_own_envelope_passes_and_builds_a_kombu_message() -> None:
    # Given the envelope kombu's Redis channel stores, then it passes, and kombu can build it
    assert envelope_problem(ENVELOPE) is None
    message = Message(ENVELOPE, channel=kombu_redis.Channel.__new__(kombu_redis.Channel))
    assert message.delivery_tag == ENVELOPE["properties"]["delivery_tag"]  # type: ignore[index]


@pytest.mark.parametrize(
    ("entry", "reason"),
    [
        ([1, 2], "not a kombu message envelope"),
        ("text", "not a kombu message envelope"),
        (_with(properties=None), "no properties"),
        (_with(properties="x"), "no properties"),
        (_with(properties__delivery_tag=None), "no delivery_tag"),
        (_with(properties__delivery_tag=7), "no delivery_tag"),
        (_with(properties__delivery_info=None), "no delivery_info"),
        (_with(properties__delivery_info={"exchange": "x"}), "no delivery_info"),
        (_with(headers="task"), "headers are not an object"),
        (_with(body=["x"]), "body is not text"),
        (_with(properties__body_encoding="rot13"), "unknown body encoding"),
        (_with(body="abc"), "not valid base64"),
    ],
)
def test_what_is_not_an_envelope_says_why(entry: object, reason: str) -> None:
    problem = envelope_problem(entry)
    assert problem is not None
    assert reason in problem


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"this is not json", "not JSON"),
        (b"\xff\xfe", "not JSON"),
        (b"{}", "no properties"),
        (b"[" * 100_000, "not JSON"),  # deeper than the interpreter's recursion limit
    ],
)
def test_a_raw_entry_that_does_not_decode_says_why(raw: bytes, reason: str) -> None:
    entry, problem = decoded_entry(raw)
    assert entry is None
    assert problem is not None
    assert reason in problem


def test_a_raw_envelope_decodes_as_kombu_decodes_it() -> None:
    assert decoded_entry(json.dumps(ENVELOPE).encode()) == (ENVELOPE, None)


REGISTERED = {"diag.noop"}
JOB_ID = str(uuid.uuid4())


@pytest.mark.parametrize(
    ("content_type", "headers", "reason"),
    [
        ("application/x-python-serialize", {"task": "diag.noop", "id": JOB_ID}, "refused"),
        (None, {"task": "diag.noop", "id": JOB_ID}, "refused"),
        ("application/json", None, "no task header"),
        ("application/json", {"id": JOB_ID}, "no task header"),
        ("application/json", {"task": ["diag.noop"], "id": JOB_ID}, "no task header"),
        ("application/json", {"task": "os.system", "id": JOB_ID}, "unknown task 'os.system'"),
        ("application/json", {"task": "diag.noop", "id": "abc"}, "not a Taskyard id"),
        ("application/json", {"task": "diag.noop"}, "not a Taskyard id"),
        ("application/json", {"task": "diag.noop", "id": 12}, "not a Taskyard id"),
    ],
)
def test_a_message_that_is_not_a_taskyard_task_says_why(
    content_type: str | None, headers: object, reason: str
) -> None:
    problem = foreign_problem(content_type, headers, REGISTERED)
    assert problem is not None
    assert reason in problem


def test_a_taskyard_task_passes_the_screen() -> None:
    headers = {"task": "diag.noop", "id": JOB_ID}
    assert foreign_problem("application/json", headers, REGISTERED) is None


def test_a_kept_entry_reads_back_and_an_unreadable_one_is_shown() -> None:
    entry = PoisonEntry(datetime(2026, 1, 2, tzinfo=UTC), "default", "why", 20, b"\xff" * 10)
    assert PoisonEntry.from_json(entry.to_json()) == entry
    assert entry.truncated
    unreadable = PoisonEntry.from_json(b"garbage")
    assert unreadable.reason == "unreadable poison entry"
    assert unreadable.raw == b"garbage"


def test_metric_labels_stay_bounded() -> None:
    assert metric_queue("high") == "high"
    assert metric_queue("celeryev") == "celeryev"
    assert metric_queue("x" * 50) == OTHER_QUEUE


def test_kombus_brpop_read_is_still_the_one_the_guarded_channel_mirrors() -> None:
    # The guarded channel replaces kombu's _brpop_read (kombu has no hook between the pop and
    # the decode). If kombu changes that method, re-read it and update workers/transport.py.
    source = inspect.getsource(kombu_redis.Channel._brpop_read)
    for step in ("parse_response(self.client.connection", "'BRPOP'",
                 "rsplit(self.sep, 1)[0]", "self._queue_cycle.rotate(dest)",
                 "self.connection._deliver(loads(bytes_to_str(item)), dest)",
                 "self._in_poll = None", "self._flush_brpop_reauth()"):  # fmt: skip
        assert step in source, step


def test_kombus_restore_by_tag_is_still_the_one_the_guarded_qos_wraps() -> None:
    # The guarded QoS catches what kombu's restore raises on an unreadable unacked entry and
    # removes that entry from the unacked hash and index kombu's own restore reads.
    source = inspect.getsource(kombu_redis.QoS.restore_by_tag)
    for step in ("pipe.hget(self.unacked_key, tag)", "self._remove_from_indices(tag, pipe)",
                 "M, EX, RK = loads(bytes_to_str(p))"):  # fmt: skip
        assert step in source, step


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"[[{}], {", "not JSON"),
        (b"\xff", "not JSON"),
        (None, "not JSON"),
        (b"", "not JSON"),
        (b'{"args": []}', "not Celery's"),
        (b"[[], {}]", "not Celery's"),
        (b"[{}, {}, {}]", "not Celery's"),
        (b"[" * 100_000 + b"]" * 100_000, "not JSON"),  # deeper than the recursion limit
        # kombu's decoder reads its own types: these kwargs are a datetime, as the pool sees them
        (
            b'[[], {"__type__": "datetime", "__value__": "2026-01-01T00:00:00"}, null]',
            "not Celery's",
        ),
    ],
)
def test_a_body_that_is_not_celerys_says_why(body: bytes | None, reason: str) -> None:
    problem = body_problem(task_message(body))
    assert problem is not None
    assert reason in problem


def task_message(body: bytes | str | None) -> TaskMessage:
    """A JSON task message carrying ``body``, as the consumer receives one."""
    return TaskMessage(body=body, content_type="application/json", content_encoding="utf-8")


def test_celerys_own_body_passes_and_is_decoded_once() -> None:
    message = task_message(b'[[{"ms": 1}], {}, {"callbacks": null}]')
    assert body_problem(message) is None
    assert body_problem(task_message("[[], {}, null]")) is None
    # Celery's task handler reads the payload the screen decoded (kombu keeps it)
    message.body = b"not decoded again"
    assert message.payload == [[{"ms": 1}], {}, {"callbacks": None}]


@pytest.mark.parametrize("url", ["redis://127.0.0.1:6399/3", "redis+socket:///tmp/r.sock"])
def test_the_guard_is_in_the_transport_and_consumer_the_app_uses(url: str) -> None:
    # Whatever channel and consumer are installed (a faster one included), they keep the guard
    assert issubclass(Connection(url).get_transport_cls().Channel, transport.Channel)
    assert issubclass(symbol_by_name(app.conf.worker_consumer), screening.Consumer)


def test_a_fanout_channel_names_its_exchange_as_kombu_reads_it() -> None:
    assert fanout_exchange(b"/0.celeryev/task.multi") == "celeryev"
    assert fanout_exchange("/12.celery.pidbox/") == "celery.pidbox"
    assert fanout_exchange("celeryev") == "celeryev"
