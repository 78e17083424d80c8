"""The platform's exceptions: one root, one line of intent each."""

from __future__ import annotations

from typing import Any


class TaskyardError(Exception):
    """Root of every error Taskyard raises on purpose."""

    code = "taskyard_error"

    def __init__(self, message: str, details: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details


class SettingsError(TaskyardError):
    """A setting is missing or invalid; the process must not start."""

    code = "invalid_settings"


class UnknownJobType(TaskyardError):
    """The job type is not in the registry."""

    code = "unknown_job_type"


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
