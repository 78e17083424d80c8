"""``maintenance.alerts``: one tick of the alert evaluator (``tasks/alerts/evaluation.py``).

Beat fires it every :data:`tasks.alerts.TICK_S`; each run evaluates the rules whose current
slot nobody has evaluated yet, at the run's time, and sends the notices owed. Two runs at
once are safe (each slot of a rule is applied once), but the run lock keeps them apart.
"""

from __future__ import annotations

from typing import Any

from tasks.alerts.evaluation import evaluate_due, figures
from tasks.maintenance.runs import RunResult, maintenance_task, run_maintenance
from workers.store.types import utcnow

NAME = "alerts"
LOCK_TTL_S = 60
TIME_LIMIT_S = 120


def _tick(found: dict[str, Any]) -> None:
    found.update(figures(evaluate_due(utcnow())))


def alerts() -> RunResult:
    """Run and record one tick of the evaluator."""
    return run_maintenance(NAME, _tick, lock_ttl_s=LOCK_TTL_S)


@maintenance_task(NAME, TIME_LIMIT_S)
def alerts_task() -> dict[str, Any]:
    """Evaluate the alert rules due now and send their notices; idempotent (each slot of a
    rule is applied once); no retry (the next tick is the retry)."""
    return alerts().reported()
