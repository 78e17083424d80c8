"""A job message as Taskyard sends it: what it carries and the headers it adds."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from workers.observability.context import CORRELATION_HEADER

#: Header carrying the publish time (epoch seconds), which orders messages for the lost-message
#: sweep (see ``workers.lost_messages``).
PUBLISHED_AT_HEADER = "taskyard_published_at"


@dataclass(frozen=True)
class Message:
    """One job message: the task name is the job type's name, the payload its only argument."""

    job_id: str
    task_name: str
    payload: dict[str, Any]
    queue: str
    priority: int
    correlation_id: str | None = None
    #: What Flower and Celery's log lines show for the arguments (``argsrepr``) when it must
    #: not be Celery's own repr: a payload with sealed fields (:mod:`workers.sensitive`).
    argsrepr: str | None = None
    #: The W3C trace context (``traceparent``...) when tracing is on (see
    #: ``workers.observability.tracing``); carried as message headers.
    trace: dict[str, str] | None = None


def taskyard_headers(message: Message) -> dict[str, Any]:
    """The headers Taskyard adds to every job message."""
    headers = {CORRELATION_HEADER: message.correlation_id, PUBLISHED_AT_HEADER: time.time()}
    if message.trace:
        headers.update(message.trace)
    return headers
