"""``maintenance.reaper``: requeue started jobs whose worker went silent, or mark them dead.

The dispatcher reaps on every tick too; both call the same idempotent update, so running
both only means the first to see a lost job handles it. Requeued jobs become ``retrying``
and the dispatcher publishes them.
"""

from __future__ import annotations

from typing import Any

from tasks.maintenance.runs import RunResult, maintenance_task, run_maintenance
from workers.settings import get_settings
from workers.store.transitions import reap_lost

NAME = "reaper"
LOCK_TTL_S = 60
TIME_LIMIT_S = 120


def reap(figures: dict[str, Any]) -> None:
    """Reap jobs whose heartbeat is older than ``TASKYARD_STALE_AFTER_S``."""
    threshold = get_settings().stale_after_s
    reaped = reap_lost(threshold)
    figures.update(stale_after_s=threshold, requeued=reaped.requeued, dead=reaped.dead)


def reaper() -> RunResult:
    """Run and record one reaper pass."""
    return run_maintenance(NAME, reap, lock_ttl_s=LOCK_TTL_S)


@maintenance_task(NAME, TIME_LIMIT_S)
def reaper_task() -> dict[str, Any]:
    """Requeue (or kill) jobs with stale heartbeats; idempotent; no retry (the next run is)."""
    return reaper().reported()
