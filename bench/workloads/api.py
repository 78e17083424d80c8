"""4. Producer API: enqueue rate and latency from 16 threads over loopback, one job per request
and batches; then at a steady 500 requests/s. Bare Celery's counterpart, for scale, is
``send_task`` from 16 threads in-process (no HTTP, no records)."""

from __future__ import annotations

from collections.abc import Iterator

from bench import bare_app
from bench.load import Call, Load, closed_loop, paced
from bench.model import Context, Measurement, Metric, Target, Workload, lower_is_better
from bench.producer_api import Api, Client, batch_body, job_body, running_api
from bench.stats import percentile
from bench.system import NOOP, SystemName

THREADS = 16
SINGLE_CALLS = 1_500
PACED_RATE = 500.0
PACED_CALLS = 1_000
BATCH_SIZE = 1_000
BATCHES = 16
WARM_UP_CALLS = 300


def _summary(load: Load, prefix: str, per_call: int = 1) -> dict[str, float]:
    millis = [s * 1000 for s in load.latencies]
    return {
        f"{prefix}_per_s": load.rate * per_call,
        f"{prefix}_p50_ms": percentile(millis, 50),
        f"{prefix}_p99_ms": percentile(millis, 99),
    }


def _poster(api: Api, path: str, body: bytes) -> Call:
    client = Client(api)
    return lambda: client.post(path, body)


def _taskyard(ctx: Context, system: SystemName, api: Api, sizes: dict[str, int]) -> Measurement:
    ctx.taskyard.reset()
    one, many = job_body(), batch_body(BATCH_SIZE)
    single = closed_loop(lambda: _poster(api, "/v1/jobs", one), sizes["single"], THREADS)
    steady = paced(lambda: _poster(api, "/v1/jobs", one), sizes["paced"], PACED_RATE, THREADS)
    ctx.taskyard.reset()
    batch = closed_loop(lambda: _poster(api, "/v1/jobs/batch", many), sizes["batches"], THREADS)
    ctx.taskyard.reset()
    due_ms = [s * 1000 for s in steady.from_due]
    metrics = {
        **_summary(single, "single"),
        **_summary(batch, "batch", BATCH_SIZE),
        "paced_per_s": steady.rate,
        "paced_p50_ms": percentile(due_ms, 50),
        "paced_p99_ms": percentile(due_ms, 99),
    }
    samples = {"single_ms": [s * 1000 for s in single.latencies], "paced_ms": due_ms}
    return Measurement("api", system, 0, metrics, sizes, samples)


def _bare(ctx: Context, sizes: dict[str, int]) -> Measurement:
    bare = ctx.bare
    bare.reset()

    def send_one() -> Call:
        def call() -> None:
            bare.app.send_task(bare_app.NOOP, queue="default")

        return call

    def send_batch() -> Call:
        return lambda: bare.publish(NOOP, BATCH_SIZE, "default")

    single = closed_loop(send_one, sizes["single"], THREADS)
    bare.reset()
    batch = closed_loop(send_batch, sizes["batches"], THREADS)
    bare.reset()
    metrics = {**_summary(single, "single"), **_summary(batch, "batch", BATCH_SIZE)}
    samples = {"single_ms": [s * 1000 for s in single.latencies]}
    return Measurement("api", "bare", 0, metrics, sizes, samples)


def run(ctx: Context) -> Iterator[Measurement]:
    """One API serves every repeat (a second one the speedups-off repeats). A warm-up at the
    measured concurrency comes first: the API processes open their store connections and
    threads as the first requests need them, and a cold first repeat measured that instead
    of the API."""
    sizes = {
        "single": ctx.plan.size(SINGLE_CALLS, SINGLE_CALLS, minimum=200),
        "paced": ctx.plan.size(PACED_CALLS, PACED_CALLS, minimum=250),
        "batches": ctx.plan.size(BATCHES, BATCHES, minimum=4),
        "batch_size": BATCH_SIZE,
        "threads": THREADS,
    }
    with running_api(ctx.taskyard) as fast, running_api(ctx.plain, "api-plain") as plain:
        apis = {"taskyard": fast, "plain": plain}
        for api in apis.values():
            _warm_up(api)
        ctx.taskyard.reset()
        for repeat in range(1, ctx.plan.repeats + 1):
            for system in ctx.in_turn(repeat, plain=True):
                if system.name == "bare":
                    measurement = _bare(ctx, sizes)
                else:
                    measurement = _taskyard(ctx, system.name, apis[system.name], sizes)
                measurement.repeat = repeat
                yield measurement


def _warm_up(api: Api) -> None:
    closed_loop(lambda: _poster(api, "/v1/jobs", job_body()), WARM_UP_CALLS, THREADS)
    closed_loop(lambda: _poster(api, "/v1/jobs/batch", batch_body(BATCH_SIZE)), THREADS, THREADS)


WORKLOAD = Workload(
    name="api",
    title="4. Producer API, 16 threads over loopback (bare: send_task from 16 threads)",
    metrics=(
        Metric("single_per_s", "single: requests/s (closed loop)"),
        lower_is_better("single_p50_ms", "single: p50 ms"),
        lower_is_better("single_p99_ms", "single: p99 ms"),
        Metric(
            "paced_per_s",
            "single at 500/s: achieved requests/s",
            Target("≥ 475/s", lambda t, b: t >= 475),
        ),
        lower_is_better("paced_p50_ms", "single at 500/s: p50 ms (from due time)"),
        lower_is_better(
            "paced_p99_ms",
            "single at 500/s: p99 ms (from due time)",
            Target("< 20 ms", lambda t, b: t < 20),
        ),
        Metric(
            "batch_per_s",
            f"batch of {BATCH_SIZE:,}: jobs/s",
            Target("≥ 10,000/s", lambda t, b: t >= 10_000),
        ),
        lower_is_better("batch_p50_ms", "batch: p50 ms per request"),
        lower_is_better("batch_p99_ms", "batch: p99 ms per request"),
    ),
    run=run,
    method="`taskyard api` as in the Procfile (2 uvicorn processes), warmed up with 300 "
    "requests and 16 batches from 16 threads; 16 client threads with keep-alive connections; "
    "closed loop for the rates; the paced run makes one request due every 2 ms and counts "
    "latency from the due time (no coordinated omission); batches are requests of 1,000 jobs. "
    "A second `taskyard api` with TASKYARD_SPEEDUPS=off is measured the same way. "
    "Bare Celery: send_task from 16 threads (batches: 1,000 per producer).",
)
