"""A Redis lease so two runs of one maintenance task never overlap.

``SET key token NX PX ttl`` takes it; a Lua compare-and-delete gives it back and a
compare-and-expire renews it, so a run whose lease expired can never release (or extend)
the lease a later run took. A renewal thread keeps the lease while the run lasts, so the TTL
only matters when the process holding it dies.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import redis

from workers.errors import TaskyardError
from workers.redis_client import shared_redis

log = logging.getLogger(__name__)

#: Every Taskyard lock key starts with this (``redis_hygiene`` looks after them).
LOCK_PREFIX = "taskyard:lock:"

_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""
_EXTEND = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[2]))
end
return 0
"""


def lock_key(name: str) -> str:
    """The Redis key of maintenance task ``name``'s lease."""
    return f"{LOCK_PREFIX}maintenance:{name}"


def holder_token() -> str:
    """A token unique to this attempt that still says who holds the lease."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:12]}"


@dataclass
class Lease:
    """A held lease; ``lost`` turns true if a renewal found it gone or taken."""

    client: redis.Redis
    key: str
    token: str
    ttl_ms: int
    lost: bool = False
    _stop: threading.Event = field(default_factory=threading.Event)

    def extend(self) -> bool:
        """Push the expiry ``ttl_ms`` ahead; False when the lease is no longer ours."""
        extended = bool(self.client.eval(_EXTEND, 1, self.key, self.token, self.ttl_ms))
        self.lost = self.lost or not extended
        return extended

    def release(self) -> None:
        """Give the lease back if it is still ours."""
        self.client.eval(_RELEASE, 1, self.key, self.token)

    def _renew(self) -> None:
        while not self._stop.wait(self.ttl_ms / 3000):
            try:
                if not self.extend():
                    _warn("maintenance lease lost", "maintenance.lease_lost", self.key, False)
                    return
            except redis.RedisError:  # the next renewal tries again, well within the TTL
                _warn("maintenance lease renewal failed", "maintenance.lease_error", self.key)


class LeaseHeld(TaskyardError):
    """Another run holds the lease; ``holder`` is its token (``host:pid:id``) when known."""

    code = "lease_held"

    def __init__(self, key: str, holder: str | None) -> None:
        super().__init__(f"{key} is held by {holder or 'a run that just finished'}")
        self.holder = holder


def holder_of(client: redis.Redis, key: str) -> str | None:
    """Who holds lease ``key`` now (its token), or ``None``."""
    value = client.get(key)
    return value.decode() if isinstance(value, bytes) else None


@contextmanager
def lease(url: str, key: str, ttl_s: float) -> Iterator[Lease]:
    """Hold lease ``key`` for the block, renewed every third of ``ttl_s``.

    Raises :class:`LeaseHeld` when another holder has it; Redis errors while taking it
    propagate."""
    client = shared_redis(url)
    held = Lease(client, key, holder_token(), int(ttl_s * 1000))
    if not client.set(key, held.token, nx=True, px=held.ttl_ms):
        raise LeaseHeld(key, holder_of(client, key))
    renewer = threading.Thread(target=held._renew, name=f"lease-{key}", daemon=True)
    renewer.start()
    try:
        yield held
    finally:
        held._stop.set()
        renewer.join(timeout=5)
        try:
            held.release()
        except redis.RedisError:  # it expires on its own within the TTL
            _warn("maintenance lease release failed", "maintenance.lease_error", key)


def _warn(message: str, action: str, key: str, with_error: bool = True) -> None:
    log.warning(message, exc_info=with_error, extra={"action": action, "lock": key})
