"""Queue depths per public priority, and pausing a queue (workers stop consuming it)."""

from __future__ import annotations

from fastapi import APIRouter

from api.auth import AdminKey, ReadKey
from api.errors import ApiProblem
from api.schemas import QueueOut, QueuePatch, QueuePauseOut, QueuesOut, error_responses
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


@router.patch(
    "/{queue}",
    summary="Pause or resume a queue",
    responses=error_responses(401, 403, 404, 422, 503),
)
def update_queue(queue: str, body: QueuePatch, key: AdminKey) -> QueuePauseOut:
    """`{"paused": true}`: workers stop consuming the queue, now and when they start later;
    jobs can still be enqueued and wait. `{"paused": false}`: the workers started for it
    consume it again (waiting jobs run). Idempotent, as pausing schedules and alert rules is.
    ``workers`` names the workers that confirmed. Needs `admin`."""
    action = worker_control.pause_queue if body.paused else worker_control.resume_queue
    with broker_reached():
        workers = action(_known(queue))
    return QueuePauseOut(name=queue, paused=body.paused, workers=workers)
