"""``taskyard queues``: what waits in each queue, and pausing one (workers stop consuming it;
jobs can still be enqueued and wait)."""

from __future__ import annotations

from collections.abc import Callable

import click

from cli.options import QUEUES
from cli.output import CliError, Rows, console, plural, seconds
from workers import worker_control
from workers.errors import BrokerUnavailable
from workers.health import broker_reached
from workers.worker_control import QueueState

BROKER_DOWN = (
    "the broker or Redis is unreachable (TASKYARD_BROKER_URL, TASKYARD_REDIS_URL); "
    "start it or fix the URL"
)


def queue_lines() -> list[QueueState]:
    """Every queue, most urgent first: depth (broker), oldest queued age (store), paused."""
    try:
        with broker_reached():
            return list(worker_control.queue_states().values())
    except BrokerUnavailable:
        raise CliError(BROKER_DOWN) from None


QUEUE_ROWS: Rows[QueueState] = Rows(
    ("queue", "depth", "oldest queued", "state"),
    lambda q: (q.name, str(q.depth), seconds(q.oldest_age_s), "paused" if q.paused else "active"),
)


@click.group()
def queues() -> None:
    """Queues: what waits in each, and pausing one (its jobs wait until it is resumed)."""


@queues.command(name="list")
def list_() -> None:
    """Each queue's depth, how long its oldest queued job has waited, and whether it is paused."""
    console().print(QUEUE_ROWS.table(queue_lines()))


def _act(queue: str, action: Callable[[str], list[str]], done: str) -> None:
    try:
        with broker_reached():
            workers = action(queue)
    except BrokerUnavailable:
        raise CliError(BROKER_DOWN) from None
    told = ", ".join(workers) if workers else "no worker answered"
    click.echo(f"Queue {queue} is {done} ({plural(len(workers), 'worker')} told: {told}).")


@queues.command()
@click.argument("queue", type=QUEUES)
def pause(queue: str) -> None:
    """Stop every worker consuming QUEUE, now and when one starts later. Jobs can still be
    enqueued and wait; running jobs finish. Idempotent."""
    _act(queue, worker_control.pause_queue, "paused")


@queues.command()
@click.argument("queue", type=QUEUES)
def resume(queue: str) -> None:
    """Let the workers started for QUEUE consume it again; waiting jobs run. Idempotent."""
    _act(queue, worker_control.resume_queue, "resumed")
