"""Turning the platform's exceptions into one actionable line and an exit code."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from cli.output import CliError, UsageProblem
from tasks.notifications.errors import (
    ChannelConflict,
    ChannelNotFound,
    InvalidChannel,
    SecretsUnreadable,
)
from workers.errors import (
    ApiKeyError,
    BrokerUnavailable,
    IdempotencyConflict,
    InvalidJob,
    JobNotFound,
    StoreUnavailable,
    TaskyardError,
    UnknownJobType,
)

STORE_DOWN = "the job store is unreachable (TASKYARD_DATABASE_URL); start PostgreSQL or fix the URL"
STORE_NOT_MIGRATED = (
    "the job store has no tables yet (TASKYARD_DATABASE_URL); run `taskyard db upgrade` first"
)
BROKER_DOWN = (
    "the broker is unreachable (TASKYARD_BROKER_URL), nothing was enqueued; "
    "start Redis or fix the URL"
)
_MISSING_TABLE_MARKERS = ("no such table", "undefinedtable")
_CONFIG_FIELD = re.compile(r"\bconfig\.([a-z_]+)(?:\.\d+)?")
_CHANNEL_OPTIONS = {"sender": "--from", "recipients": "--to"}


def field_errors(details: Any) -> str:
    """``field: message`` pairs from an :class:`InvalidJob`'s details, joined on one line."""
    if not isinstance(details, list):
        return ""
    pairs = [
        f"{item.get('field')}: {item.get('message')}" for item in details if isinstance(item, dict)
    ]
    return "; ".join(pairs)


def _missing_table(error: BaseException | None) -> bool:
    text = f"{type(error).__name__} {error}".lower() if error is not None else ""
    postgres_missing = 'relation "' in text and "does not exist" in text
    return postgres_missing or any(marker in text for marker in _MISSING_TABLE_MARKERS)


def from_store_error(error: SQLAlchemyError) -> CliError:
    """A store failure that escaped the store layer as a raw SQLAlchemy error."""
    if _missing_table(getattr(error, "orig", None) or error):
        return CliError(STORE_NOT_MIGRATED)
    if isinstance(error, DBAPIError):
        return CliError(STORE_DOWN)
    return CliError(f"the job store refused the operation ({type(error).__name__}: {error})")


def from_taskyard_error(error: TaskyardError) -> CliError:
    """The one line (and exit code) for a platform error."""
    if isinstance(error, InvalidJob):
        errors = field_errors(error.details)
        return UsageProblem(f"{error.message}: {errors}" if errors else error.message)
    if isinstance(error, UnknownJobType):
        return UsageProblem(error.message)
    if isinstance(error, StoreUnavailable):
        return CliError(STORE_NOT_MIGRATED if _missing_table(error.__cause__) else STORE_DOWN)
    if isinstance(error, BrokerUnavailable):
        return CliError(BROKER_DOWN)
    if isinstance(error, JobNotFound):
        return CliError(f"{error.message}; check the id (`taskyard jobs list` shows recent jobs)")
    if isinstance(error, IdempotencyConflict):
        return CliError(f"{error.message}; use a new --idempotency-key for a different request")
    if isinstance(error, ApiKeyError):
        return CliError(f"{error.message}; `taskyard keys list` shows the existing keys")
    return _from_channel_error(error)


def _option_of(field: re.Match[str]) -> str:
    name = field[1]
    return _CHANNEL_OPTIONS.get(name, f"--{name}")


def _from_channel_error(error: TaskyardError) -> CliError:
    if isinstance(error, InvalidChannel):
        # The settings' fields as the options of `taskyard channels add` that set them.
        return UsageProblem(_CONFIG_FIELD.sub(_option_of, error.message))
    if isinstance(error, ChannelNotFound):
        return CliError(f"{error.message}; `taskyard channels list` shows them")
    if isinstance(error, ChannelConflict):
        return CliError(f"{error.message}; choose another name or remove it first")
    if isinstance(error, SecretsUnreadable):
        return CliError(error.message)
    return CliError(error.message)
