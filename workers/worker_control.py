"""Reading and acting on the workers through Celery's control API: what each worker's
consumer is doing, whether it still consumes, and pausing or resuming a queue.

Every worker answers the ``taskyard_worker`` control command (:mod:`workers.consumers`) with
the queues it was started for and those it consumes now, its concurrency, the jobs it holds
and runs, how many it processed, and when its consumer last fetched a message.
:func:`worker_problems` turns that, the paused queues, and what waits in each queue into one
line per problem: the check behind ``taskyard workers check`` and the workers' health probe.

A worker is **stalled** when one of the queues it consumes has held a message for longer than
``stall_after_s`` (the broker holds messages and the oldest queued job has waited that long)
while the worker has a free slot and its consumer has fetched nothing for that long either: a
consumer that answers control commands but no longer fetches (the classic Celery failure after
a broker reset). A worker whose every slot is taken is busy, not stalled.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from workers.app import app
from workers.pausing import mark_paused, paused_queues
from workers.queue_depth import oldest_queued_ages, queue_depths
from workers.signals import worker_profile

log = logging.getLogger(__name__)

#: The worker profiles of the Procfile (the node name before ``@``) and the queues each consumes.
WORKER_PROFILES: dict[str, tuple[str, ...]] = {
    "realtime": ("critical", "high"),
    "default": ("default",),
    "bulk": ("bulk",),
}
DEFAULT_REPLY_S = 2.0
DEFAULT_STALL_AFTER_S = 60.0


@dataclass(frozen=True)
class WorkerView:
    """One worker as it answered: ``held`` counts the jobs it took (running or waiting for a
    slot), ``fetch_age_s`` the seconds since its consumer last fetched (or since it started)."""

    node: str
    own: tuple[str, ...]
    consuming: tuple[str, ...]
    concurrency: int
    held: int
    active: int
    processed: int
    uptime_s: float
    fetch_age_s: float

    @property
    def profile(self) -> str:
        """The node name before ``@`` (``realtime@host`` -> ``realtime``)."""
        return worker_profile(self.node)


def _view(node: str, answer: Mapping[str, Any], now: float) -> WorkerView:
    return WorkerView(
        node=node,
        own=tuple(answer["own"]),
        consuming=tuple(sorted(answer["consuming"])),
        concurrency=int(answer["concurrency"]),
        held=int(answer["held"]),
        active=int(answer["active"]),
        processed=int(answer["processed"]),
        uptime_s=max(0.0, now - float(answer["started_at"])),
        fetch_age_s=max(0.0, now - float(answer["fetched_at"])),
    )


def observe_workers(
    timeout_s: float = DEFAULT_REPLY_S, destination: Sequence[str] | None = None
) -> list[WorkerView]:
    """Every worker (or those of ``destination``) that answers within ``timeout_s``, by node."""
    replies = app.control.broadcast(
        "taskyard_worker", reply=True, timeout=timeout_s,
        destination=list(destination) if destination else None,
        limit=len(destination) if destination else None,
    ) or []  # fmt: skip
    now = time.time()
    views = [
        _view(node, answer, now)
        for reply in replies
        for node, answer in reply.items()
        if isinstance(answer, dict) and "own" in answer
    ]
    return sorted(views, key=lambda view: view.node)


@dataclass(frozen=True)
class QueueState:
    """What waits in one queue: messages in the broker, the oldest queued job's age (store),
    and whether it is paused."""

    name: str
    depth: int
    oldest_age_s: float
    paused: bool = False


def queue_states(with_ages: bool = True) -> dict[str, QueueState]:
    """Every queue by name, most urgent first; without the store (``with_ages=False``) every
    oldest age is 0. Broker, Redis and store errors propagate."""
    depths, paused = queue_depths(), paused_queues()
    ages = oldest_queued_ages() if with_ages else {}
    return {
        d.name: QueueState(d.name, d.depth, ages.get(d.name, 0.0), d.name in paused) for d in depths
    }


def stalled_on(
    view: WorkerView, queues: Mapping[str, QueueState], stall_after_s: float
) -> list[str]:
    """The queues ``view`` consumes whose jobs have waited past ``stall_after_s`` while it had a
    free slot and fetched nothing for as long: empty when it is not stalled."""
    if view.held >= view.concurrency or view.fetch_age_s <= stall_after_s:
        return []
    return [
        name
        for name in view.consuming
        if name in queues and queues[name].depth > 0 and queues[name].oldest_age_s > stall_after_s
    ]


def worker_problems(
    view: WorkerView, queues: Mapping[str, QueueState], stall_after_s: float
) -> list[str]:
    """One line per problem of one worker that answered: a queue of its own it does not consume
    though it is not paused, or a stalled consumer (:func:`stalled_on`)."""
    problems = [
        f"{view.node} does not consume {name}, which is not paused (its consumer was cancelled "
        f"or lost): restart the worker, or `taskyard queues resume {name}`"
        for name in view.own
        if name not in view.consuming and not (name in queues and queues[name].paused)
    ]
    stalled = stalled_on(view, queues, stall_after_s)
    if stalled:
        waited = max(queues[name].oldest_age_s for name in stalled)
        problems.append(
            f"{view.node} is stalled: {', '.join(stalled)} holds jobs waiting {waited:.0f} s, "
            f"and it has fetched nothing for {view.fetch_age_s:.0f} s with "
            f"{view.concurrency - view.held} free slots: restart the worker"
        )
    return problems


def missing_profiles(views: Sequence[WorkerView], profiles: Sequence[str]) -> list[str]:
    """One line per profile of ``profiles`` that no answering worker serves."""
    live = {view.profile for view in views}
    return [
        f"no {profile} worker answers (queues {', '.join(WORKER_PROFILES.get(profile, ()))}): "
        f"start one (the Procfile's worker-{profile})"
        for profile in profiles
        if profile not in live
    ]


def pause_queue(queue: str) -> list[str]:
    """Pause ``queue``: record it, then tell every worker to stop consuming it. Returns the
    workers that confirmed (a worker that misses the word leaves it out at its next start)."""
    mark_paused(queue, paused=True)
    replies = app.control.cancel_consumer(queue, reply=True, timeout=DEFAULT_REPLY_S) or []
    log.info("queue %s paused", queue, extra={"action": "queue.paused", "queue": queue})
    return sorted(node for reply in replies for node in reply)


def resume_queue(queue: str) -> list[str]:
    """Resume ``queue``: forget the pause, then tell the workers started for it to consume it
    again. Returns those workers."""
    mark_paused(queue, paused=False)
    owners = [view.node for view in observe_workers() if queue in view.own]
    if owners:
        app.control.add_consumer(
            queue, destination=owners, reply=True, timeout=DEFAULT_REPLY_S, limit=len(owners)
        )
    log.info("queue %s resumed", queue, extra={"action": "queue.resumed", "queue": queue})
    return owners
