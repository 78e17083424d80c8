"""6. Alert evaluation: 10,000 rules on the platform's signals, evaluated in one tick of
``maintenance.alerts`` by one worker at prefork x2 (the tick evaluates the first chunk and
hands the others to the workers as ``alerts.evaluate_chunk``). Seconds per tick run from the
tick's send until every rule has applied its slot; the store's writes per tick are the rows
PostgreSQL counts as inserted, updated or deleted in the alert tables during it."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime

import psutil
import sqlalchemy as sa

from bench.model import Context, Measurement, Target, Workload, lower_is_better
from bench.stack import BenchError, process_tree
from bench.system import poll
from bench.taskyard_side import TaskyardSystem
from tasks.alerts import TICK_S
from tasks.alerts.decision import Op
from tasks.alerts.rules import RuleSpec, check_rule
from tasks.alerts.sources import SourceKind
from tasks.jobs.catalog import DIAG_NOOP
from tasks.jobs.producer import JobRequest, enqueue_many
from workers.app import app
from workers.queues import QUEUE_ORDER
from workers.store.engine import get_engine
from workers.store.models import AlertRule

ISSUE_SIZE = 10_000
QUEUE = "default"
CONCURRENCY = 2
#: Jobs waiting in ``bulk`` while the rules are evaluated: some queue-depth rules fire.
BACKLOG = 50
TABLES = ("alert_rules", "alert_instances", "alert_events")
_K = SourceKind
#: The sources the rules read, round robin (``workers_alive`` is left out: its reading waits
#: a second for the workers' replies to a ping, once per chunk that holds one).
SOURCES: tuple[tuple[SourceKind, dict[str, object]], ...] = (
    *((_K.QUEUE_DEPTH, {"queue": queue.value}) for queue in QUEUE_ORDER),
    (_K.QUEUE_DEPTH, {}),
    *((_K.OLDEST_QUEUED_AGE, {"queue": queue.value}) for queue in QUEUE_ORDER),
    (_K.FAILURE_RATIO, {"window_s": 900}),
    (_K.DEAD_JOBS, {"window_s": 900}),
    (_K.DEAD_JOBS, {}),
    (_K.DELIVERIES_FAILING, {"window_s": 900}),
    (_K.JOB_DURATION_P95, {"window_s": 900}),
    (_K.CANARY_LATENCY, {}),
)


def _rules(count: int) -> None:
    """``count`` rules, checked once per source and stored in one batch (interval one tick,
    thresholds spread so some hold and most do not)."""
    checked = [
        check_rule(RuleSpec("bench-template", kind, Op.GT, 0.0, spec=dict(spec), interval_s=TICK_S))
        for kind, spec in SOURCES
    ]
    rows = []
    for n in range(count):
        base = checked[n % len(checked)]
        rule = replace(base, name=f"bench-rule-{n}", threshold=float(n % 100))
        rows.append(rule.columns())
    with get_engine().begin() as connection:
        connection.execute(sa.insert(AlertRule), rows)


def _written() -> int:
    """Rows inserted, updated and deleted in the alert tables, as PostgreSQL counts them."""
    query = sa.text(
        "SELECT coalesce(sum(n_tup_ins + n_tup_upd + n_tup_del), 0) FROM pg_stat_user_tables "
        "WHERE relname = ANY(:tables)"
    )
    with get_engine().connect() as connection:
        connection.execute(sa.text("SELECT pg_stat_clear_snapshot()"))
        return int(connection.execute(query, {"tables": list(TABLES)}).scalar_one())


def _settled_writes() -> int:
    """The counters once the workers' backends have flushed theirs (idle ones flush within
    seconds): the same figure twice, three seconds apart."""
    last, deadline = _written(), time.monotonic() + 30
    while time.monotonic() < deadline:
        time.sleep(3)
        now = _written()
        if now == last:
            return now
        last = now
    raise BenchError("PostgreSQL's table counters did not settle within 30 s")


def _applied(slot: datetime) -> int:
    query = sa.select(sa.func.count()).where(AlertRule.last_slot_at >= slot)
    with get_engine().connect() as connection:
        return int(connection.execute(query).scalar_one())


def _next_slot() -> datetime:
    """Wait until half a second into the next tick's slot; that slot."""
    now = time.time()
    start = (now // TICK_S + 1) * TICK_S
    time.sleep(start + 0.5 - now)
    return datetime.fromtimestamp(start, UTC)


def _cpu_s(pid: int) -> float:
    """CPU seconds the worker ``pid`` and its pool processes have used so far."""
    total = 0.0
    for member in process_tree(pid):
        try:
            times = psutil.Process(member).cpu_times()
        except psutil.Error:
            continue
        total += times.user + times.system
    return total


def _tick(count: int, worker: int) -> dict[str, float]:
    """One tick: the seconds until all ``count`` rules applied its slot, and the rows the
    alert tables were written. Should it take longer than a tick, the next ticks are sent as
    beat would send them (a chunk nobody started within a tick expires, and the next tick
    plans its rules again)."""
    before = _settled_writes()
    slot = _next_slot()
    cpu = _cpu_s(worker)
    began = time.monotonic()
    app.send_task("maintenance.alerts")
    sent = 1

    def done() -> bool:
        nonlocal sent
        if time.monotonic() - began > sent * TICK_S:
            app.send_task("maintenance.alerts")
            sent += 1
        return _applied(slot) >= count

    end = poll(done, f"{count:,} rules to apply one slot", 120, 0.05)
    used = _cpu_s(worker) - cpu
    return {"tick_s": end - began, "writes": float(_settled_writes() - before), "ticks": sent,
            "cpu_s": used}  # fmt: skip


def _run(taskyard: TaskyardSystem, count: int) -> dict[str, float]:
    """The first tick (every instance is made), then a tick in which nothing changes."""
    taskyard.reset()
    with get_engine().begin() as connection:
        connection.execute(sa.text("TRUNCATE alert_rules CASCADE"))
    _rules(count)
    enqueue_many([JobRequest(DIAG_NOOP.name, queue="bulk")] * BACKLOG)
    with taskyard.worker([QUEUE], "default", CONCURRENCY) as worker:
        first = _tick(count, worker.pid)
        steady = _tick(count, worker.pid)
    return {
        "tick_s": steady["tick_s"],
        "steady_writes": steady["writes"],
        "steady_ticks": steady["ticks"],
        "steady_cpu_s": steady["cpu_s"],
        "first_tick_s": first["tick_s"],
        "first_writes": first["writes"],
    }


def run(ctx: Context) -> Iterator[Measurement]:
    """Each repeat: a fresh set of rules, two ticks (Taskyard only: bare Celery has no alerts)."""
    count = ctx.plan.size(ISSUE_SIZE, ISSUE_SIZE, minimum=1_000)
    params = {"rules": count, "sources": len(SOURCES), "concurrency": CONCURRENCY}
    for repeat in range(1, ctx.plan.repeats + 1):
        yield Measurement("alerts", "taskyard", repeat, _run(ctx.taskyard, count), params)


WORKLOAD = Workload(
    name="alerts",
    title="6. Alert evaluation: 10,000 rules in one tick",
    metrics=(
        lower_is_better(
            "tick_s",
            "seconds per tick, nothing changing (send to every rule's slot applied)",
            Target("< 5 s", lambda t, b: t < 5),
        ),
        lower_is_better(
            "steady_writes",
            "rows written per tick, nothing changing (the rules' slot claims)",
        ),
        lower_is_better("steady_ticks", "ticks sent until then (1: it fit in one tick)"),
        lower_is_better(
            "steady_cpu_s", "CPU seconds the worker's processes used for it (load-independent)"
        ),
        lower_is_better("first_tick_s", "seconds of the first tick (every instance made)"),
        lower_is_better("first_writes", "rows written by the first tick"),
    ),
    run=run,
    method="10,000 rules stored at once over 14 platform-signal sources (queue depth and "
    "oldest queued age per queue, failure ratio, dead jobs, deliveries failing, job "
    "duration p95, canary latency), interval one tick, thresholds 0-99; 50 jobs wait in "
    "`bulk`. One worker at prefork x2 consumes `default`; the bench sends "
    "`maintenance.alerts` half a second into a slot (and again each tick after, as beat "
    "would, should the rules take longer) and polls until every rule's `last_slot_at` "
    "reaches it. Writes are PostgreSQL's n_tup_ins + n_tup_upd + n_tup_del "
    "over alert_rules, alert_instances and alert_events, read once the counters settle.",
)
