"""Where a rule's value comes from: the platform's own signals, or a read-only SQL query.

Each source kind has a strict model of its ``spec`` (checked when the rule is saved, the
field named as ``spec.<name>``) and a reader that returns rows of labels and a value at a
slot. Values never become labels. What the store answers is read as of the slot's time
(windows end at the slot); a queue's depth, and the workers that answer a ping, are what
the broker and the workers say when they are asked. A PromQL query (``promql.py``) is asked
at the slot's time; the alerts received through the Alertmanager door (``received.py``) are
those active at the slot.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Callable
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import ColumnElement, func, select

from tasks.alerts import promql, received
from tasks.alerts.errors import EvaluationFailed, invalid
from tasks.alerts.sql import check_query, run_query
from tasks.jobs.canary import measure
from workers.app import app
from workers.queue_depth import queue_depths
from workers.queues import QueueName
from workers.signals import worker_profile
from workers.storable import Unstorable, check_document
from workers.store.engine import session_scope
from workers.store.models import Channel, Delivery, Job, JobStatus

#: Rows of one reading: each a set of labels and the value for them.
Rows = list[tuple[dict[str, str], float]]
DAY_S = 86_400
#: How long a ``workers_alive`` reading waits for the workers' replies to its ping.
PING_S = 1.0
#: The most finished jobs a ``job_duration_p95`` reading looks at (the newest).
MAX_DURATIONS = 100_000


class SourceKind(StrEnum):
    """What a rule reads."""

    QUEUE_DEPTH = "queue_depth"
    OLDEST_QUEUED_AGE = "oldest_queued_age"
    FAILURE_RATIO = "failure_ratio"
    DEAD_JOBS = "dead_jobs"
    DELIVERIES_FAILING = "deliveries_failing"
    WORKERS_ALIVE = "workers_alive"
    CANARY_LATENCY = "canary_latency"
    JOB_DURATION_P95 = "job_duration_p95"
    SQL = "sql"
    PROMQL = "promql"
    ALERTMANAGER = "alertmanager"


class Spec(BaseModel):
    """A source's settings: strict types, nothing undeclared."""

    model_config = ConfigDict(extra="forbid", strict=True)


class QueueSpec(Spec):
    """``queue_depth`` (messages ready) and ``oldest_queued_age`` (seconds the oldest
    ``queued`` job has waited): one row per queue, or for ``queue`` alone."""

    queue: QueueName | None = Field(
        default=None, strict=False, description="One queue (default: each)."
    )


class FailureSpec(Spec):
    """``failure_ratio``: of the jobs that finished in the window, the share failed or dead,
    one row per job type (or for ``job_type`` alone) with at least ``min_finished``."""

    window_s: int = Field(default=900, ge=60, le=7 * DAY_S)
    job_type: str | None = Field(default=None, min_length=1, max_length=200)
    min_finished: int = Field(default=1, ge=1, le=1_000_000)


class DeadSpec(Spec):
    """``dead_jobs``: how many jobs (of ``job_type``) are dead, or died in the window."""

    window_s: int | None = Field(default=None, ge=60, le=7 * DAY_S)
    job_type: str | None = Field(default=None, min_length=1, max_length=200)


class DeliverySpec(Spec):
    """``deliveries_failing``: deliveries that ended failed or dead in the window, one row
    per channel (or for ``channel`` alone)."""

    window_s: int = Field(default=900, ge=60, le=7 * DAY_S)
    channel: str | None = Field(default=None, min_length=1, max_length=200)


class WorkersSpec(Spec):
    """``workers_alive``: the worker nodes that answer a ping, one row per profile (the node
    name before ``@``): each of ``profiles`` (0 when none answers) and any other that answers."""

    profiles: list[Annotated[str, Field(min_length=1, max_length=200)]] = Field(
        default_factory=list, max_length=50, description="The profiles expected to answer."
    )


class CanarySpec(Spec):
    """``canary_latency``: seconds from enqueue to finish of a queue's newest finished canary
    (``maintenance.canary``), or how long its oldest unfinished one has waited when that is
    longer; one row per queue (or for ``queue`` alone), none when no canary ran in the hour."""

    queue: QueueName | None = Field(
        default=None, strict=False, description="One queue (default: each)."
    )


class DurationSpec(Spec):
    """``job_duration_p95``: the 95th percentile of seconds from start to finish of the jobs
    that finished in the window, one row per job type (or for ``job_type`` alone) with at
    least ``min_finished``."""

    window_s: int = Field(default=900, ge=60, le=DAY_S)
    job_type: str | None = Field(default=None, min_length=1, max_length=200)
    min_finished: int = Field(default=1, ge=1, le=1_000_000)


