"""The worker's consumer, which sets aside every task message that is not one of Taskyard's.

A message can decode and still not be Taskyard's: no ``task`` header (Celery's protocol 1, or
not a Celery message at all), a task name no worker registers, a task id that is not a UUID,
a content type the worker refuses (pickle), or a body that is not Celery's JSON. Celery drops
most of these after an error line (``on_unknown_message``, ``on_unknown_task`` and
``on_invalid_task`` reject them unrequeued; ``on_decode_error`` acknowledges them), leaves a
refused content type or a bad body to fail in the pool, and stops consuming on a ``task``
header that is not a string. This consumer screens each message first, on any broker, and
sends the ones it refuses, and the ones Celery itself refuses, to
:func:`workers.poison.set_aside` before acknowledging them: kept, counted, logged, never run.

It is a correctness guard: ``worker_consumer`` names it, and a faster consumer subclasses it.
"""

from __future__ import annotations

import base64
import json
import logging
import uuid
from collections.abc import Callable, Container
from typing import Any

from celery.worker.consumer import Consumer as CeleryConsumer
from kombu.exceptions import KombuError
from kombu.message import Message
from vine import promise

from workers import poison

log = logging.getLogger(__name__)

#: The only content type Taskyard's workers accept (``accept_content``).
JSON_CONTENT_TYPE = "application/json"


def foreign_problem(
    content_type: str | None, headers: object, registered: Container[str]
) -> str | None:
    """Why a message with these properties is not one of Taskyard's tasks; ``None`` if it is."""
    if content_type != JSON_CONTENT_TYPE:
        return f"content type {str(content_type)[:60]!r} is refused (JSON only)"
    if not isinstance(headers, dict) or not isinstance(headers.get("task"), str):
        return "no task header (Celery's protocol 1, or not a Celery task message)"
    task: str = headers["task"]
    if task not in registered:
        return f"unknown task {task[:100]!r}"
    task_id = headers.get("id")
    try:
        uuid.UUID(task_id)
    except (TypeError, ValueError, AttributeError):
        return f"task id {str(task_id)[:60]!r} is not a Taskyard id (a UUID)"
    return None


def body_problem(message: Message) -> str | None:
    """Why a JSON task message's body is not Celery's ``[args, kwargs, embed]``; ``None`` if it
    is. Checked here because the pool decodes it only when the task starts, and a body that
    failed there was acknowledged and lost after an error line. Decoded as Celery's task
    handler decodes it, through ``message.decode()``: kombu keeps the result, so the handler
    reads it without decoding the body a second time."""
    if not message.body:
        return "the body is not JSON"
    try:
        decoded = message.decode()  # type: ignore[no-untyped-call]
    except KombuError:  # DecodeError, whatever the parser raised (bad UTF-8, deep nesting)
        return "the body is not JSON"
    if not (isinstance(decoded, list) and len(decoded) == 3 and isinstance(decoded[0], list)
            and isinstance(decoded[1], dict) and isinstance(decoded[2], dict | None)):  # fmt: skip
        return "the body is not Celery's [args, kwargs, embed]"
    return None


def message_bytes(message: Message) -> bytes:
    """What a kombu message carried, as JSON bytes to keep aside (any broker)."""
    body = message.body if message.body is not None else b""
    data = poison.as_bytes(body)
    try:
        body_field = {"body": data.decode("utf-8")}
    except UnicodeDecodeError:
        body_field = {"body_base64": base64.b64encode(data).decode("ascii")}
    return json.dumps({
        "content-type": message.content_type, "content-encoding": message.content_encoding,
        "headers": message.headers, "properties": message.properties, **body_field,
    }, default=repr).encode()  # fmt: skip


def queue_of(message: Message) -> str:
    """The queue a message was routed to (Taskyard's queues use their name as routing key)."""
    info = message.delivery_info
    return str(info.get("routing_key") or "") if isinstance(info, dict) else ""


class Consumer(CeleryConsumer):  # type: ignore[misc]
    """Celery's consumer, setting aside messages that are not Taskyard tasks instead of
    dropping them, running them or stopping on them."""

    def create_task_handler(self, promise: Any = promise) -> Callable[[Message], Any]:
        """Celery's task handler behind the screen."""
        handle = super().create_task_handler(promise)
        recoverable = tuple(self.connection_errors) + tuple(self.channel_errors)

        def on_task_received(message: Message) -> Any:
            problem = foreign_problem(
                message.content_type, message.headers, self.strategies
            ) or body_problem(message)
            if problem is not None:
                return self.set_aside(message, problem)
            try:
                return handle(message)
            except recoverable:
                raise
            except Exception as error:  # anything else it sends must not stop the worker
                log.exception("the worker could not take a message", extra={
                    "action": "worker.message_error", "queue": queue_of(message)})  # fmt: skip
                return self.set_aside(message, f"not taken: {type(error).__name__}: {error}")

        return on_task_received

    def set_aside(self, message: Message, reason: str) -> None:
        """Keep ``message`` aside (see :mod:`workers.poison`) and acknowledge it."""
        poison.set_aside(queue_of(message), message_bytes(message), reason)
        if not message.acknowledged:
            message.ack_log_error(log, self.connection_errors)  # type: ignore[no-untyped-call]

    def on_decode_error(self, message: Message, exc: Exception) -> None:
        """Celery acknowledges an undecodable message after a line; keep it too."""
        self.set_aside(message, f"cannot be decoded: {type(exc).__name__}: {exc}")

    def on_unknown_message(self, body: Any, message: Message) -> None:
        """Celery rejects a message with no task; keep it instead."""
        self.set_aside(message, "no task in the message")

    def on_unknown_task(self, body: Any, message: Message, exc: Exception) -> None:
        """Celery rejects (and marks failed) an unregistered task; keep it instead."""
        self.set_aside(message, f"unknown task {str(exc)[:100]}")

    def on_invalid_task(self, body: Any, message: Message, exc: Exception) -> None:
        """Celery rejects an invalid task message (a bad ETA, refused content); keep it instead."""
        self.set_aside(message, f"invalid task message: {type(exc).__name__}: {exc}")
