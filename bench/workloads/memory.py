"""5. Memory: the worker's resident set (parent and pool processes, summed from ``/proc``)
after a warm-up and after each tenth of the jobs; growth is the last sample against the warm
one. (A straight line through the samples would overstate it: the worker's main process
grows for its first ~10,000 jobs, then levels off.)

Taskyard recycles a pool process after ``TASKYARD_WORKER_MAX_TASKS_PER_CHILD`` (10,000) jobs,
which caps growth over long runs; below that count per process, this measures one lifetime."""

from __future__ import annotations

from collections.abc import Iterator

from bench.model import Context, Measurement, Target, Workload, lower_is_better
from bench.stack import rss_bytes
from bench.system import NOOP, System, poll, unacked, waiting

ISSUE_SIZE = 100_000
DEFAULT_SIZE = 10_000
CHECKPOINTS = 10
QUEUE = "default"
MIB = 1024 * 1024


def _process(system: System, count: int) -> None:
    system.publish(NOOP, count, QUEUE)
    poll(
        lambda: waiting(system, [QUEUE]) == 0 and unacked(system) == 0,
        f"{system.label} to work off {count} jobs",
        timeout=60 + count / 20,
        interval=0.05,
    )


def _measure(system: System, total: int) -> Measurement:
    system.reset()
    warm_up, step = max(100, total // 100), total // CHECKPOINTS
    with system.worker([QUEUE], "default", 2) as worker:
        cold = rss_bytes(worker.pid) / MIB
        _process(system, warm_up)
        curve = [rss_bytes(worker.pid) / MIB]
        for _ in range(CHECKPOINTS):
            _process(system, step)
            curve.append(rss_bytes(worker.pid) / MIB)
    system.reset()
    warm = curve[0]
    metrics = {
        "cold_mib": cold,
        "warm_mib": warm,
        "final_mib": curve[-1],
        "growth_pct": 100 * (curve[-1] - warm) / warm,
    }
    params = {"jobs": total, "warm_up": warm_up, "checkpoints": CHECKPOINTS}
    return Measurement("memory", system.name, 0, metrics, params, {"rss_mib": curve})


def run(ctx: Context) -> Iterator[Measurement]:
    """Each repeat is a fresh worker lifetime per system."""
    total = ctx.plan.size(ISSUE_SIZE, DEFAULT_SIZE, minimum=1_000)
    if total < ISSUE_SIZE:
        ctx.note(
            f"Memory: {total:,} jobs per repeat and worker lifetime (the issue says "
            f"{ISSUE_SIZE:,}; `--full` restores it), so the growth target is judged on "
            f"{total:,} jobs. Taskyard also replaces each pool process after 10,000 jobs "
            "(TASKYARD_WORKER_MAX_TASKS_PER_CHILD), which bounds the pool's growth."
        )
    for repeat in range(1, ctx.plan.repeats + 1):
        for system in ctx.in_turn(repeat):
            measurement = _measure(system, total)
            measurement.repeat = repeat
            yield measurement


WORKLOAD = Workload(
    name="memory",
    title="5. Worker memory (RSS of parent + 2 pool processes)",
    metrics=(
        lower_is_better("warm_mib", "MiB after warm-up"),
        lower_is_better("final_mib", "MiB after all jobs"),
        lower_is_better(
            "growth_pct", "growth over the run (%)", Target("< 10 %", lambda t, b: t < 10)
        ),
    ),
    run=run,
    method="one worker (prefork x2) per repeat: a 1% warm-up, then ten equal chunks; RSS "
    "summed over the worker's processes from /proc after each chunk, with the queue empty.",
)
