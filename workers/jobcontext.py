"""What a running job can do: report progress, notice a cancel, ask to be retried later."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

from workers.errors import TaskyardError
from workers.store import lifecycle
from workers.store.resilience import persistently
from workers.store.transitions import Claim

#: Progress writes closer together than this are dropped (except 0 and 100).
PROGRESS_MIN_INTERVAL_S = 0.5
#: The longest a job may ask to wait before its next attempt: a year, like a delayed enqueue.
MAX_RETRY_AFTER_S = 365 * 24 * 3600


class JobCancelled(TaskyardError):
    """The job was cancelled while it ran; raised by :meth:`JobContext.raise_if_cancelled`."""

    code = "job_cancelled"


class RetryAfter(Exception):
    """Raised by job code to be run again after ``delay_s`` seconds (counts as an attempt)."""

    def __init__(self, delay_s: float, reason: str = "retry requested by the job") -> None:
        # Checked here, where the job's code asks: an infinite or far delay would overflow
        # the retry time, and fail the worker's handling instead of the job.
        if not 0 <= delay_s <= MAX_RETRY_AFTER_S:
            raise ValueError(f"RetryAfter takes 0 to {MAX_RETRY_AFTER_S} seconds, not {delay_s}")
        super().__init__(reason)
        self.delay_s = delay_s
        self.reason = reason


@dataclass
class JobContext:
    """Handed to job functions that take a second argument."""

    claim: Claim
    #: Set by a job that recorded its own success with its last write
    #: (:func:`workers.store.transitions.succeed_with`): the attempt then writes none.
    success_recorded: bool = False
    _cancel: threading.Event = field(default_factory=threading.Event)
    _last_progress: float = 0.0

    @property
    def job_id(self) -> str:
        """This job's id."""
        return str(self.claim.job_id)

    @property
    def attempt(self) -> int:
        """1 on the first attempt."""
        return self.claim.attempt

    @property
    def cancelled(self) -> bool:
        """Whether a cancel was requested (seen at start or by the heartbeat)."""
        return self.claim.cancel_requested or self._cancel.is_set()

    def request_cancel(self) -> None:
        """Mark this job cancelled (called by the heartbeat thread)."""
        self._cancel.set()

    def raise_if_cancelled(self) -> None:
        """Stop here if the job was cancelled: call it between units of work."""
        if self.cancelled:
            raise JobCancelled("cancelled while running")

    def progress(self, percent: int, message: str | None = None) -> None:
        """Report progress (0-100) and a short message, visible on the job's record."""
        if not 0 <= percent <= 100:
            raise ValueError("progress must be between 0 and 100")
        now = time.monotonic()
        if percent not in (0, 100) and now - self._last_progress < PROGRESS_MIN_INTERVAL_S:
            return
        self._last_progress = now
        persistently(lifecycle.report_progress, self.claim, percent, message)
