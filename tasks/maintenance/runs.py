"""Running a maintenance task under its lock and recording the run in ``maintenance_runs``.

Every run leaves one row: ``running`` while it works, then ``succeeded`` or ``failed`` with its
figures (rows deleted, bytes written, latency...) and error; a run that finds the lock taken
leaves a ``skipped`` row saying who holds it. A ``running`` row whose process died is marked
``failed`` by the next run of the same task (holding the lock proves nobody else runs it).
The lock is the project's one Redis lock (``workers/locks.py``), renewed while the run lasts.
A run by hand (:func:`run_by_hand`) also leaves a ``maintenance.run`` audit row, written with
its final record.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import asdict, dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

import redis
from sqlalchemy import desc, select, update
from sqlalchemy.orm import Session

from tasks.maintenance.catalog import NAMES, runner
from workers.app import app
from workers.errors import TaskyardError
from workers.locks import LOCK_PREFIX, LockHeld, TtlLock, held_lock
from workers.observability import metrics
from workers.redis_client import shared_redis
from workers.settings import get_settings
from workers.store import audit
from workers.store.engine import session_scope
from workers.store.models import MaintenanceRun
from workers.store.types import utcnow

log = logging.getLogger(__name__)

#: A task's work: fills in its figures as it goes, so a failed run still reports progress.
Work = Callable[[dict[str, Any]], None]
MAX_ERROR = 2_000
ABANDONED = "abandoned: the process running it stopped before it finished"
REDIS_DOWN = (
    "could not take the run lock: Redis is unreachable ({kind}); "
    "check TASKYARD_REDIS_URL (or TASKYARD_BROKER_URL when it is Redis)"
)
#: True while :func:`run_by_hand` runs a task: its final record gets an audit row.
_by_hand: ContextVar[bool] = ContextVar("maintenance_by_hand", default=False)


def lock_key(name: str) -> str:
    """The Redis key of maintenance task ``name``'s lock."""
    return f"{LOCK_PREFIX}maintenance:{name}"


class RunOutcome(StrEnum):
    """How a run ended (``running`` until it does)."""

    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    SKIPPED = "skipped"


class MaintenanceFailed(TaskyardError):
    """A maintenance run failed; its row in ``maintenance_runs`` has the error."""

    code = "maintenance_failed"


@dataclass(frozen=True)
class RunResult:
    """One recorded run."""

    id: uuid.UUID
    name: str
    outcome: RunOutcome
    started_at: datetime
    finished_at: datetime | None
    figures: dict[str, Any]
    error: str | None

    @property
    def duration_s(self) -> float | None:
        """Wall-clock seconds from start to finish."""
        if self.finished_at is None:
            return None
        return round((self.finished_at - self.started_at).total_seconds(), 3)

    def as_dict(self) -> dict[str, Any]:
        """The run as JSON-ready values."""
        fields = asdict(self)
        fields.update(
            id=str(self.id),
            outcome=self.outcome.value,
            started_at=self.started_at.isoformat(),
            finished_at=self.finished_at.isoformat() if self.finished_at else None,
            duration_s=self.duration_s,
        )
        return fields

    def reported(self) -> dict[str, Any]:
        """What a Celery task returns: the run, or :class:`MaintenanceFailed` when it failed."""
        if self.outcome is RunOutcome.FAILED:
            raise MaintenanceFailed(f"maintenance.{self.name} failed: {self.error}")
        return self.as_dict()


def from_row(row: MaintenanceRun) -> RunResult:
    """A :class:`RunResult` from its stored row."""
    return RunResult(row.id, row.name, RunOutcome(row.outcome), row.started_at, row.finished_at,
                     dict(row.figures or {}), row.error)  # fmt: skip


def describe(error: BaseException) -> str:
    """One line naming the error: ``message (ErrorType)``, or just its type when it says nothing."""
    text = " ".join(str(error).split())
    kind = type(error).__name__
    line = f"{text} ({kind})" if text and not isinstance(error, TaskyardError) else text or kind
    return line[:MAX_ERROR]


def task_options(name: str, time_limit_s: float) -> dict[str, Any]:
    """Celery options shared by every maintenance task.

    No retries (the next scheduled run is the retry) and acknowledged on receipt: a run
    longer than the broker's visibility timeout must not be redelivered while it works, and
    a run lost with its worker is simply the next scheduled one."""
    return {
        "name": f"maintenance.{name}",
        "max_retries": 0,
        "acks_late": False,
        "time_limit": time_limit_s,
        "soft_time_limit": time_limit_s * 0.9,
    }


def maintenance_task(name: str, time_limit_s: float) -> Callable[[Callable[..., Any]], Any]:
    """Register the decorated function as Celery task ``maintenance.<name>``, which must have
    its row in the registry (``tasks.maintenance.catalog``)."""
    if name not in NAMES:
        raise LookupError(f"maintenance.{name} has no row in tasks.maintenance.catalog")

    def register(fn: Callable[..., Any]) -> Any:
        return app.task(fn, **task_options(name, time_limit_s))

    return register


