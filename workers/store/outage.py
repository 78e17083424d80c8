"""A cluster-wide note that the store was unreachable a moment ago.

While the store is down, running jobs cannot write heartbeats, so right after it comes back
every heartbeat looks stale. Whoever meets an outage notes it in Redis; the reaper (in the
dispatcher) holds off until two staleness periods have passed.
"""

from __future__ import annotations

import logging

import redis

from workers.redis_client import shared_redis
from workers.settings import get_settings

KEY = "taskyard:store:outage"
log = logging.getLogger(__name__)


def note_outage() -> None:
    """Record that the store just failed (best effort: Redis may be down too)."""
    settings = get_settings()
    hold_ms = int(settings.stale_after_s * 2 * 1000)
    try:
        shared_redis(settings.locks_url).set(KEY, "1", px=hold_ms)
    except redis.RedisError:
        log.warning("could not note a store outage", extra={"action": "store.outage_unnoted"})


def recent_outage() -> bool:
    """Whether a store outage was noted within the last two staleness periods."""
    try:
        return bool(shared_redis(get_settings().locks_url).exists(KEY))
    except redis.RedisError:
        return True  # unknown: do not reap on a guess
