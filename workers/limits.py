"""Cluster-wide limits kept in Redis: rate limits, and concurrency per concurrency key.

Rate limits use the ``limits`` library's moving window, one per job type, notification
channel, API key or client address failing to authenticate (:data:`RateScope`), under
``taskyard:rate:LIMITER/<scope>/<name>/...``; each key expires with its window. Concurrency
uses a small Lua semaphore: a sorted set of holders scored by expiry, so a dead worker's
permit frees itself. Both hand out *permits* ("slot" is a schedule's planned time, in
``schedules/``).
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass
from typing import Literal
from urllib.parse import parse_qs, urlsplit

from limits import RateLimitItem, parse_many
from limits.storage import RedisStorage
from limits.strategies import MovingWindowRateLimiter

from workers.redis_client import shared_redis

KEY_PREFIX = "taskyard"
#: What a rate limit counts: runs of a job type, sends through a notification channel, jobs
#: and requests of an API key, or failed authentications from one client address.
RateScope = Literal["job", "channel", "key", "auth"]
_limiters: dict[tuple[int, str], MovingWindowRateLimiter] = {}

# KEYS[1]: the semaphore; ARGV: holder, limit, ttl in ms. Returns 1 when the holder has a permit.
_ACQUIRE = """
local now = redis.call('TIME')
local now_ms = now[1] * 1000 + math.floor(now[2] / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now_ms)
local held = redis.call('ZSCORE', KEYS[1], ARGV[1])
if held or redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[2]) then
  redis.call('ZADD', KEYS[1], now_ms + tonumber(ARGV[3]), ARGV[1])
  redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[3]) * 2)
  return 1
end
return 0
"""


def limits_storage_uri(url: str) -> str:
    """The ``limits`` storage URI for a Taskyard Redis URL (unix sockets included)."""
    parts = urlsplit(url)
    if parts.scheme == "redis+socket":
        db = parse_qs(parts.query).get("virtual_host", ["0"])[0] or "0"
        return f"redis+unix://{parts.path}?db={db}"
    return url


def parse_rate_limit(text: str) -> RateLimitItem:
    """One ``limits`` rate such as ``20/second`` or ``100 per minute``, else ``ValueError``."""
    try:
        items = parse_many(text)
    except ValueError:
        items = []
    if len(items) != 1 or items[0].amount < 1:
        raise ValueError(
            f"{text!r} is not a rate limit; give one rate such as 20/second or 100/minute"
        )
    return items[0]


def _limiter(url: str) -> MovingWindowRateLimiter:
    key = (os.getpid(), url)
    limiter = _limiters.get(key)
    if limiter is None:
        storage = RedisStorage(limits_storage_uri(url), key_prefix=f"{KEY_PREFIX}:rate")
        limiter = _limiters[key] = MovingWindowRateLimiter(storage)
    return limiter


@dataclass(frozen=True)
class RateWindow:
    """Where a rate limit stands after a request: whether it was allowed, the permits the
    window holds and has left, and the seconds until one frees (``RateLimit-*`` headers)."""

    allowed: bool
    limit: int
    remaining: int
    reset_s: int


def take_rate_permits(
    url: str, scope: RateScope, name: str, item: RateLimitItem, cost: int = 1
) -> RateWindow:
    """Take ``cost`` permits of ``name``'s window, all or none; ``cost`` 0 only looks."""
    limiter = _limiter(url)
    allowed = (
        limiter.test(item, scope, name) if cost == 0 else limiter.hit(item, scope, name, cost=cost)
    )
    stats = limiter.get_window_stats(item, scope, name)
    reset_s = max(1, math.ceil(stats.reset_time - time.time()))
    return RateWindow(allowed, item.amount, stats.remaining, reset_s)


def take_rate_permit(url: str, scope: RateScope, name: str, item: RateLimitItem) -> float | None:
    """Count one run of job type (or one send through channel) ``name``; ``None`` if allowed,
    else seconds until a permit frees."""
    limiter = _limiter(url)
    if limiter.hit(item, scope, name):
        return None
    stats = limiter.get_window_stats(item, scope, name)
    return max(0.05, stats.reset_time - time.time())


def semaphore_key(job_type: str, concurrency_key: str) -> str:
    """The Redis key of one concurrency group."""
    return f"{KEY_PREFIX}:concurrency:{job_type}:{concurrency_key}"


def acquire_permit(url: str, key: str, holder: str, limit: int, ttl_s: float) -> bool:
    """Take (or refresh) ``holder``'s permit in semaphore ``key``; False when all are taken."""
    client = shared_redis(url)
    return bool(client.eval(_ACQUIRE, 1, key, holder, limit, int(ttl_s * 1000)))


def release_permit(url: str, key: str, holder: str) -> None:
    """Give ``holder``'s permit back."""
    shared_redis(url).zrem(key, holder)
