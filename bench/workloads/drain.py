"""1. Drain throughput: no-op jobs queued first, then the worker starts; jobs per second until
the queue is empty and every message acknowledged (for Taskyard, every record written)."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Iterator

from bench import cpu
from bench.model import Context, Measurement, Metric, Target, Workload, lower_is_better
from bench.stack import commit_latency
from bench.system import NOOP, System, poll, unacked, waiting
from bench.taskyard_side import TaskyardSystem

ISSUE_SIZE = 20_000
DEFAULT_SIZE = 4_000
QUEUE = "default"
CONCURRENCY = 2
#: The stretch topology: two processes per core instead of one.
WIDE = 4
#: dramatiq and taskiq on this machine, from the issue (jobs/s).
OTHERS_PER_S = (3_600, 3_900)


def _at_least(ratio: float) -> Target:
    return Target(f"≥ {ratio:g}x bare", lambda t, b: b is not None and t >= ratio * b)


def _drain(
    system: System, count: int, concurrency: int, store: Callable[[], list[int]]
) -> dict[str, float]:
    system.reset()
    began = time.monotonic()
    system.publish(NOOP, count, QUEUE)
    published = time.monotonic()
    with system.worker([QUEUE], "default", concurrency, ready=False) as worker:
        # Bare Celery has no store: the bench's own idle connections are not its cost.
        backends = store if isinstance(system, TaskyardSystem) else list
        census = cpu.worker_census(worker.pid, system.services.redis.process.pid, backends)
        # The clock starts at the first fetch: worker start-up is not drain time.
        start = poll(lambda: waiting(system, [QUEUE]) < count, "the first fetch", 60, 0.002)
        before = cpu.read(census)
        end = poll(
            lambda: waiting(system, [QUEUE]) == 0 and unacked(system) == 0,
            f"{system.label} to drain {count} jobs",
            timeout=60 + count / 20,
        )
        after = cpu.read(census)
    metrics = {"jobs_per_s": count / (end - start), "publish_per_s": count / (published - began)}
    metrics.update(cpu.per_job_ms(before, after, count))
    if isinstance(system, TaskyardSystem):
        poll(lambda: system.succeeded() == count, f"{count} succeeded records", timeout=30)
        metrics["record_jobs_per_s"] = count / system.record_window()
    return metrics


def run(ctx: Context) -> Iterator[Measurement]:
    """Each repeat: Taskyard, Taskyard with its speedups off, and bare Celery at prefork x2,
    then Taskyard at prefork x4 (the stretch)."""
    count = ctx.plan.size(ISSUE_SIZE, DEFAULT_SIZE, minimum=200)
    if count < ISSUE_SIZE:
        ctx.note(
            f"Drain: {count:,} jobs per repeat (the issue says {ISSUE_SIZE:,}; "
            "`--full` restores it) to keep `make bench` within 15 minutes."
        )
    params = {"jobs": count, "queue": QUEUE}
    store = cpu.store_backends(ctx.services.database_url)
    best: list[float] = []
    for repeat in range(1, ctx.plan.repeats + 1):
        # What the disk's sync cost just then: Taskyard's claims wait for it, bare Celery not.
        commit_ms = round(commit_latency(ctx.services.database_url, commits=100)["p50"], 3)
        for system in ctx.in_turn(repeat, plain=True):
            metrics = _drain(system, count, CONCURRENCY, store)
            if system.name == "plain":  # filled by this process, through the speedups
                del metrics["publish_per_s"]
            setting = {**params, "concurrency": 2, "commit_p50_ms": commit_ms}
            yield Measurement("drain", system.name, repeat, metrics, setting)
        wide = _drain(ctx.taskyard, count, WIDE, store)
        best.append(wide["jobs_per_s"])
        metrics = {"jobs_per_s_wide": wide["jobs_per_s"]}
        yield Measurement("drain", "taskyard", repeat, metrics, {**params, "concurrency": WIDE})
    rate = statistics.median(best)
    low, high = OTHERS_PER_S
    ctx.note(
        f"Drain, stretch: Taskyard at prefork x{WIDE} drains {rate:,.0f} jobs/s, "
        f"{low / rate:.0f}-{high / rate:.0f}x short of dramatiq and taskiq "
        f"({low:,}-{high:,}/s on this machine per the issue; not re-measured here)."
    )


WORKLOAD = Workload(
    name="drain",
    title="1. Drain throughput (no-op, queued first)",
    metrics=(
        Metric("jobs_per_s", "jobs/s, prefork x2 (Taskyard with records)", _at_least(0.8)),
        Metric(
            "jobs_per_s_wide",
            "jobs/s, Taskyard prefork x4 vs bare x2 (stretch)",
            _at_least(1.0),
            bare_key="jobs_per_s",
        ),
        Metric("record_jobs_per_s", "jobs/s from records (first start → last finish)"),
        Metric("publish_per_s", "filling the queue: jobs/s from one producer"),
        lower_is_better("cpu_ms", "CPU ms a job, prefork x2: all processes below"),
        lower_is_better("cpu_main_ms", "CPU ms a job: the worker's main process"),
        lower_is_better("cpu_pool_ms", "CPU ms a job: its pool processes"),
        lower_is_better("cpu_store_ms", "CPU ms a job: PostgreSQL (the store's connections)"),
        lower_is_better("cpu_broker_ms", "CPU ms a job: Redis (the harness's polling included)"),
    ),
    run=run,
    method="jobs published first (Taskyard through its producer, records included); the clock "
    "runs from the worker's first fetch to an empty queue with nothing unacknowledged (Taskyard's "
    "records all say succeeded then). In each repeat Taskyard, bare Celery and Taskyard with its "
    "speedups off drain back to back, bare Celery in the middle, the order reversed every other "
    "repeat; then Taskyard at prefork x4 for the stretch goal. CPU ms a job: each process's "
    "user and system time from /proc over the same window, divided by the jobs; the store's is "
    "PostgreSQL's server processes connected to the bench database. A one-row commit's p50 is "
    "taken before each repeat (`commit_p50_ms` in latest.jsonl).",
)