class SqlSpec(Spec):
    """``sql``: one read-only SELECT returning a ``value`` column; the other columns are the
    labels. ``:slot_at`` binds the slot's time."""

    query: str


SPECS: dict[SourceKind, type[BaseModel]] = {
    SourceKind.QUEUE_DEPTH: QueueSpec,
    SourceKind.OLDEST_QUEUED_AGE: QueueSpec,
    SourceKind.FAILURE_RATIO: FailureSpec,
    SourceKind.DEAD_JOBS: DeadSpec,
    SourceKind.DELIVERIES_FAILING: DeliverySpec,
    SourceKind.WORKERS_ALIVE: WorkersSpec,
    SourceKind.CANARY_LATENCY: CanarySpec,
    SourceKind.JOB_DURATION_P95: DurationSpec,
    SourceKind.SQL: SqlSpec,
    SourceKind.PROMQL: promql.PromqlSpec,
    SourceKind.ALERTMANAGER: received.AlertmanagerSpec,
}


def check_spec(
    kind: SourceKind, spec: dict[str, Any], saved: dict[str, Any] | None = None
) -> dict[str, Any]:
    """``spec`` validated for ``kind`` (its defaults filled in), else
    :class:`InvalidAlertRule` naming ``spec.<field>``. A PromQL query is asked of its server
    unless it is the ``saved`` spec unchanged (a pause needs no server)."""
    try:
        model = SPECS[kind].model_validate(spec)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in ("spec", *first["loc"]))
        raise invalid(where, first["msg"]) from None
    if isinstance(model, SqlSpec):
        check_query("spec.query", model.query)
    checked = model.model_dump(mode="json")
    if isinstance(model, promql.PromqlSpec) and checked != saved:
        promql.check_spec(model)
    try:
        check_document(checked, "spec")
    except Unstorable as error:
        raise invalid(error.where, error.message) from None
    return checked


def _queues(spec: QueueSpec | CanarySpec) -> list[str]:
    return [spec.queue.value] if spec.queue else [queue.value for queue in QueueName]


def _queue_depth(spec: QueueSpec, slot_at: datetime) -> Rows:
    wanted = set(_queues(spec))
    return [({"queue": d.name}, float(d.depth)) for d in queue_depths() if d.name in wanted]


def _oldest_queued_age(spec: QueueSpec, slot_at: datetime) -> Rows:
    waiting_since = func.min(func.coalesce(Job.run_at, Job.created_at))
    query = (
        select(Job.queue, waiting_since)
        .where(Job.status == JobStatus.QUEUED.value, Job.created_at <= slot_at)
        .group_by(Job.queue)
    )
    with session_scope() as session:
        oldest = {key: value for key, value in session.execute(query)}
    rows = []
    for queue in _queues(spec):
        since = oldest.get(queue)
        age = max((slot_at - since).total_seconds(), 0.0) if since is not None else 0.0
        rows.append(({"queue": queue}, age))
    return rows


def _window(column: Any, slot_at: datetime, window_s: int | None) -> ColumnElement[bool]:
    ended: ColumnElement[bool] = column <= slot_at
    return ended if window_s is None else ended & (column > slot_at - timedelta(seconds=window_s))


def _failure_ratio(spec: FailureSpec, slot_at: datetime) -> Rows:
    ended = (JobStatus.SUCCEEDED.value, JobStatus.FAILED.value, JobStatus.DEAD.value)
    query = (
        select(Job.type, Job.status, func.count())
        .where(Job.status.in_(ended), _window(Job.finished_at, slot_at, spec.window_s))
        .group_by(Job.type, Job.status)
    )
    if spec.job_type is not None:
        query = query.where(Job.type == spec.job_type)
    counts: dict[str, Counter[str]] = defaultdict(Counter)
    with session_scope() as session:
        for job_type, status, count in session.execute(query):
            counts[job_type][status] += count
    rows = []
    for job_type, by_status in sorted(counts.items()):
        finished = sum(by_status.values())
        if finished >= spec.min_finished:
            bad = by_status[JobStatus.FAILED.value] + by_status[JobStatus.DEAD.value]
            rows.append(({"job_type": job_type}, bad / finished))
    return rows


