"""Queue depths per public priority, and pausing a queue (workers stop consuming it)."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import APIRouter

from api.auth import AdminKey, ReadKey
from api.errors import ApiProblem
from api.schemas import QueueOut, QueuePauseOut, QueuesOut, error_responses
from workers import pausing, worker_control
from workers.health import broker_reached
from workers.queue_depth import queue_depths
from workers.queues import QUEUE_ORDER

router = APIRouter(prefix="/v1/queues", tags=["queues"])


@router.get("", summary="Queue depths", responses=error_responses(401, 403, 503))
def list_queues(key: ReadKey) -> QueuesOut:
    """Messages waiting in each queue, most urgent queue first; priorities 9 (most urgent) to 0;
    whether it is paused."""
    with broker_reached():
        depths = queue_depths()
        paused = pausing.paused_queues()
    return QueuesOut(
        queues=[
            QueueOut(
                name=depth.name,
                depth=depth.depth,
                by_priority={str(priority): n for priority, n in depth.by_priority.items()},
                paused=depth.name in paused,
            )
            for depth in depths
        ]
    )


def _known(name: str) -> str:
    if name not in {queue.value for queue in QUEUE_ORDER}:
        known = ", ".join(queue.value for queue in QUEUE_ORDER)
        raise ApiProblem(404, "queue_not_found", f"no queue {name!r}; the queues are {known}")
    return name


def _act(name: str, action: Callable[[str], list[str]], paused: bool) -> QueuePauseOut:
    with broker_reached():
        workers = action(_known(name))
    return QueuePauseOut(name=name, paused=paused, workers=workers)


@router.post(
    "/{name}/pause", summary="Pause a queue", responses=error_responses(401, 403, 404, 503)
)
def pause(name: str, key: AdminKey) -> QueuePauseOut:
    """Workers stop consuming the queue, now and when they start later; jobs can still be
    enqueued and wait. Idempotent. ``workers`` names the workers that confirmed."""
    return _act(name, worker_control.pause_queue, paused=True)


@router.post(
    "/{name}/resume", summary="Resume a queue", responses=error_responses(401, 403, 404, 503)
)
def resume(name: str, key: AdminKey) -> QueuePauseOut:
    """The workers started for the queue consume it again (waiting jobs run). Idempotent."""
    return _act(name, worker_control.resume_queue, paused=False)
