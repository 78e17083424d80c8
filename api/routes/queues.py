"""Queue depths, per public priority."""

from __future__ import annotations

from fastapi import APIRouter
from kombu.exceptions import OperationalError
from redis.exceptions import RedisError

from api.auth import ReadKey
from api.schemas import QueueOut, QueuesOut, error_responses
from workers.errors import BrokerUnavailable
from workers.queue_depth import queue_depths

router = APIRouter(prefix="/v1/queues", tags=["queues"])


@router.get("", summary="Queue depths", responses=error_responses(401, 403, 503))
def list_queues(key: ReadKey) -> QueuesOut:
    """Messages waiting in each queue, most urgent queue first; priorities 9 (most urgent) to 0."""
    try:
        depths = queue_depths()
    except (RedisError, OperationalError, OSError) as error:
        raise BrokerUnavailable("the broker is unreachable; try again shortly") from error
    return QueuesOut(
        queues=[
            QueueOut(
                name=depth.name,
                depth=depth.depth,
                by_priority={str(priority): n for priority, n in depth.by_priority.items()},
            )
            for depth in depths
        ]
    )
