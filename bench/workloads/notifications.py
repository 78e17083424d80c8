"""7. Notification deliveries: webhooks to a sink on loopback (a threaded HTTP server in this
process), each with its record and its claim in the store, beside bare Celery tasks that make
only the same POST; then through a channel limited to 100 a second, the rate achieved and the
duplicates the sink saw (counted by ``Idempotency-Key``).

The limited half needs the channel setting ``rate_limit``: until it exists it is left out,
and the report says so."""

from __future__ import annotations

import secrets
import time
import uuid
from collections import Counter
from collections.abc import Iterator

import sqlalchemy as sa

from bench.bare_app import POST
from bench.bare_side import BareSystem
from bench.model import Context, Measurement, Metric, Target, Workload, lower_is_better
from bench.stack import BIN, BenchError, cpu_seconds, spawn
from bench.system import CHUNK, System, poll, unacked, waiting
from bench.taskyard_side import TaskyardSystem
from tasks.notifications import notify, store
from tasks.notifications.channels import WebhookConfig, parse_config
from tasks.notifications.notify import NotificationRequest
from tests.support.sinks import HttpSink, http_sink
from workers.store.engine import get_engine
from workers.store.models import Delivery

ISSUE_SIZE = 1_000
#: Cut to keep `make bench` within 15 minutes: Taskyard sends a few dozen webhooks a second.
DEFAULT_SIZE = 400
DEFAULT_LIMITED_SIZE = 500
QUEUE = "default"
CONCURRENCY = 2
LIMIT_PER_S = 100
#: The channels' webhook secret (the sink does not check signatures).
SECRET = secrets.token_urlsafe(24)
OPEN = "bench-hook"
LIMITED = "bench-hook-limited"


def _at_least(ratio: float) -> Target:
    return Target(f"≥ {ratio:g}x bare", lambda t, b: b is not None and t >= ratio * b)


def _duplicates(sink: HttpSink) -> int:
    keys = Counter(r.headers.get("Idempotency-Key", "") for r in sink.received)
    return sum(keys.values()) - len(keys)


def _sent() -> int:
    query = sa.select(sa.func.count()).where(Delivery.status == "sent")
    with get_engine().connect() as connection:
        return int(connection.execute(query).scalar_one())


def _fill_taskyard(channel: str, count: int) -> None:
    for n in range(count):
        notify.send(NotificationRequest(channels=(channel,), subject=f"bench {n}", text="hi"))


def _fill_bare(bare: BareSystem, url: str, count: int) -> None:
    app = bare.app
    for start in range(0, count, CHUNK):
        with app.producer_or_acquire() as producer:
            for _ in range(min(CHUNK, count - start)):
                app.send_task(POST, args=[url, uuid.uuid4().hex], queue=QUEUE, producer=producer)


def _open_run(system: System, sink: HttpSink, count: int) -> dict[str, float]:
    """Fill the queue, start the worker, and time its first fetch until every webhook is at
    the sink and every message acknowledged (for Taskyard, every delivery recorded ``sent``)."""
    system.reset()
    sink.clear()
    began = time.monotonic()
    if isinstance(system, BareSystem):
        _fill_bare(system, f"{sink.url}/bare", count)
    else:
        _fill_taskyard(OPEN, count)
    filled = time.monotonic()
    with system.worker([QUEUE], "default", CONCURRENCY, ready=False) as worker:
        start = poll(lambda: waiting(system, [QUEUE]) < count, "the first fetch", 60, 0.002)
        cpu_at_start = cpu_seconds(worker.pid)
        # Every webhook at the sink and every message acknowledged: a message between Redis's
        # list and kombu's unacked hash is in neither, so an empty queue alone is not the end.
        end = poll(
            lambda: len(sink.seen) >= count and unacked(system) == 0,
            f"{system.label} to send {count} webhooks",
            timeout=60 + count / 10,
        )
        cpu_s = cpu_seconds(worker.pid) - cpu_at_start
    if isinstance(system, TaskyardSystem) and _sent() != count:
        raise BenchError(f"{count - _sent()} deliveries not recorded sent once acknowledged")
    return {
        "deliveries_per_s": count / (end - start),
        "duplicates": float(_duplicates(sink)),
        "fill_per_s": count / (filled - began),
        "worker_cpu_ms": 1000 * cpu_s / count,
    }


