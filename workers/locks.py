"""Redis locks with a TTL and a token naming the holder, on redis-py's ``Lock``.

Beat's leadership (``schedules/leader.py``) and each maintenance run (``held_lock``) use this.
redis-py does the Redis side: ``SET NX PX`` with our token takes the lock, and its Lua
compare-and-set scripts push the expiry a full TTL ahead (``reacquire``) and release it, so a
holder whose lock expired and was taken by another can neither extend nor delete the new
holder's. What :class:`TtlLock` adds on top, because redis-py's ``Lock`` does not do it:

- **who holds it**: ``Lock`` only says whether *this* instance owns the key; the token here is
  ``host:pid:random`` and :func:`holder_of` reads it back, so a skipped run names its holder;
- **answers, not exceptions**: a lock found lost (``LockNotOwnedError``) is ``False`` and sets
  ``lost``, and a release of a lock no longer ours is a no-op;
- **the expiry as of the last renewal, kept locally** (``still_valid``), so beat can check it
  before each fire without a round trip;
- **renewal while a block runs** (:func:`held_lock`): redis-py leaves renewal to the caller.

The ``Lock`` is made with ``thread_local=False``: the renewal thread must see the token the
acquiring thread set (redis-py's docs name this case).
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import redis
from redis.exceptions import LockError

from workers.errors import TaskyardError

log = logging.getLogger(__name__)

#: Every Taskyard lock key under this prefix (``maintenance.redis_hygiene`` looks after them).
LOCK_PREFIX = "taskyard:lock:"


def holder_token(identity: str | None = None) -> str:
    """A token unique to one holding that still says who holds it: ``host:pid:random``."""
    who = identity or f"{socket.gethostname()}:{os.getpid()}"
    return f"{who}:{uuid.uuid4().hex[:12]}"


def holder_of(client: redis.Redis, key: str) -> str | None:
    """The token of whoever holds lock ``key`` now, or ``None``."""
    value = client.get(key)
    return value.decode() if isinstance(value, bytes) else None


class LockHeld(TaskyardError):
    """Another holder has the lock; ``holder`` is its token (``host:pid:id``) when known."""

    code = "lock_held"

    def __init__(self, key: str, holder: str | None) -> None:
        super().__init__(f"{key} is held by {holder or 'a holder that just let go'}")
        self.holder = holder


class TtlLock:
    """Lock ``key`` for ``ttl_s`` seconds at a time under ``token``; Redis errors propagate."""

    def __init__(self, client: redis.Redis, key: str, ttl_s: float, token: str | None = None):
        self.client = client
        self.key = key
        self.ttl_s = ttl_s
        self.token = token or holder_token()
        self.held = False
        self.lost = False
        self.valid_until = 0.0
        self._lock = client.lock(key, timeout=ttl_s, blocking=False, thread_local=False)

    def acquire(self) -> bool:
        """Take the lock if nobody holds it; whether this holder has it now."""
        started = time.monotonic()
        self.held = bool(self._lock.acquire(blocking=False, token=self.token))
        return self._until(started)

    def renew(self) -> bool:
        """Push the expiry a full TTL ahead; ``False`` (and ``lost``) when it is no longer ours."""
        if not self.held:
            return False
        started = time.monotonic()
        try:
            self._lock.reacquire()
        except LockError:  # LockNotOwnedError: it expired, and maybe someone else took it
            self.held, self.lost = False, True
        return self._until(started)

    def hold(self) -> bool:
        """Renew the lock if held, else try to take it; whether this holder has it now.

        A holder that finds its lock gone does not take it back in the same call, so a
        handover forced by deleting the key goes to another holder."""
        return self.renew() if self.held else self.acquire()

    def forget(self) -> None:
        """Stop counting on the lock without a word to Redis (which cannot be reached)."""
        self.held, self.valid_until = False, 0.0

    def still_valid(self, margin_s: float = 0.5) -> bool:
        """Whether the lock, as last taken or renewed, outlives the next ``margin_s`` seconds."""
        return self.held and time.monotonic() + margin_s < self.valid_until

    def release(self) -> None:
        """Give the lock back if it is still ours (a lock taken over is left to its holder)."""
        if not self.held:
            return
        self.forget()
        try:
            self._lock.release()
        except LockError:  # no longer ours: it expired, and is someone else's or nobody's
            self.lost = True

    def holder(self) -> str | None:
        """The token of whoever holds the lock now, if anyone."""
        return holder_of(self.client, self.key)

    def _until(self, started: float) -> bool:
        # Counted from before the round trip, so the local view never outlives Redis's.
        self.valid_until = started + self.ttl_s if self.held else 0.0
        return self.held


class _Renewal(threading.Thread):
    """Renews a lock every third of its TTL until stopped; notes (once) when it is lost."""

    def __init__(self, lock: TtlLock) -> None:
        super().__init__(name=f"lock-{lock.key}", daemon=True)
        self.lock = lock
        self.stopped = threading.Event()

    def run(self) -> None:
        """Renew until stopped or lost."""
        while not self.stopped.wait(self.lock.ttl_s / 3):
            try:
                if not self.lock.renew():
                    _warn("lock %s was lost while it was held", "lock.lost", self.lock.key, False)
                    return
            except redis.RedisError:  # the next renewal tries again, well within the TTL
                _warn("lock %s could not be renewed", "lock.renewal_failed", self.lock.key)

    def stop(self) -> None:
        """Stop renewing (a renewal under way finishes first)."""
        self.stopped.set()
        self.join(timeout=5)


@contextmanager
def held_lock(client: redis.Redis, key: str, ttl_s: float) -> Iterator[TtlLock]:
    """Hold lock ``key`` for the block, renewed every third of ``ttl_s`` so the TTL only
    matters if this process dies; ``lost`` says whether it slipped away meanwhile.

    Raises :class:`LockHeld` when another holder has it; Redis errors while taking it
    propagate."""
    lock = TtlLock(client, key, ttl_s)
    if not lock.acquire():
        raise LockHeld(key, lock.holder())
    renewal = _Renewal(lock)
    renewal.start()
    try:
        yield lock
    finally:
        renewal.stop()
        try:
            lock.release()
        except redis.RedisError:  # it expires on its own within the TTL
            _warn("lock %s could not be released; it expires by itself", "lock.release_failed", key)


def _warn(message: str, action: str, key: str, with_error: bool = True) -> None:
    log.warning(message, key, exc_info=with_error, extra={"action": action, "lock": key})
