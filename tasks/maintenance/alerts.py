"""``maintenance.alerts``: one tick of the alert evaluator (``tasks/alerts/evaluation.py``).

Beat fires it every :data:`tasks.alerts.TICK_S`; each run finds the rules whose current slot
nobody has applied yet, evaluates the first chunk of them itself and hands the others to the
workers (``alerts.evaluate_chunk``), then sends the notices still owed and flushes the alert
groups of the routes (``tasks/alerts/routing.py``; what the chunks change is flushed by the
next tick). Two runs at once are
safe (each slot of a rule is applied once), but the run lock keeps them apart.
"""

from __future__ import annotations

from typing import Any

from tasks.alerts import notices, routing
from tasks.alerts.evaluation import TickReport, chunks, due, evaluate_chunk, figures
from tasks.alerts.tasks import send_chunks
from tasks.maintenance.runs import RunResult, maintenance_task, run_maintenance
from workers.store.types import utcnow

NAME = "alerts"
LOCK_TTL_S = 60
TIME_LIMIT_S = 120


def _tick(found: dict[str, Any]) -> None:
    at = utcnow()
    planned = chunks(due(at))
    send_chunks(planned[1:])
    report = evaluate_chunk(planned[0]) if planned else TickReport()
    report.notices += notices.flush()
    report.notices += routing.flush_groups(at).notices
    found.update(figures(report), due=sum(map(len, planned)), chunks_sent=len(planned[1:]))


def alerts() -> RunResult:
    """Run and record one tick of the evaluator."""
    return run_maintenance(NAME, _tick, lock_ttl_s=LOCK_TTL_S)


@maintenance_task(NAME, TIME_LIMIT_S)
def alerts_task() -> dict[str, Any]:
    """Evaluate the alert rules due now (the first chunk here, the others on the workers) and
    send their notices; idempotent (each slot of a rule is applied once); no retry (the next
    tick is the retry)."""
    return alerts().reported()
