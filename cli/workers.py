"""``taskyard workers``: every worker and what its consumer does (``list``), and the check a
health probe runs (``check``): every expected worker answers and consumes its queues."""

from __future__ import annotations

from collections.abc import Sequence

import click
from sqlalchemy.exc import SQLAlchemyError

from cli.output import CliError, Listing, plural, seconds
from cli.queues import BROKER_DOWN
from workers import worker_control
from workers.errors import BrokerUnavailable
from workers.health import broker_reached
from workers.worker_control import (
    DEFAULT_REPLY_S,
    DEFAULT_STALL_AFTER_S,
    WORKER_PROFILES,
    QueueState,
    WorkerView,
)

REPLY_OPTION = click.option(
    "--timeout", "timeout_s", type=click.FloatRange(0.5, 60), default=DEFAULT_REPLY_S,
    show_default=True, metavar="SECONDS", help="How long to wait for the workers' replies.",
)  # fmt: skip


def _queues(view: WorkerView, queues: dict[str, QueueState]) -> str:
    names = []
    for name in view.own:
        paused = name in queues and queues[name].paused
        state = " (paused)" if paused else "" if name in view.consuming else " (NOT consumed)"
        names.append(f"{name}{state}")
    return ", ".join(names)


def observed(
    timeout_s: float, nodes: Sequence[str] = ()
) -> tuple[list[WorkerView], dict[str, QueueState]]:
    """The workers that answer (``nodes`` only, when given) and every queue's state; the queue
    ages are left at 0 (never stalled) when the store does not answer."""
    try:
        with broker_reached():
            views = worker_control.observe_workers(timeout_s, nodes)
            try:
                queues = worker_control.queue_states()
            except SQLAlchemyError:
                queues = worker_control.queue_states(with_ages=False)
    except BrokerUnavailable:
        raise CliError(BROKER_DOWN) from None
    return views, queues


@click.group()
def workers() -> None:
    """Workers: what each consumes and how busy it is, and the health check of their consumers."""


@workers.command(name="list")
@REPLY_OPTION
@click.option("--json", "as_json", is_flag=True, help="Print them as JSON.")
def list_(timeout_s: float, as_json: bool) -> None:
    """Every worker that answers: its queues (paused ones marked), concurrency, jobs held and
    running, jobs processed, and how long ago its consumer last fetched a message."""
    views, queues = observed(timeout_s)
    rows: Listing[WorkerView] = Listing(
        ("worker", "profile", "queues", "slots", "held", "running", "processed", "last fetch",
         "up"),
        lambda v: (v.node, v.profile, _queues(v, queues), str(v.concurrency), str(v.held),
                   str(v.active), str(v.processed), f"{seconds(v.fetch_age_s)} ago",
                   seconds(v.uptime_s)),
        lambda v: {**vars(v), "profile": v.profile},
    )  # fmt: skip
    footer = f"{plural(len(views), 'worker')} answered within {timeout_s:g} s"
    empty = f"No worker answered within {timeout_s:g} s; `taskyard workers check` says what to do."
    rows.show(views, as_json, footer, empty, "; `taskyard workers check` judges them")


def problems(
    views: Sequence[WorkerView],
    queues: dict[str, QueueState],
    nodes: Sequence[str],
    profiles: Sequence[str],
    stall_after_s: float,
    timeout_s: float,
) -> list[str]:
    """One line per problem: a node or profile without an answering worker, a worker that does
    not consume its queues, a stalled one."""
    answered = {view.node for view in views}
    found = [
        f"{node} does not answer within {timeout_s:g} s: it is down, or its main process is "
        "blocked (stopped, hung); restart it"
        for node in nodes
        if node not in answered
    ]
    if not nodes:
        found += worker_control.missing_profiles(views, profiles)
    for view in views:
        found += worker_control.worker_problems(view, queues, stall_after_s)
    return found


@workers.command()
@click.option(
    "--node", "nodes", multiple=True, metavar="NAME",
    help="Check only this worker (realtime@host; repeatable), as a health probe does.",
)  # fmt: skip
@click.option(
    "--profile", "profiles", multiple=True, type=click.Choice(sorted(WORKER_PROFILES)),
    help="A profile that must have a worker (repeatable) [default: every profile].",
)  # fmt: skip
@click.option(
    "--stall-after", "stall_after_s", type=click.FloatRange(1, 86_400),
    default=DEFAULT_STALL_AFTER_S, show_default=True, metavar="SECONDS",
    help="A worker with a free slot that fetched nothing for this long while its queue held "
    "jobs waiting this long is stalled.",
)  # fmt: skip
@REPLY_OPTION
def check(
    nodes: tuple[str, ...], profiles: tuple[str, ...], stall_after_s: float, timeout_s: float
) -> None:
    """Exit 0 when every expected worker answers and consumes its queues; else print one line
    per problem and exit 1.

    Problems: a profile (or --node) with no worker answering; a worker that does not consume a
    queue it was started for that is not paused (a cancelled or lost consumer); a stalled
    worker (--stall-after). Paused queues are not problems (`taskyard queues resume`).
    """
    views, queues = observed(timeout_s, nodes)
    found = problems(views, queues, nodes, profiles or sorted(WORKER_PROFILES), stall_after_s,
                     timeout_s)  # fmt: skip
    if found:
        for line in found:
            click.echo(line)
        raise CliError(f"{plural(len(found), 'worker problem')}; the lines above say what to do")
    nodes_seen = ", ".join(view.node for view in views)
    click.echo(f"ok: {plural(len(views), 'worker')} consuming their queues ({nodes_seen})")
