"""3. Priority under backlog: 10 ms bulk jobs queued and being worked, then high jobs sent one
every 20 ms; how long each high job waits to start (from the producer's call).

Taskyard runs its Procfile topology (worker-bulk and worker-realtime, prefork x2 each);
bare Celery runs its best single-worker set-up (one worker on ``high,bulk`` with
``queue_order_strategy='priority'``, prefork x2)."""

from __future__ import annotations

import statistics
import time
from collections.abc import Iterator
from contextlib import contextmanager

from bench.model import Context, Measurement, Target, Workload, lower_is_better
from bench.stats import latency_ms
from bench.system import NOOP, Job, Sent, System, poll, waiting
from bench.taskyard_side import TaskyardSystem

ISSUE_BACKLOG = 10_000
HIGH_JOBS = 50
SPACING_S = 0.02
BULK_JOB = Job("sleep", ms=10)
#: Bulk jobs the workers must have taken before the high jobs go out.
UNDER_WAY = 20
#: High jobs sent (and not measured) first, so no pool process meets its first job measured.
WARM_UP = 10


@contextmanager
def _workers(system: System) -> Iterator[None]:
    if isinstance(system, TaskyardSystem):
        with system.worker(["bulk"], "bulk", 2), system.worker(["critical", "high"], "realtime", 2):
            yield
    else:
        with system.worker(["high", "bulk"], "default", 2, priority=True):
            yield


def _send_high(system: System, count: int) -> list[Sent]:
    sent = []
    begin = time.monotonic()
    for index in range(count):
        delay = begin + index * SPACING_S - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        sent.append(system.send_one(NOOP, "high"))
    return sent


def _round(system: System, backlog: int) -> Measurement:
    short = backlog - waiting(system, ["bulk"])
    if short > 0:
        system.publish(BULK_JOB, short, "bulk")
    with _workers(system), system.observe() as observer:
        poll(lambda: waiting(system, ["bulk"]) <= backlog - UNDER_WAY, "bulk work to begin", 60)
        warm = _send_high(system, WARM_UP)
        observer.spans([s.id for s in warm], timeout=60, finished=False)
        sent = _send_high(system, HIGH_JOBS)
        spans = observer.spans([s.id for s in sent], timeout=60, finished=False)
        left = waiting(system, ["bulk"])
    waits = [spans[s.id].started_after(s.at) for s in sent]
    metrics = {**latency_ms(waits, "wait"), "bulk_left": float(left)}
    samples = {"wait_ms": [w * 1000 for w in waits]}
    params = {
        "backlog": backlog,
        "high_jobs": HIGH_JOBS,
        "spacing_s": SPACING_S,
        "warm_up": WARM_UP,
    }
    return Measurement("priority", system.name, 0, metrics, params, samples)


def run(ctx: Context) -> Iterator[Measurement]:
    """Each repeat starts fresh workers on a backlog topped up to its full size."""
    backlog = ctx.plan.size(ISSUE_BACKLOG, ISSUE_BACKLOG, minimum=500)
    for each in (ctx.taskyard, ctx.bare):
        each.reset()
    bare_p99: list[float] = []
    for repeat in range(1, ctx.plan.repeats + 1):
        for system in ctx.in_turn(repeat):
            measurement = _round(system, backlog)
            measurement.repeat = repeat
            if measurement.metrics["bulk_left"] == 0:
                ctx.note(f"Priority: {system.label}'s backlog ran out during repeat {repeat}.")
            if system.name == "bare":
                bare_p99.append(measurement.metrics["wait_p99_ms"])
            yield measurement
    ctx.note(
        "Priority: the issue quotes 43-48 ms p99 for bare Celery's best set-up; with warmed "
        f"workers and high jobs 20 ms apart it measures {statistics.median(bare_p99):.0f} ms "
        "here (a burst of high jobs at once would queue them behind each other instead)."
    )
    for each in (ctx.taskyard, ctx.bare):
        each.reset()


WORKLOAD = Workload(
    name="priority",
    title="3. High-priority wait behind a bulk backlog (ms)",
    metrics=(
        lower_is_better("wait_p50_ms", "high job wait p50"),
        lower_is_better("wait_p99_ms", "high job wait p99", Target("< 20 ms", lambda t, b: t < 20)),
        lower_is_better("wait_max_ms", "high job wait max"),
    ),
    run=run,
    method="a backlog of 10 ms sleep jobs on `bulk`; fresh workers; once 20 bulk jobs are taken, "
    "10 unmeasured then 50 measured no-op jobs on `high`, one every 20 ms; wait = producer's call "
    "to start. Taskyard: worker-bulk + worker-realtime as in the Procfile; bare Celery: one "
    "worker on high,bulk with queue_order_strategy='priority'.",
)
