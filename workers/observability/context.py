"""The correlation id and job id of the work in hand, carried in context variables."""

from __future__ import annotations

from contextvars import ContextVar

correlation_id: ContextVar[str | None] = ContextVar("correlation_id", default=None)
job_id: ContextVar[str | None] = ContextVar("job_id", default=None)

#: Message header carrying the API request's correlation id (``correlation_id`` itself is an
#: AMQP property Celery fills with the task id).
CORRELATION_HEADER = "taskyard_correlation_id"
