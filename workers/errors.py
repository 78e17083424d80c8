"""The platform's exceptions: one root, one line of intent each."""

from __future__ import annotations

import re
from typing import Any

#: The most of a caller's value an error quotes back: any run of non-space characters longer
#: than this (a 10,000-character name, a path of payload keys) is cut short with an ellipsis.
#: Every value the API accepts (names, types, keys) fits. The one bound for the API's error
#: envelope, the CLI's error line and :class:`TaskyardError` messages.
ECHO_LIMIT = 200
#: The most characters of one error message or detail text, and items of a details list.
MESSAGE_LIMIT = 10 * ECHO_LIMIT
DETAILS_LIMIT = 50
_LONG_RUN = re.compile(rf"\S{{{ECHO_LIMIT + 1},}}")


def bounded(text: str) -> str:
    """``text`` with every run over :data:`ECHO_LIMIT` cut short, at most :data:`MESSAGE_LIMIT`
    characters in all."""
    text = _LONG_RUN.sub(lambda run: f"{run[0][:ECHO_LIMIT]}…", text)
    return text if len(text) <= MESSAGE_LIMIT else f"{text[:MESSAGE_LIMIT]}…"


def bounded_details(details: Any) -> Any:
    """An error's ``details`` with every text :func:`bounded` (dictionary keys too) and every
    list cut to :data:`DETAILS_LIMIT` items."""
    if isinstance(details, str):
        return bounded(details)
    if isinstance(details, dict):
        return {bounded(str(k)): bounded_details(v) for k, v in details.items()}
    if isinstance(details, list | tuple):
        return [bounded_details(item) for item in details[:DETAILS_LIMIT]]
    return details


class TaskyardError(Exception):
    """Root of every error Taskyard raises on purpose."""

    code = "taskyard_error"

    def __init__(self, message: str, details: Any = None) -> None:
        message = bounded(message)
        super().__init__(message)
        self.message = message
        self.details = details


class SettingsError(TaskyardError):
    """A setting is missing or invalid; the process must not start."""

    code = "invalid_settings"


class UnknownJobType(TaskyardError):
    """The job type is not in the registry."""

    code = "unknown_job_type"


class InternalJobType(TaskyardError):
    """The job type exists but only Taskyard enqueues it (the message says what to use)."""

    code = "internal_job_type"


class InvalidJob(TaskyardError):
    """The job request (payload, queue or priority) does not validate."""

    code = "invalid_job"


class JobNotFound(TaskyardError):
    """No job record has that id."""

    code = "job_not_found"


class StoreUnavailable(TaskyardError):
    """The job store cannot be reached; try again later."""

    code = "store_unavailable"


class BrokerUnavailable(TaskyardError):
    """The broker cannot be reached; the job was not enqueued."""

    code = "broker_unavailable"


class ApiKeyError(TaskyardError):
    """An API key cannot be created, found or revoked."""

    code = "api_key_error"


class IdempotencyConflict(TaskyardError):
    """The idempotency key was used before with a different request."""

    code = "idempotency_conflict"


class JobStateConflict(TaskyardError):
    """The job is not in a state that allows the operation (e.g. cancelling a finished job)."""

    code = "job_state_conflict"


class SealingUnavailable(TaskyardError):
    """Data sealed at rest cannot be sealed or opened: no key is set, or none opens it."""

    code = "sealing_unavailable"
