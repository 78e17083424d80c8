"""Beat's leadership: the one Redis lock (``workers/locks.py``) under :data:`LEADER_KEY`.

The leader renews it each tick and releases it on exit, so a standby takes over at once after
a clean stop and within the TTL after a crash. A beat that cannot reach Redis counts itself a
standby: it fires nothing until it can prove it leads.
"""

from __future__ import annotations

import logging
import os
import socket

import redis

from workers.locks import TtlLock, holder_token

log = logging.getLogger(__name__)

LEADER_KEY = "taskyard:beat:leader"


def beat_identity() -> str:
    """This beat process, as fires and the lock record it: ``host:pid``."""
    return f"{socket.gethostname()}:{os.getpid()}"


class LeaderLock(TtlLock):
    """Leadership of beat, proven by holding :data:`LEADER_KEY` with this process's token."""

    def __init__(self, client: redis.Redis, ttl_s: float, identity: str, key: str = LEADER_KEY):
        super().__init__(client, key, ttl_s, holder_token(identity))

    def hold(self) -> bool:
        """Renew the lock if held, else try to take it; whether this beat leads now."""
        try:
            return super().hold()
        except (redis.RedisError, OSError) as error:
            log.warning(
                "beat cannot reach Redis for its leader lock: %s",
                error,
                extra={"action": "beat.lock_unreachable", "lock": self.key},
            )
            self.forget()
            return False

    def release(self) -> None:
        """Give the lock up (only if this beat still holds it), so a standby takes over now."""
        try:
            super().release()
        except (redis.RedisError, OSError) as error:
            log.warning(
                "beat could not release its leader lock (it expires by itself): %s",
                error,
                extra={"action": "beat.lock_release_failed", "lock": self.key},
            )