def _limited_run(taskyard: TaskyardSystem, sink: HttpSink, count: int) -> dict[str, float]:
    """Record ``count`` deliveries to the limited channel, then let a worker (prefork x2) and
    a dispatcher (which publishes the deliveries the limit deferred) send them all."""
    taskyard.reset()
    sink.clear()
    _fill_taskyard(LIMITED, count)
    dispatcher = [str(BIN / "taskyard"), "dispatcher"]
    log = taskyard.services.logs / "taskyard-dispatcher.log"
    worker = taskyard.worker([QUEUE], "default", CONCURRENCY, ready=False)
    with spawn(dispatcher, log, taskyard.env), worker:
        poll(lambda: _sent() == count, f"{count} deliveries at {LIMIT_PER_S}/s",
             timeout=60 + 3 * count / LIMIT_PER_S, interval=0.1)  # fmt: skip
    times = sorted(r.at for r in sink.received)
    return {
        "limited_per_s": (len(times) - 1) / (times[-1] - times[0]),
        "limited_duplicates": float(_duplicates(sink)),
    }


def _channels(sink: HttpSink, limited: bool) -> None:
    """The run's channels (its store is new): one open, one limited if channels can be."""
    channels: dict[str, dict[str, str]] = {OPEN: {}}
    if limited:
        channels[LIMITED] = {"rate_limit": f"{LIMIT_PER_S}/second"}
    for name, extra in channels.items():
        config = {"kind": "webhook", "url": f"{sink.url}/{name}", "secret": SECRET, **extra}
        store.create_channel(name, parse_config(config))


def run(ctx: Context) -> Iterator[Measurement]:
    """Each repeat: Taskyard and bare Celery at prefork x2 without a limit, then Taskyard at
    the channel limit."""
    count = ctx.plan.size(ISSUE_SIZE, DEFAULT_SIZE, minimum=200)
    limited_count = ctx.plan.size(ISSUE_SIZE, DEFAULT_LIMITED_SIZE, minimum=500)
    if count < ISSUE_SIZE:
        ctx.note(
            f"Notifications: {count:,} webhooks per repeat, {limited_count:,} at the limit (the "
            f"issue says {ISSUE_SIZE:,}; `--full` restores it) to keep `make bench` within "
            "15 minutes."
        )
    limited = "rate_limit" in WebhookConfig.model_fields
    if not limited:
        ctx.note(
            "Notifications at the channel limit: not measured, channels have no `rate_limit` "
            "setting in this commit."
        )
    params = {"webhooks": count, "queue": QUEUE, "concurrency": CONCURRENCY}
    with http_sink() as sink:
        _channels(sink, limited)
        for repeat in range(1, ctx.plan.repeats + 1):
            for system in ctx.in_turn(repeat):
                metrics = _open_run(system, sink, count)
                yield Measurement("notifications", system.name, repeat, metrics, params)
            if limited:
                metrics = _limited_run(ctx.taskyard, sink, limited_count)
                limit = {**params, "webhooks": limited_count, "limit_per_s": LIMIT_PER_S}
                yield Measurement("notifications", "taskyard", repeat, metrics, limit)


WORKLOAD = Workload(
    name="notifications",
    title="7. Notifications: webhooks to a local sink, open and at a 100/s channel limit",
    metrics=(
        Metric(
            "deliveries_per_s",
            "webhooks/s, prefork x2 (Taskyard: notify.send's records, claims, signed POSTs)",
            _at_least(0.7),
        ),
        lower_is_better("duplicates", "webhooks the sink received twice"),
        Metric("fill_per_s", "filling: notifications (or bare tasks) sent/s from one caller"),
        lower_is_better(
            "worker_cpu_ms",
            "CPU ms per webhook, every worker process (first fetch to the last acknowledgement)",
        ),
        Metric(
            "limited_per_s",
            f"webhooks/s through a {LIMIT_PER_S}/second channel (first to last at the sink)",
            Target("≥ 95/s", lambda t, b: t >= 95),
        ),
        lower_is_better(
            "limited_duplicates",
            "webhooks the sink received twice, at the limit",
            Target("0", lambda t, b: t == 0),
        ),
    ),
    run=run,
    method="notifications recorded first through notify.send (one delivery each, its job "
    "published), bare Celery's tasks sent first with send_task; the clock runs from the "
    "worker's first fetch until every webhook is at the sink and every message acknowledged "
    "(Taskyard's deliveries all `sent` then). Each webhook is one POST to a threaded HTTP "
    "server in the bench process (HTTP/1.0: a connection per request): Taskyard's sender "
    "keeps an httpx client per host name in each pool process (requests pinned to the "
    "checked address), bare Celery's task one per pool process. At the "
    "limit, a worker at prefork x2 and `taskyard dispatcher` send the deliveries; the rate "
    "runs from the sink's first receipt to its last.",
)
