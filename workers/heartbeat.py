"""One thread per worker process keeps its running jobs' heartbeats (and concurrency permits) fresh
and relays cancel requests to them."""

from __future__ import annotations

import logging
import os
import threading
import uuid
from dataclasses import dataclass

from sqlalchemy.exc import InterfaceError, OperationalError

from workers.jobcontext import JobContext
from workers.limits import acquire_permit
from workers.settings import get_settings
from workers.store import lifecycle
from workers.store.outage import note_outage

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Permit:
    """A concurrency permit held by a running job."""

    key: str
    holder: str
    limit: int


class Heartbeats:
    """Tracks the running attempts of this process; beats every ``interval_s`` seconds."""

    def __init__(self, interval_s: float) -> None:
        self.interval_s = interval_s
        self._running: dict[uuid.UUID, tuple[JobContext, Permit | None]] = {}
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._loop, name="taskyard-heartbeat", daemon=True)
        self._thread.start()

    def track(self, context: JobContext, permit: Permit | None) -> None:
        """Start beating for ``context``'s attempt."""
        with self._lock:
            self._running[context.claim.job_id] = (context, permit)

    def untrack(self, context: JobContext) -> None:
        """Stop beating for ``context``'s attempt."""
        with self._lock:
            self._running.pop(context.claim.job_id, None)

    def beat(self) -> None:
        """Refresh every tracked attempt once."""
        with self._lock:
            running = list(self._running.values())
        if not running:
            return
        pairs = [(ctx.claim.job_id, ctx.claim.attempt) for ctx, _ in running]
        cancelled = lifecycle.heartbeat(pairs)
        settings = get_settings()
        for context, permit in running:
            if context.claim.job_id in cancelled:
                context.request_cancel()
            if permit is not None:
                acquire_permit(
                    settings.locks_url,
                    permit.key,
                    permit.holder,
                    permit.limit,
                    settings.stale_after_s,
                )

    def _loop(self) -> None:
        stop = threading.Event()
        while not stop.wait(self.interval_s):
            try:
                self.beat()
            except (OperationalError, InterfaceError):
                note_outage()
                log.warning("heartbeat: store unreachable", extra={"action": "heartbeat.error"})
            except Exception:  # a beat must never kill the thread; the next one retries
                log.warning("heartbeat failed", exc_info=True, extra={"action": "heartbeat.error"})


_instances: dict[int, Heartbeats] = {}


def heartbeats() -> Heartbeats:
    """This process's heartbeat thread (threads do not survive a fork, so one per pid)."""
    pid = os.getpid()
    instance = _instances.get(pid)
    if instance is None:
        instance = _instances[pid] = Heartbeats(get_settings().heartbeat_interval_s)
    return instance
