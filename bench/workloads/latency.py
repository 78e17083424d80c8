"""2. End-to-end latency at light load: jobs sent one at a time at about 100 per second to an
idle worker; enqueue → start and enqueue → finish, from the producer's call.

Taskyard's start and finish come from its job records; bare Celery's from the
``task-started`` and ``task-succeeded`` events its worker sends."""

from __future__ import annotations

import time
from collections.abc import Iterator

from bench.model import Context, Measurement, Workload, lower_is_better
from bench.stats import latency_ms
from bench.system import NOOP, Observer, Sent, System

ISSUE_SIZE = 500
RATE_PER_S = 100.0
WARM_UP = 20
QUEUE = "default"


def _send_paced(system: System, count: int, rate: float) -> list[Sent]:
    sent: list[Sent] = []
    begin = time.monotonic()
    for index in range(count):
        delay = begin + index / rate - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        sent.append(system.send_one(NOOP, QUEUE))
    return sent


def _measure(system: System, observer: Observer, count: int) -> Measurement:
    sent = _send_paced(system, count, RATE_PER_S)
    spans = observer.spans([s.id for s in sent], timeout=60)
    to_start = [spans[s.id].started_after(s.at) for s in sent]
    to_finish = [spans[s.id].finished_after(s.at) for s in sent]
    metrics = {**latency_ms(to_start, "start"), **latency_ms(to_finish, "finish")}
    samples = {"start_ms": [v * 1000 for v in to_start], "finish_ms": [v * 1000 for v in to_finish]}
    return Measurement("latency", system.name, 0, metrics, samples=samples)


def run(ctx: Context) -> Iterator[Measurement]:
    """One idle worker per system (prefork x2) serves every repeat; a warm-up comes first."""
    count = ctx.plan.size(ISSUE_SIZE, ISSUE_SIZE, minimum=50)
    params = {"jobs": count, "rate_per_s": RATE_PER_S, "concurrency": 2}
    for system in ctx.in_turn(1):
        system.reset()
        with system.worker([QUEUE], "default", 2), system.observe() as observer:
            _measure(system, observer, WARM_UP)
            for repeat in range(1, ctx.plan.repeats + 1):
                measurement = _measure(system, observer, count)
                measurement.repeat, measurement.params = repeat, params
                yield measurement


WORKLOAD = Workload(
    name="latency",
    title="2. End-to-end latency at ~100 jobs/s (ms)",
    metrics=tuple(
        lower_is_better(f"{until}_p{p}_ms", f"enqueue → {until} p{p}")
        for until in ("start", "finish")
        for p in (50, 95, 99)
    ),
    run=run,
    method="no-op jobs sent one at a time every 10 ms to an idle, warmed-up worker; times run "
    "from the producer's call (Taskyard's enqueue() writes the record first) to the record's "
    "started_at/finished_at (Taskyard) or the task-started/task-succeeded events (bare Celery, "
    "stamped by the worker's main process).",
)
