"""1. Drain throughput: no-op jobs queued first, then the worker starts; jobs per second until
the queue is empty and every message acknowledged (for Taskyard, every record written)."""

from __future__ import annotations

import statistics
import time
from collections.abc import Iterator

from bench.model import Context, Measurement, Metric, Target, Workload
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


def _drain(system: System, count: int, concurrency: int) -> dict[str, float]:
    system.reset()
    began = time.monotonic()
    system.publish(NOOP, count, QUEUE)
    published = time.monotonic()
    with system.worker([QUEUE], "default", concurrency, ready=False):
        # The clock starts at the first fetch: worker start-up is not drain time.
        start = poll(lambda: waiting(system, [QUEUE]) < count, "the first fetch", 60, 0.002)
        end = poll(
            lambda: waiting(system, [QUEUE]) == 0 and unacked(system) == 0,
            f"{system.label} to drain {count} jobs",
            timeout=60 + count / 20,
        )
    metrics = {"jobs_per_s": count / (end - start), "publish_per_s": count / (published - began)}
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
    best: list[float] = []
    for repeat in range(1, ctx.plan.repeats + 1):
        for system in ctx.in_turn(repeat, plain=True):
            metrics = _drain(system, count, CONCURRENCY)
            if system.name == "plain":  # filled by this process, through the speedups
                del metrics["publish_per_s"]
            yield Measurement("drain", system.name, repeat, metrics, {**params, "concurrency": 2})
        wide = _drain(ctx.taskyard, count, WIDE)
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
    ),
    run=run,
    method="jobs published first (Taskyard through its producer, records included); the clock "
    "runs from the worker's first fetch to an empty queue with nothing unacknowledged (Taskyard's "
    "records all say succeeded then). Taskyard also runs at prefork x4 for the stretch goal.",
)
