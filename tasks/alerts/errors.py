"""What can go wrong with an alert rule. Each error is of a kind in ``workers/errors.py``, whose
one table gives the API's status and the CLI's exit code."""

from __future__ import annotations

from workers.errors import Conflict, Invalid, NotFound, TaskyardError


class InvalidAlertRule(Invalid):
    """A rule does not validate; the details name the field (``threshold``, ``spec.query``)."""

    code = "invalid_alert_rule"


class AlertRuleNotFound(NotFound):
    """No alert rule has that id or name."""

    code = "alert_rule_not_found"


class AlertRuleConflict(Conflict):
    """An alert rule with that name exists already."""

    code = "alert_rule_conflict"


class EvaluationFailed(TaskyardError):
    """A rule's source could not be read (a query refused or timed out, a broker down, rows
    that repeat a set of labels); the rule records it and follows its ``on_error``."""

    code = "alert_evaluation_failed"


class InvalidAlertRoute(InvalidAlertRule):
    """A route, inhibit rule or silence does not validate; the details name the field."""

    code = "invalid_alert_route"


class InvalidSilence(InvalidAlertRule):
    """A silence does not validate (matchers that match nothing, an end before its start)."""

    code = "invalid_silence"


class AlertRouteNotFound(NotFound):
    """No alert route has that id or name."""

    code = "alert_route_not_found"


class SilenceNotFound(NotFound):
    """No silence has that id."""

    code = "silence_not_found"


class AlertRouteConflict(Conflict):
    """A route with that name exists already."""

    code = "alert_route_conflict"


class InhibitRuleNotFound(NotFound):
    """No inhibit rule has that id or name."""

    code = "inhibit_rule_not_found"


class InhibitRuleConflict(Conflict):
    """An inhibit rule with that name exists already."""

    code = "inhibit_rule_conflict"


def invalid(
    field_name: str, message: str, kind: type[InvalidAlertRule] = InvalidAlertRule
) -> InvalidAlertRule:
    """An :class:`InvalidAlertRule` (or the ``kind`` given) about one field."""
    return kind(f"{field_name}: {message}", [{"field": field_name, "message": message}])
