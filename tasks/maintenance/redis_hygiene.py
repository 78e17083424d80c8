"""``maintenance.redis_hygiene``: remove Taskyard's orphaned Redis keys and report memory.

Orphans are keys that would never go away on their own: lock keys (``taskyard:lock:*`` and
beat's leader key), rate-limit keys (job types' and channels') and circuit breakers
(``taskyard:breaker:*``, ``tasks/notifications/guards.py``) without a TTL, and concurrency
semaphores (``workers/limits.py``) whose holders have all expired. Keys are found with one
``SCAN`` of ``taskyard:*`` (never ``KEYS``), and each is checked and deleted in one Lua call,
so a key that comes alive meanwhile is left alone. The Redis is the one holding locks and limits
(``TASKYARD_REDIS_URL``, else the Redis broker).
"""

from __future__ import annotations

from typing import Any, cast

import redis

from tasks.maintenance.runs import RunResult, maintenance_task, run_maintenance
from workers.limits import KEY_PREFIX
from workers.locks import LOCK_PREFIX
from workers.redis_client import shared_redis
from workers.settings import get_settings

NAME = "redis_hygiene"
LOCK_TTL_S = 600
TIME_LIMIT_S = 1200
SCAN_COUNT = 500

# Deletes KEYS[1] when it exists without a TTL (PTTL -1; -2 means it is already gone).
_DROP_IF_NO_TTL = """
if redis.call('PTTL', KEYS[1]) == -1 then return redis.call('DEL', KEYS[1]) end
return 0
"""
# Deletes semaphore KEYS[1] when no holder's expiry (its score, in ms) is in the future.
_DROP_IF_NO_HOLDER = """
if redis.call('TYPE', KEYS[1]).ok ~= 'zset' then return 0 end
local now = redis.call('TIME')
local now_ms = now[1] * 1000 + math.floor(now[2] / 1000)
if redis.call('ZCOUNT', KEYS[1], string.format('(%d', now_ms), '+inf') == 0 then
  return redis.call('DEL', KEYS[1])
end
return 0
"""

#: The beat leader lock (schedules/leader.py); it always carries a TTL unless something broke.
BEAT_LEADER_KEY = f"{KEY_PREFIX}:beat:leader"
#: (figure, key prefix, script deleting an orphan) for each family of keys.
FAMILIES = (
    ("locks", LOCK_PREFIX, _DROP_IF_NO_TTL),
    ("semaphores", f"{KEY_PREFIX}:concurrency:", _DROP_IF_NO_HOLDER),
    ("rate_keys", f"{KEY_PREFIX}:rate", _DROP_IF_NO_TTL),
    ("breakers", f"{KEY_PREFIX}:breaker:", _DROP_IF_NO_TTL),
)


def family_of(key: str) -> tuple[str, str] | None:
    """The (figure, script) of a Taskyard key hygiene looks after, or ``None``."""
    if key == BEAT_LEADER_KEY:
        return "locks", _DROP_IF_NO_TTL
    for figure, prefix, script in FAMILIES:
        if key.startswith(prefix):
            return figure, script
    return None


def sweep(client: redis.Redis, scan_count: int, figures: dict[str, Any]) -> None:
    """One SCAN over Taskyard's keys; counts each family's keys and removes its orphans."""
    for figure, _, _ in FAMILIES:
        figures[figure] = figures[f"removed_{figure}"] = 0
    for key in client.scan_iter(match=f"{KEY_PREFIX}:*", count=scan_count):
        found = family_of(key.decode("utf-8", "replace") if isinstance(key, bytes) else str(key))
        if found is None:
            continue
        figure, script = found
        figures[figure] += 1
        figures[f"removed_{figure}"] += int(cast(int, client.eval(script, 1, key)))


def memory_figures(client: redis.Redis, prefix: str = "") -> dict[str, Any]:
    """``used_memory``, ``maxmemory`` (0: no limit) and the key count of ``client``'s database."""
    info = cast(dict[str, Any], client.info("memory"))
    return {
        f"{prefix}used_memory": int(info.get("used_memory", 0)),
        f"{prefix}used_memory_peak": int(info.get("used_memory_peak", 0)),
        f"{prefix}maxmemory": int(info.get("maxmemory", 0)),
        f"{prefix}keys": int(cast(int, client.dbsize())),
    }


def clean_redis(figures: dict[str, Any], scan_count: int = SCAN_COUNT) -> None:
    """Remove orphaned keys and fill ``figures`` with what was seen, removed and used."""
    settings = get_settings()
    client = shared_redis(settings.locks_url)
    sweep(client, scan_count, figures)
    figures.update(memory_figures(client))
    if settings.broker_family == "redis" and settings.broker_url != settings.locks_url:
        figures.update(memory_figures(shared_redis(settings.broker_url), "broker_"))


def redis_hygiene(scan_count: int = SCAN_COUNT) -> RunResult:
    """Run and record one Redis clean-up (``scan_count`` is SCAN's COUNT hint)."""
    return run_maintenance(NAME, lambda figures: clean_redis(figures, scan_count),
                           lock_ttl_s=LOCK_TTL_S)  # fmt: skip


@maintenance_task(NAME, TIME_LIMIT_S)
def redis_hygiene_task(scan_count: int = SCAN_COUNT) -> dict[str, Any]:
    """Remove orphaned lock, semaphore, rate and breaker keys; idempotent; no retry (next run)."""
    return redis_hygiene(scan_count).reported()
