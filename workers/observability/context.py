"""The correlation id and job id of the work in hand, carried in context variables."""

from __future__ import annotations

import re
from contextvars import ContextVar

correlation_id: ContextVar[str | None] = ContextVar("correlation_id", default=None)
job_id: ContextVar[str | None] = ContextVar("job_id", default=None)

#: Message header carrying the API request's correlation id (``correlation_id`` itself is an
#: AMQP property Celery fills with the task id).
CORRELATION_HEADER = "taskyard_correlation_id"
#: What a correlation id may look like, from a caller or a message header: it is stored,
#: logged and sent on, so it is short, printable and carries no log syntax.
_ACCEPTABLE_CORRELATION_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")


def acceptable_correlation_id(value: object) -> str | None:
    """``value`` when it is an acceptable correlation id, else ``None`` (anything can arrive
    in a message header: a megabyte of text, a number, a nested object)."""
    if isinstance(value, str) and _ACCEPTABLE_CORRELATION_ID.fullmatch(value):
        return value
    return None
