"""Turning the platform's exceptions into one actionable line and an exit code."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from cli.output import EXIT_USAGE, CliError, UsageProblem
from schedules.errors import ScheduleNotFound
from tasks.alerts.errors import (
    AlertRouteConflict,
    AlertRouteNotFound,
    AlertRuleConflict,
    AlertRuleNotFound,
    InhibitRuleConflict,
    InhibitRuleNotFound,
    SilenceNotFound,
)
from tasks.notifications.errors import (
    ChannelConflict,
    ChannelNotFound,
    DeliveryNotFound,
    DeliveryStateConflict,
    InvalidChannel,
    SubscriptionConflict,
    SubscriptionNotFound,
    TemplateNotFound,
)
from workers.errors import (
    ApiKeyError,
    BrokerUnavailable,
    IdempotencyConflict,
    InvalidJob,
    JobNotFound,
    StoreUnavailable,
    TaskyardError,
    answer_for,
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

#: What to do next, added to the line of each platform error that has a next step. The exit
#: code comes from the one table of error answers (:data:`workers.errors.ANSWERS`): 2 for bad
#: input, else 1.
NEXT_STEPS: dict[type[TaskyardError], str] = {
    JobNotFound: "check the id (`taskyard jobs list` shows recent jobs)",
    ScheduleNotFound: "`taskyard schedules list` shows them",
    IdempotencyConflict: "use a new --idempotency-key for a different request",
    ApiKeyError: "`taskyard keys list` shows the existing keys",
    TemplateNotFound: "`taskyard templates list` shows them",
    ChannelNotFound: "`taskyard channels list` shows them",
    ChannelConflict: "choose another name or remove it first",
    DeliveryNotFound: "`taskyard deliveries list` shows recent ones",
    DeliveryStateConflict: "`taskyard deliveries show ID` shows where it is",
    SubscriptionNotFound: "`taskyard subscriptions list` shows them",
    SubscriptionConflict: "choose another name or remove it first",
    AlertRuleNotFound: "`taskyard alerts rules list` shows them",
    AlertRuleConflict: "choose another name or remove it first",
    AlertRouteNotFound: "`taskyard alerts routes list` shows them",
    AlertRouteConflict: "choose another name or remove it first",
    InhibitRuleNotFound: "`taskyard alerts inhibit-rules list` shows them",
    InhibitRuleConflict: "choose another name or remove it first",
    SilenceNotFound: "`taskyard silences list` shows them",
}


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


def failure_for(error: TaskyardError) -> tuple[type[CliError], str | None]:
    """How the CLI reports a platform error, and what to do next (``None``: it says)."""
    failure = UsageProblem if answer_for(error).exit_code == EXIT_USAGE else CliError
    next_step = next((NEXT_STEPS[k] for k in type(error).__mro__ if k in NEXT_STEPS), None)
    return failure, next_step


def _message(error: TaskyardError) -> str:
    if isinstance(error, StoreUnavailable):
        return STORE_NOT_MIGRATED if _missing_table(error.__cause__) else STORE_DOWN
    if isinstance(error, BrokerUnavailable):
        return BROKER_DOWN
    if isinstance(error, InvalidChannel):
        # The settings' fields as the options of `taskyard channels add` that set them.
        return _CONFIG_FIELD.sub(_option_of, error.message)
    errors = field_errors(error.details) if isinstance(error, InvalidJob) else ""
    return f"{error.message}: {errors}" if errors else error.message


def from_taskyard_error(error: TaskyardError) -> CliError:
    """The one line (and exit code) for a platform error."""
    failure, next_step = failure_for(error)
    message = _message(error)
    return failure(f"{message}; {next_step}" if next_step else message)


def _option_of(field: re.Match[str]) -> str:
    name = field[1]
    return _CHANNEL_OPTIONS.get(name, f"--{name.replace('_', '-')}")
