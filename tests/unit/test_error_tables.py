"""One error table per interface: every platform error has one HTTP status in the API and one
exit code (with what to do next) in the CLI, schedule errors included."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from api.errors import status_for
from cli.failures import from_taskyard_error
from cli.output import EXIT_FAILED, EXIT_USAGE
from schedules import errors as schedule
from tasks.notifications import errors as notification
from workers import errors

ROOT = Path(__file__).resolve().parents[2]
# error, HTTP status, CLI exit code, words the CLI line ends with (what to do next)
TABLE = [
    (errors.UnknownJobType("no such type"), 422, EXIT_USAGE, "no such type"),
    (errors.InvalidJob("bad payload"), 422, EXIT_USAGE, "bad payload"),
    (schedule.InvalidSchedule("--every: too small"), 422, EXIT_USAGE, "--every: too small"),
    (errors.JobNotFound("no job x"), 404, EXIT_FAILED, "`taskyard jobs list` shows recent jobs)"),
    (schedule.ScheduleNotFound("no schedule x"), 404, EXIT_FAILED, "schedules list` shows them"),
    (errors.IdempotencyConflict("key reused"), 409, EXIT_FAILED, "for a different request"),
    (errors.JobStateConflict("finished"), 409, EXIT_FAILED, "finished"),
    (schedule.ScheduleConflict("static entry"), 409, EXIT_FAILED, "static entry"),
    (errors.StoreUnavailable("down"), 503, EXIT_FAILED, "start PostgreSQL or fix the URL"),
    (errors.BrokerUnavailable("down"), 503, EXIT_FAILED, "start Redis or fix the URL"),
    (errors.InternalJobType("internal"), 403, EXIT_USAGE, "internal"),
    (notification.InvalidNotification("subject: blank"), 422, EXIT_USAGE, "subject: blank"),
    (notification.ChannelNotAllowed("not billing"), 403, EXIT_FAILED, "not billing"),
    (notification.DeliveryNotFound("no delivery x"), 404, EXIT_FAILED, "shows recent ones"),
    (notification.DeliveryStateConflict("sent"), 409, EXIT_FAILED, "shows where it is"),
    (notification.InvalidSubscription("match: no"), 422, EXIT_USAGE, "match: no"),
    (notification.SubscriptionNotFound("no x"), 404, EXIT_FAILED, "subscriptions list` shows them"),
    (notification.SubscriptionConflict("taken"), 409, EXIT_FAILED, "or remove it first"),
]


@pytest.mark.parametrize(("error", "status", "exit_code", "ending"), TABLE, ids=repr)
def test_each_error_has_one_status_and_one_exit_code(
    error: errors.TaskyardError, status: int, exit_code: int, ending: str
) -> None:
    failure = from_taskyard_error(error)

    assert status_for(error) == status
    assert failure.exit_code == exit_code
    assert failure.format_message().endswith(ending)


def test_no_route_maps_errors_to_statuses_of_its_own() -> None:
    """Routes raise platform errors and let ``api/errors.py`` answer them."""
    for path in sorted((ROOT / "api" / "routes").glob("*.py")):
        tree = ast.parse(path.read_text())
        tables = [
            node
            for node in ast.walk(tree)
            if isinstance(node, ast.Dict)
            and any(isinstance(v, ast.Constant) and v.value in (404, 409, 422) for v in node.values)
        ]
        assert not tables, f"{path.name} has an error-to-status table of its own"