def run_maintenance(name: str, work: Work, *, lock_ttl_s: float) -> RunResult:
    """Run ``work`` under ``name``'s lock and record the run; never raises for the work's
    own failures (they become a ``failed`` run). Store errors while recording do raise."""
    started = utcnow()
    try:
        client = shared_redis(get_settings().locks_url)
        with held_lock(client, lock_key(name), lock_ttl_s) as held:
            return _run_held(name, work, started, held)
    except LockHeld as busy:
        reason = f"another {name} run holds the lock ({busy.holder or 'it just finished'})"
        return _record(name, started, RunOutcome.SKIPPED, {"reason": reason}, None)
    except redis.RedisError as error:
        return _record(
            name, started, RunOutcome.FAILED, {}, REDIS_DOWN.format(kind=describe(error))
        )


def _run_held(name: str, work: Work, started: datetime, held: TtlLock) -> RunResult:
    run_id = _begin(name, started)
    figures: dict[str, Any] = {}
    outcome, error = RunOutcome.SUCCEEDED, None
    try:
        work(figures)
    except Exception as failure:  # recorded as a failed run; the next scheduled run retries
        outcome, error = RunOutcome.FAILED, describe(failure)
        log.warning("maintenance run failed", exc_info=True,
                    extra={"action": "maintenance.error", "task": name})  # fmt: skip
    if held.lost:
        figures["lock_lost"] = True
    return _finish(run_id, name, started, outcome, figures, error)


def _begin(name: str, started: datetime) -> uuid.UUID:
    """Mark this task's orphaned ``running`` rows failed, then record this run as running."""
    run = MaintenanceRun(
        name=name, started_at=started, outcome=RunOutcome.RUNNING.value, figures={}
    )
    with session_scope() as session:
        session.execute(
            update(MaintenanceRun)
            .where(MaintenanceRun.name == name, MaintenanceRun.outcome == RunOutcome.RUNNING.value)
            .values(outcome=RunOutcome.FAILED.value, finished_at=utcnow(), error=ABANDONED)
        )
        session.add(run)
    return run.id


def _finish(run_id: uuid.UUID, name: str, started: datetime, outcome: RunOutcome,
            figures: dict[str, Any], error: str | None) -> RunResult:  # fmt: skip
    finished = utcnow()
    with session_scope() as session:
        session.execute(
            update(MaintenanceRun)
            .where(MaintenanceRun.id == run_id)
            .values(outcome=outcome.value, finished_at=finished, figures=figures, error=error)
        )
        _audit(session, run_id, name, outcome, error)
    result = RunResult(run_id, name, outcome, started, finished, figures, error)
    _report(result)
    return result


def _record(name: str, started: datetime, outcome: RunOutcome, figures: dict[str, Any],
            error: str | None) -> RunResult:  # fmt: skip
    run = MaintenanceRun(name=name, started_at=started, finished_at=utcnow(),
                         outcome=outcome.value, figures=figures, error=error)  # fmt: skip
    with session_scope() as session:
        session.add(run)
        session.flush()
        _audit(session, run.id, name, outcome, error)
    result = from_row(run)
    _report(result)
    return result


def _audit(
    session: Session, run_id: uuid.UUID, name: str, outcome: RunOutcome, error: str | None
) -> None:
    if _by_hand.get():
        target = audit.Target("maintenance", run_id, name)
        audit.record(session, "maintenance.run", target, after={"outcome": outcome.value,
                                                                "error": error})  # fmt: skip


def run_by_hand(name: str) -> RunResult:
    """Run maintenance task ``name`` in this process, as an operator asked (an audit row
    records who, with the outcome)."""
    token = _by_hand.set(True)
    try:
        return runner(name)()
    finally:
        _by_hand.reset(token)


def _report(result: RunResult) -> None:
    """One log line and one count per finished run."""
    metrics.MAINTENANCE_RUNS.labels(result.name, result.outcome.value).inc()
    level = logging.WARNING if result.outcome is RunOutcome.FAILED else logging.INFO
    log.log(level, "maintenance %s %s", result.name, result.outcome.value,
            extra={"action": f"maintenance.{result.outcome.value}", "task": result.name,
                   "duration_s": result.duration_s, "figures": result.figures,
                   "error": result.error})  # fmt: skip


def recent_runs(name: str | None = None, limit: int = 20) -> list[RunResult]:
    """The latest ``limit`` runs (of task ``name``), newest first."""
    query = select(MaintenanceRun).order_by(desc(MaintenanceRun.started_at)).limit(limit)
    if name is not None:
        query = query.where(MaintenanceRun.name == name)
    with session_scope() as session:
        return [from_row(row) for row in session.scalars(query)]
