"""``maintenance.notify_sweep``: turn platform events into the notifications subscriptions ask
for (:mod:`tasks.notifications.subscription_sweep`), and fail deliveries whose job ended
without settling them (:func:`tasks.notifications.deliveries.reap_orphans`).

Beat runs it every 10 s; its lock keeps two runs from overlapping, and a repeat of either step
changes nothing (notifications are keyed per subscription and event; the reaper re-checks
each delivery's status in its ``UPDATE``).
"""

from __future__ import annotations

from typing import Any

from tasks.maintenance.runs import RunResult, maintenance_task, run_maintenance
from tasks.notifications import deliveries
from tasks.notifications.subscription_sweep import sweep

NAME = "notify_sweep"
LOCK_TTL_S = 60
TIME_LIMIT_S = 300
#: How long one run sends before it leaves the rest to the next run.
BUDGET_S = 60.0
#: Orphaned deliveries reaped per batch, and batches per run.
REAP_BATCH = 500
REAP_BATCHES = 20


def sweep_and_reap(figures: dict[str, Any]) -> None:
    """One sweep of the subscriptions, then the orphaned deliveries; fills ``figures``."""
    figures.update(sweep(BUDGET_S).figures())
    figures["orphans_reaped"] = 0
    for _ in range(REAP_BATCHES):
        reaped = deliveries.reap_orphans(REAP_BATCH)
        figures["orphans_reaped"] += reaped
        if reaped < REAP_BATCH:
            return


def notify_sweep() -> RunResult:
    """Run and record one sweep."""
    return run_maintenance(NAME, sweep_and_reap, lock_ttl_s=LOCK_TTL_S)


@maintenance_task(NAME, TIME_LIMIT_S)
def notify_sweep_task() -> dict[str, Any]:
    """Send subscriptions' notifications and reap orphaned deliveries; idempotent; no retry
    (the next run, 10 s on, is)."""
    return notify_sweep().reported()
