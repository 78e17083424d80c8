"""Confirming published jobs ``queued`` in batches, off the request path (the API uses it).

A job is inserted ``dispatching``, published, then confirmed ``queued``. The confirmation only
matters for a job still waiting a minute later: an unconfirmed ``dispatching`` job is published
again by the dispatcher after ``transitions.CLAIM_TIMEOUT``, and the start guard skips the spare
copy. So the API need not wait for it: one thread confirms what every request published, in one
``UPDATE`` every few milliseconds. A worker may start a job before its confirmation; the
confirmation then leaves it alone.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Sequence

from sqlalchemy.exc import InterfaceError, OperationalError

from workers.store import transitions
from workers.store.outage import note_outage

log = logging.getLogger(__name__)

#: Longest wait before a confirmation is written.
FLUSH_INTERVAL_S = 0.05
#: Most ids per ``UPDATE``.
MAX_BATCH = 1000
#: Pause after a failed write; the ids are kept and tried again.
RETRY_PAUSE_S = 1.0


class BackgroundConfirmations:
    """Collects published job ids and confirms them from one daemon thread."""

    def __init__(self) -> None:
        self._pending: list[uuid.UUID] = []
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def add(self, ids: Sequence[uuid.UUID]) -> None:
        """Confirm ``ids`` soon (starts the thread on first use, in this process)."""
        with self._lock:
            self._pending.extend(ids)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._run, name="taskyard-confirmations", daemon=True
                )
                self._thread.start()
        if len(self._pending) >= MAX_BATCH:
            self._wake.set()

    def close(self, timeout: float = 5.0) -> None:
        """Write what is pending and stop the thread (at shutdown)."""
        self._stopping.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
        self._write()

    def _run(self) -> None:
        while not self._stopping.is_set():
            self._wake.wait(FLUSH_INTERVAL_S)
            self._wake.clear()
            if not self._write():
                self._stopping.wait(RETRY_PAUSE_S)

    def _write(self) -> bool:
        """Confirm up to a batch; ``False`` when the store refused (the ids stay pending)."""
        while True:
            with self._lock:
                batch = self._pending[:MAX_BATCH]
                del self._pending[:MAX_BATCH]
            if not batch:
                return True
            try:
                transitions.confirm_queued(batch)
            except (OperationalError, InterfaceError) as error:
                note_outage()
                with self._lock:
                    self._pending[:0] = batch
                log.warning(
                    "could not confirm published jobs; retrying",
                    extra={
                        "action": "confirmations.retry",
                        "count": len(batch),
                        "error": type(error).__name__,
                    },
                )
                return False
