"""The canary's mark and its measurement: ``maintenance.canary`` sends a ``diag.noop`` through
each queue marked with correlation id ``canary:<queue>`` and records what :func:`measure`
finds; the ``canary_latency`` alert source reads the same."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import func, select

from tasks.jobs.catalog import DIAG_NOOP
from workers.store.engine import session_scope
from workers.store.models import Job, JobStatus

#: Canaries older than this are not looked at (it also bounds the index scan).
LOOKBACK = timedelta(hours=1)


def correlation_id(queue: str) -> str:
    """The mark on ``queue``'s canary jobs."""
    return f"canary:{queue}"


def measure(queue: str, now: datetime) -> dict[str, Any]:
    """Latency of ``queue``'s newest finished canary, and its canaries still unfinished."""
    mine = (
        (Job.type == DIAG_NOOP.name)
        & (Job.correlation_id == correlation_id(queue))
        & (Job.created_at >= now - LOOKBACK)
    )
    with session_scope() as session:
        last = session.execute(
            select(Job.created_at, Job.finished_at)
            .where(mine, Job.status == JobStatus.SUCCEEDED.value, Job.finished_at.is_not(None))
            .order_by(Job.created_at.desc())
            .limit(1)
        ).first()
        waiting, oldest = session.execute(
            select(func.count(), func.min(Job.created_at)).where(mine, Job.finished_at.is_(None))
        ).one()
    figures: dict[str, Any] = {f"{queue}_waiting": int(waiting)}
    if oldest is not None:
        figures[f"{queue}_oldest_waiting_s"] = round((now - oldest).total_seconds(), 3)
    if last is not None:
        created, finished = cast(tuple[datetime, datetime], tuple(last))
        figures[f"{queue}_latency_ms"] = round((finished - created).total_seconds() * 1000, 1)
        figures[f"{queue}_measured_age_s"] = round((now - finished).total_seconds(), 3)
    return figures
