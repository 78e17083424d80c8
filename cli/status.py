"""``taskyard status``: one screen that says whether all is well, each line ok, warn or FAIL with
what to do next; ``taskyard top`` refreshes it in place.

What it reads, and from where: the API's ``/readyz``; the store (its migrations, overdue jobs,
new dead letters and failed deliveries, firing alerts, the last maintenance runs); the broker
and Redis (queue depths, paused queues, beat's leader lock); the workers (Celery's control
API, :mod:`workers.worker_control`).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict
from datetime import timedelta

import click
from rich.console import Group
from rich.live import Live
from rich.table import Table
from rich.text import Text
from sqlalchemy import ColumnElement, func, select

from cli.doctor import Check, api_check, broker_check, store_check
from cli.output import CliError, console, plural, seconds, table
from schedules.leader import LEADER_KEY
from tasks.alerts.states import AlertState
from tasks.maintenance.runs import RunOutcome, recent_runs
from tasks.notifications.states import DeliveryStatus
from workers import worker_control
from workers.locks import holder_of
from workers.redis_client import shared_redis
from workers.settings import Settings, get_settings
from workers.store.engine import session_scope
from workers.store.models import AlertInstance, Delivery, Job, JobStatus
from workers.store.types import utcnow
from workers.worker_control import DEFAULT_STALL_AFTER_S, WORKER_PROFILES, QueueState

#: "New" dead letters and failed deliveries: those of the last hour.
RECENT = timedelta(hours=1)
#: A delayed or retrying job this much past due means no dispatcher publishes.
OVERDUE_S = 30.0
REPLY_S = 2.0
#: ``taskyard top``: seconds between refreshes, and the most refreshes before it stops.
TOP_INTERVAL_S = 2.0
TOP_MOST = 10_000


def _guarded(name: str, probe: Callable[[], list[Check]]) -> list[Check]:
    """The checks ``probe`` makes; one FAIL line naming the error when it cannot make them."""
    try:
        return probe()
    except Exception as error:  # status reports every failure as a line; it never stops
        return [Check(name, "FAIL", f"cannot tell ({type(error).__name__})", "see the lines above")]


def _beat() -> list[Check]:
    holder = holder_of(shared_redis(get_settings().locks_url), LEADER_KEY)
    if holder is None:
        return [Check("beat", "FAIL", "no beat holds the leader lock: schedules do not fire",
                      "start beat (the Procfile's beat line)")]  # fmt: skip
    return [Check("beat", "ok", f"leader {holder.rsplit(':', 1)[0]}")]


def _count(*where: ColumnElement[bool]) -> int:
    with session_scope() as session:
        return session.scalar(select(func.count()).select_from(Job).where(*where)) or 0


def _dispatcher() -> list[Check]:
    due_by = utcnow() - timedelta(seconds=OVERDUE_S)
    waiting = (JobStatus.SCHEDULED.value, JobStatus.RETRYING.value)
    overdue = _count(Job.status.in_(waiting), Job.run_at < due_by)
    if overdue:
        return [Check("dispatcher", "FAIL",
                      f"{plural(overdue, 'delayed or retrying job')} overdue by {OVERDUE_S:.0f} s",
                      "start `taskyard dispatcher` (the Procfile's dispatcher line)")]  # fmt: skip
    return [Check("dispatcher", "ok", "no delayed or retrying job is overdue")]


def _workers(queues: dict[str, QueueState]) -> list[Check]:
    views = worker_control.observe_workers(REPLY_S)
    checks = []
    for profile, own in WORKER_PROFILES.items():
        live = [view for view in views if view.profile == profile]
        paused = [name for name in own if queues[name].paused]
        note = f"; paused: {', '.join(paused)}" if paused else ""
        problems = [p for view in live for p in worker_control.worker_problems(
            view, queues, DEFAULT_STALL_AFTER_S)]  # fmt: skip
        if not live:
            checks.append(Check(f"workers {profile}", "FAIL", f"none answers{note}",
                                f"start the Procfile's worker-{profile}"))  # fmt: skip
        elif problems:
            checks.append(Check(f"workers {profile}", "FAIL", "; ".join(problems),
                                "`taskyard workers list` shows them"))  # fmt: skip
        else:
            detail = f"{len(live)} live{note}"
            if paused:
                resume = f"`taskyard queues resume {paused[0]}` when ready"
                checks.append(Check(f"workers {profile}", "warn", detail, resume))
            else:
                checks.append(Check(f"workers {profile}", "ok", detail))
    return checks


def _queues(queues: dict[str, QueueState]) -> list[Check]:
    checks = []
    for q in queues.values():
        detail = f"{q.depth} waiting, oldest {seconds(q.oldest_age_s)}"
        if q.paused:
            checks.append(Check(f"queue {q.name}", "warn", f"paused; {detail}",
                                f"`taskyard queues resume {q.name}`"))  # fmt: skip
        elif q.oldest_age_s > DEFAULT_STALL_AFTER_S:
            checks.append(Check(f"queue {q.name}", "warn", f"{detail}: jobs wait",
                                "add workers, or `taskyard workers check`"))  # fmt: skip
        else:
            checks.append(Check(f"queue {q.name}", "ok", detail))
    return checks


def _failures() -> list[Check]:
    since = utcnow() - RECENT
    dead = _count(Job.status == JobStatus.DEAD.value, Job.finished_at >= since)
    failing = (DeliveryStatus.FAILED.value, DeliveryStatus.DEAD.value)
    with session_scope() as session:
        lost = session.scalar(select(func.count()).select_from(Delivery).where(
            Delivery.status.in_(failing), Delivery.finished_at >= since)) or 0  # fmt: skip
        firing = session.scalar(select(func.count()).select_from(AlertInstance).where(
            AlertInstance.state == AlertState.FIRING.value)) or 0  # fmt: skip
    return [
        Check("dead letters", "warn", f"{dead} new in the last hour",
              "`taskyard dead-letters list`, then replay or purge") if dead
        else Check("dead letters", "ok", "none new in the last hour"),
        Check("deliveries", "warn", f"{lost} failed in the last hour",
              "`taskyard deliveries list --status dead`") if lost
        else Check("deliveries", "ok", "none failed in the last hour"),
        Check("alerts", "warn", f"{plural(firing, 'alert')} firing",
              "`taskyard alerts list`") if firing
        else Check("alerts", "ok", "none firing"),
    ]  # fmt: skip


def _maintenance() -> list[Check]:
    runs = recent_runs(limit=100)  # newest first: the dict keeps each task's newest
    latest = list({run.name: run for run in reversed(runs)}.values())
    if not latest:
        return [Check("maintenance", "warn", "no run recorded yet", "is beat running?")]
    now = utcnow()
    detail = ", ".join(
        f"{r.name} {r.outcome.value} {seconds((now - r.started_at).total_seconds())} ago"
        for r in sorted(latest, key=lambda run: run.name)
    )
    failed = sorted(run.name for run in latest if run.outcome is RunOutcome.FAILED)
    if failed:
        why = f"`taskyard maintenance runs` shows why {', '.join(failed)} failed"
        return [Check("maintenance", "warn", detail, why)]
    return [Check("maintenance", "ok", detail)]


def gather(settings: Settings) -> list[Check]:
    """Every line of the status screen, in order; a part that needs a failed one is skipped."""
    broker, store = broker_check(settings), store_check(settings)
    checks = [api_check(settings, None), store, broker]
    if broker.status == "FAIL":
        return [*checks, Check("the rest", "skipped", "the broker fails", broker.next_step)]
    checks += _guarded("beat", _beat)
    try:
        queues = worker_control.queue_states(with_ages=store.status != "FAIL")
    except Exception as error:  # reported as a line, like every other failure here
        return [*checks, Check("queues", "FAIL", f"cannot tell ({type(error).__name__})")]
    checks += _guarded("workers", lambda: _workers(queues)) + _queues(queues)
    if store.status == "FAIL":
        return [*checks, Check("the rest", "skipped", "the store fails", store.next_step)]
    checks += _guarded("dispatcher", _dispatcher) + _guarded("failures", _failures)
    return checks + _guarded("maintenance", _maintenance)


def render(checks: list[Check]) -> Table:
    """The status screen as one table."""
    failed = sum(1 for check in checks if check.status == "FAIL")
    caption = f"{plural(failed, 'failure')}" if failed else "all is well"
    rows = [(c.name, c.status, c.detail, c.next_step or "-") for c in checks]
    return table(None, ("part", "status", "detail", "next step"), rows, caption=caption)


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print the lines as JSON.")
def status(as_json: bool) -> None:
    """Whether all is well: the API, store and broker, beat's leader, the dispatcher, workers per
    profile, each queue (depth, oldest, paused), new dead letters and failed deliveries, firing
    alerts, the last maintenance runs. Exits 1 when a line fails."""
    checks = gather(get_settings())
    failed = [check.name for check in checks if check.status == "FAIL"]
    if as_json:
        healthy = not failed
        click.echo(
            json.dumps({"healthy": healthy, "checks": [asdict(c) for c in checks]}, indent=2)
        )
    else:
        console().print(render(checks))
    if failed:
        raise CliError(f"{plural(len(failed), 'part')} failing ({', '.join(failed)}); "
                       "the lines say what to do next")  # fmt: skip


def _frames(interval_s: float, most: int) -> Iterator[Group]:
    for _ in range(most):
        stamp = Text(f"taskyard top: {utcnow():%H:%M:%S} UTC, every {interval_s:g} s; Ctrl-C stops")
        yield Group(stamp, render(gather(get_settings())))
        time.sleep(interval_s)


@click.command()
@click.option(
    "--interval", "interval_s", type=click.FloatRange(0.5, 3600), default=TOP_INTERVAL_S,
    show_default=True, metavar="SECONDS", help="Seconds between refreshes.",
)  # fmt: skip
@click.option(
    "--count", type=click.IntRange(1, TOP_MOST), default=TOP_MOST, show_default=True,
    help="Stop after this many refreshes.",
)  # fmt: skip
def top(interval_s: float, count: int) -> None:
    """`taskyard status`, refreshed in place until Ctrl-C (or --count refreshes)."""
    frames = _frames(interval_s, count)
    try:
        with Live(next(frames), console=console(), auto_refresh=False) as live:
            for frame in frames:
                live.update(frame, refresh=True)
    except KeyboardInterrupt:  # Ctrl-C is how one leaves top
        return
