"""The beat leader lock: one Redis key held with a TTL, renewed each tick, released on exit.

Acquire is ``SET key token NX PX ttl``; renewal and release are compare-and-set Lua scripts,
so a beat that lost the key (it expired during a long pause and another beat took it) can
neither extend nor delete the new holder's lock. A beat that cannot reach Redis counts itself
a standby: it fires nothing until it can prove it leads.
"""

from __future__ import annotations

import logging
import os
import socket
import time
import uuid

import redis

log = logging.getLogger(__name__)

LEADER_KEY = "taskyard:beat:leader"
_RENEW = """
if redis.call('get', KEYS[1]) == ARGV[1] then
    return redis.call('pexpire', KEYS[1], ARGV[2])
end
return 0
"""
_RELEASE = """
if redis.call('get', KEYS[1]) == ARGV[1] then
    return redis.call('del', KEYS[1])
end
return 0
"""


def beat_identity() -> str:
    """This beat process, as fires and the lock record it: ``host:pid``."""
    return f"{socket.gethostname()}:{os.getpid()}"


class LeaderLock:
    """Leadership of beat, proven by holding :data:`LEADER_KEY` with this process's token."""

    def __init__(self, client: redis.Redis, ttl_s: float, identity: str, key: str = LEADER_KEY):
        self.client = client
        self.key = key
        self.ttl_ms = int(ttl_s * 1000)
        self.token = f"{identity}:{uuid.uuid4().hex}"
        self.held = False
        self.valid_until = 0.0
        self._renew = client.register_script(_RENEW)
        self._release = client.register_script(_RELEASE)

    def hold(self) -> bool:
        """Renew the lock if held, else try to take it; whether this process leads now."""
        started = time.monotonic()
        try:
            if self.held:
                self.held = bool(self._renew(keys=[self.key], args=[self.token, self.ttl_ms]))
            else:
                self.held = bool(self.client.set(self.key, self.token, nx=True, px=self.ttl_ms))
        except (redis.RedisError, OSError) as error:
            log.warning(
                "beat cannot reach Redis for its leader lock: %s",
                error,
                extra={"action": "beat.lock_unreachable", "lock": self.key},
            )
            self.held = False
        self.valid_until = started + self.ttl_ms / 1000 if self.held else 0.0
        return self.held

    def still_valid(self, margin_s: float = 0.5) -> bool:
        """Whether the lock, as last renewed, outlives the next ``margin_s`` seconds."""
        return self.held and time.monotonic() + margin_s < self.valid_until

    def release(self) -> None:
        """Give the lock up (only if this process still holds it), so a standby takes over now."""
        if not self.held:
            return
        self.held = False
        try:
            self._release(keys=[self.key], args=[self.token])
        except (redis.RedisError, OSError) as error:
            log.warning(
                "beat could not release its leader lock (it expires by itself): %s",
                error,
                extra={"action": "beat.lock_release_failed", "lock": self.key},
            )

    def holder(self) -> str | None:
        """The token of whoever leads now, if anyone."""
        value = self.client.get(self.key)
        if value is None:
            return None
        return value.decode() if isinstance(value, bytes) else str(value)
