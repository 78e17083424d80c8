"""The platform's exceptions: one root, one line of intent each."""

from __future__ import annotations

import re
from dataclasses import dataclass
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


class Invalid(TaskyardError):
    """A request that does not validate (the kind of every ``Invalid...`` error)."""


class Reserved(TaskyardError):
    """A request naming something only Taskyard itself may use."""


class Forbidden(TaskyardError):
    """A request the caller has no right to make."""


class NotFound(TaskyardError):
    """A request naming a record that does not exist."""


class Conflict(TaskyardError):
    """A request that a taken name, or a record's state, does not allow."""


class Unavailable(TaskyardError):
    """A request that cannot be served now: the store, the broker or a key is out of reach."""


class UpstreamFailed(TaskyardError):
    """A request that a receiver outside Taskyard did not take."""


@dataclass(frozen=True)
class Answer:
    """How the interfaces answer one kind of error."""

    http_status: int
    exit_code: int  # the CLI's: 2 (EXIT_USAGE) when the command line is at fault, else 1


#: The one table of error answers, by kind: the API answers with the HTTP status
#: (``api/errors.py``), the CLI exits with the code (``cli/failures.py``). Any other error is a
#: 500 and exits 1.
ANSWERS: dict[type[TaskyardError], Answer] = {
    Invalid: Answer(422, 2),
    Reserved: Answer(403, 2),
    Forbidden: Answer(403, 1),
    NotFound: Answer(404, 1),
    Conflict: Answer(409, 1),
    Unavailable: Answer(503, 1),
    UpstreamFailed: Answer(502, 1),
}
UNEXPECTED = Answer(500, 1)


def answer_for(error: TaskyardError) -> Answer:
    """How the API and the CLI answer ``error``: the row of the first of its kinds in
    :data:`ANSWERS`."""
    for kind in type(error).__mro__:
        if kind in ANSWERS:
            return ANSWERS[kind]
    return UNEXPECTED


class SettingsError(TaskyardError):
    """A setting is missing or invalid; the process must not start."""

    code = "invalid_settings"


class UnknownJobType(Invalid):
    """The job type is not in the registry."""

    code = "unknown_job_type"


class InternalJobType(Reserved):
    """The job type exists but only Taskyard enqueues it (the message says what to use)."""

    code = "internal_job_type"


class InvalidJob(Invalid):
    """The job request (payload, queue or priority) does not validate."""

    code = "invalid_job"


class JobNotFound(NotFound):
    """No job record has that id."""

    code = "job_not_found"


class StoreUnavailable(Unavailable):
    """The job store cannot be reached; try again later."""

    code = "store_unavailable"


class BrokerUnavailable(Unavailable):
    """The broker cannot be reached; the job was not enqueued."""

    code = "broker_unavailable"


class ApiKeyError(TaskyardError):
    """An API key cannot be created, found or revoked."""

    code = "api_key_error"


class MissingScope(Forbidden):
    """The API key lacks the scope an action needs; ``details.scope`` names it."""

    code = "forbidden"

    def __init__(self, scope: str, alternative: str | None = None) -> None:
        needed = f"{scope} (or {alternative})" if alternative else scope
        super().__init__(f"this API key lacks the scope {needed}", {"scope": scope})
        self.scope = scope


class IdempotencyConflict(Conflict):
    """The idempotency key was used before with a different request."""

    code = "idempotency_conflict"


class JobStateConflict(Conflict):
    """The job is not in a state that allows the operation (e.g. cancelling a finished job)."""

    code = "job_state_conflict"


class SealingUnavailable(Unavailable):
    """Data sealed at rest cannot be sealed or opened: no key is set, or none opens it."""

    code = "sealing_unavailable"
