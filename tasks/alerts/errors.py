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


def invalid(field_name: str, message: str) -> InvalidAlertRule:
    """An :class:`InvalidAlertRule` about one field."""
    return InvalidAlertRule(f"{field_name}: {message}", [{"field": field_name, "message": message}])