def _dead_jobs(spec: DeadSpec, slot_at: datetime) -> Rows:
    query = select(func.count()).where(
        Job.status == JobStatus.DEAD.value, _window(Job.finished_at, slot_at, spec.window_s)
    )
    labels = {}
    if spec.job_type is not None:
        query = query.where(Job.type == spec.job_type)
        labels["job_type"] = spec.job_type
    with session_scope() as session:
        return [(labels, float(session.scalar(query) or 0))]


def _deliveries_failing(spec: DeliverySpec, slot_at: datetime) -> Rows:
    query = (
        select(Delivery.channel_name, func.count())
        .where(Delivery.status.in_(("failed", "dead")))
        .where(_window(Delivery.finished_at, slot_at, spec.window_s))
        .group_by(Delivery.channel_name)
    )
    with session_scope() as session:
        failing = {key: value for key, value in session.execute(query)}
        names = set(session.scalars(select(Channel.name))) | set(failing)
    if spec.channel is not None:
        names = {spec.channel}
    return [({"channel": name}, float(failing.get(name, 0))) for name in sorted(names)]


def _workers_alive(spec: WorkersSpec, slot_at: datetime) -> Rows:
    replies = app.control.ping(timeout=PING_S) or []
    alive = Counter(worker_profile(node) for reply in replies for node in reply)
    profiles = sorted(set(spec.profiles) | set(alive))
    return [({"profile": profile}, float(alive[profile])) for profile in profiles]


def _canary_latency(spec: CanarySpec, slot_at: datetime) -> Rows:
    rows = []
    for queue in _queues(spec):
        seen = measure(queue, slot_at)
        latency = seen.get(f"{queue}_latency_ms")
        waited = seen.get(f"{queue}_oldest_waiting_s")
        if latency is None and waited is None:
            continue
        value = max(latency / 1000 if latency is not None else 0.0, waited or 0.0)
        rows.append(({"queue": queue}, value))
    return rows


def p95(values: list[float]) -> float:
    """The 95th percentile of ``values`` (nearest rank; ``values`` sorted, not empty)."""
    return values[max(math.ceil(0.95 * len(values)) - 1, 0)]


def _job_duration_p95(spec: DurationSpec, slot_at: datetime) -> Rows:
    query = (
        select(Job.type, Job.started_at, Job.finished_at)
        .where(Job.started_at.is_not(None), _window(Job.finished_at, slot_at, spec.window_s))
        .order_by(Job.finished_at.desc())
        .limit(MAX_DURATIONS)
    )
    if spec.job_type is not None:
        query = query.where(Job.type == spec.job_type)
    durations: dict[str, list[float]] = defaultdict(list)
    with session_scope() as session:
        for job_type, started, finished in session.execute(query):
            if started is not None and finished is not None:
                durations[job_type].append(max((finished - started).total_seconds(), 0.0))
    return [
        ({"job_type": job_type}, p95(sorted(seconds)))
        for job_type, seconds in sorted(durations.items())
        if len(seconds) >= spec.min_finished
    ]


def _sql(spec: SqlSpec, slot_at: datetime) -> Rows:
    return run_query(spec.query, slot_at)


_READERS: dict[SourceKind, Callable[[Any, datetime], Rows]] = {
    SourceKind.QUEUE_DEPTH: _queue_depth,
    SourceKind.OLDEST_QUEUED_AGE: _oldest_queued_age,
    SourceKind.FAILURE_RATIO: _failure_ratio,
    SourceKind.DEAD_JOBS: _dead_jobs,
    SourceKind.DELIVERIES_FAILING: _deliveries_failing,
    SourceKind.WORKERS_ALIVE: _workers_alive,
    SourceKind.CANARY_LATENCY: _canary_latency,
    SourceKind.JOB_DURATION_P95: _job_duration_p95,
    SourceKind.SQL: _sql,
    SourceKind.PROMQL: promql.read,
    SourceKind.ALERTMANAGER: received.read,
}


def read(kind: SourceKind, spec: dict[str, Any], slot_at: datetime) -> Rows:
    """What ``kind`` reads at ``slot_at``; a failure to read is :class:`EvaluationFailed`."""
    model = SPECS[kind].model_validate(spec)
    try:
        return _READERS[kind](model, slot_at)
    except EvaluationFailed:
        raise
    except Exception as error:  # any failure of a source is the rule's error, not the tick's
        text = " ".join(str(error).split())[:500]
        raise EvaluationFailed(
            f"{kind} could not be read: {text or type(error).__name__}"
        ) from None
