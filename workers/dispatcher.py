"""The dispatcher: publishes jobs whose time has come and requeues jobs whose worker died.

Run it with ``taskyard dispatcher``; run two for availability (claims are atomic, so no job
is dispatched twice). It is the only path from the store's waiting room to the broker:
delayed jobs, retries after backoff, deferred (rate- or concurrency-limited) jobs, and jobs
the reaper recovered.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass

from sqlalchemy.exc import InterfaceError, OperationalError

from workers.errors import BrokerUnavailable
from workers.observability import metrics
from workers.publisher import Message, publish
from workers.settings import get_settings
from workers.store import dispatch
from workers.store.outage import note_outage

log = logging.getLogger(__name__)
BATCH = 500
#: Seconds before a batch that could not be published is tried again.
PUBLISH_RETRY_S = 2.0


@dataclass(frozen=True)
class TickReport:
    """What one pass did."""

    dispatched: int
    requeued: int
    dead: int


class Dispatcher:
    """Dispatches due jobs every tick, then reaps lost jobs (see :func:`dispatch.reap_lost`)."""

    def tick(self) -> TickReport:
        """One pass: dispatch everything due (in batches), then reap."""
        dispatched = 0
        while batch := dispatch.claim_due(BATCH):
            messages = [Message(str(j.id), j.type, j.payload, j.queue, j.priority,
                                j.correlation_id) for j in batch]  # fmt: skip
            ids = [j.id for j in batch]
            try:
                publish(messages)
            except BrokerUnavailable:
                dispatch.release(ids, PUBLISH_RETRY_S)
                raise
            dispatch.confirm_queued(ids)
            metrics.DISPATCHED.inc(len(batch))
            dispatched += len(batch)
            if len(batch) < BATCH:
                break
        reaped = dispatch.reap_lost(get_settings().stale_after_s)
        metrics.REAPED.labels("requeued").inc(reaped.requeued)
        metrics.REAPED.labels("dead").inc(reaped.dead)
        return TickReport(dispatched, reaped.requeued, reaped.dead)

    def run(self, stop: threading.Event) -> None:
        """Tick every ``TASKYARD_DISPATCHER_INTERVAL_S`` until ``stop`` is set."""
        settings = get_settings()
        log.info("dispatcher started", extra={"action": "dispatcher.started"})
        while not stop.is_set():
            try:
                report = self.tick()
            except (OperationalError, InterfaceError):
                note_outage()
                log.warning("store unreachable", extra={"action": "dispatcher.store_down"})
            except BrokerUnavailable:
                log.warning("broker unreachable", extra={"action": "dispatcher.broker_down"})
            else:
                if report.dispatched or report.requeued or report.dead:
                    log.info("dispatcher tick", extra={"action": "dispatcher.tick",
                                                       **vars(report)})  # fmt: skip
            stop.wait(settings.dispatcher_interval_s)
        log.info("dispatcher stopped", extra={"action": "dispatcher.stopped"})
