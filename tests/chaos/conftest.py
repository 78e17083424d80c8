"""Chaos tests run real processes with short reliability timers, so recovery fits in seconds."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.runtime import taskyard_runtime
from tests.support.services import RedisServer

#: Heartbeats every 0.5 s, presumed lost after 3 s, Redis redelivery after 6 s, messages lost
#: in transit looked for after 3 s.
FAST_RECOVERY = {
    "TASKYARD_LOST_MESSAGE_AFTER_S": "3",
    "TASKYARD_HEARTBEAT_INTERVAL_S": "0.5",
    "TASKYARD_STALE_AFTER_S": "3",
    "TASKYARD_VISIBILITY_TIMEOUT_S": "6",
    "TASKYARD_DISPATCHER_INTERVAL_S": "0.2",
}


@pytest.fixture(scope="module")
def chaos_runtime(
    redis_service: RedisServer, redis_db: int, preferred_database_url: str
) -> Iterator[None]:
    """The module's Redis database and store, with :data:`FAST_RECOVERY` timers."""
    env = {
        "TASKYARD_BROKER_URL": redis_service.url(redis_db),
        "TASKYARD_DATABASE_URL": preferred_database_url,
        "TASKYARD_LOG_FORMAT": "text",
        **FAST_RECOVERY,
    }
    with taskyard_runtime(env):
        yield
