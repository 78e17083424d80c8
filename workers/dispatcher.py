"""The dispatcher: publishes jobs whose time has come, requeues jobs whose worker died, and
publishes again messages the Redis transport lost in transit.

Run it with ``taskyard dispatcher``; run two for availability (claims are atomic, so no job
is dispatched twice). It is the only path from the store's waiting room to the broker:
delayed jobs, retries after backoff, deferred (rate- or concurrency-limited) jobs, and jobs
the reaper recovered.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from datetime import timedelta

import redis
from sqlalchemy.exc import InterfaceError, OperationalError

from workers.errors import BrokerUnavailable
from workers.lost_messages import missing_messages
from workers.messages import Message
from workers.observability import metrics, tracing
from workers.priorities import check_priority
from workers.publisher import publish
from workers.queues import QUEUE_ORDER
from workers.redis_client import shared_redis
from workers.sensitive import sealed_args_repr
from workers.settings import get_settings
from workers.store import queued, transitions
from workers.store.outage import note_outage
from workers.store.types import utcnow

log = logging.getLogger(__name__)
BATCH = 500
#: Seconds before a batch that could not be published is tried again.
PUBLISH_RETRY_S = 2.0
#: The lost-message sweep runs this many times per ``TASKYARD_LOST_MESSAGE_AFTER_S``.
SWEEPS_PER_THRESHOLD = 4
QUEUE_NAMES = tuple(q.value for q in QUEUE_ORDER)


def unpublishable(job: transitions.DueJob) -> str | None:
    """Why a claimed job's record cannot make a message; ``None`` when it can."""
    if job.queue not in QUEUE_NAMES:
        return f"queue {job.queue[:60]!r} is not one of {', '.join(QUEUE_NAMES)}"
    try:
        check_priority(job.priority)
    except (ValueError, TypeError) as error:
        return f"priority {job.priority!r}: {error}"
    if not isinstance(job.payload, dict):
        return "the payload is not a JSON object"
    return None


@dataclass(frozen=True)
class TickReport:
    """What one pass did."""

    dispatched: int
    requeued: int
    dead: int
    republished: int = 0


class Dispatcher:
    """Dispatches due jobs every tick, then reaps lost jobs (the only reaper: see
    :func:`transitions.reap_lost`), and now and then publishes again messages Redis lost in
    transit (see ``lost_messages``)."""

    def __init__(self) -> None:
        self._next_sweep = 0.0

    def tick(self) -> TickReport:
        """One pass: dispatch everything due (in batches), reap, and sweep when it is time."""
        dispatched = 0
        while batch := transitions.claim_due(BATCH):
            self._publish(batch)
            metrics.dispatched_jobs().inc(len(batch))
            dispatched += len(batch)
            if len(batch) < BATCH:
                break
        reaped = transitions.reap_lost(get_settings().stale_after_s)
        metrics.REAPED.labels("requeued").inc(reaped.requeued)
        metrics.REAPED.labels("dead").inc(reaped.dead)
        return TickReport(dispatched, reaped.requeued, reaped.dead, self._sweep_when_due())

    def _publish(self, batch: list[transitions.DueJob]) -> None:
        batch = self._fail_unpublishable(batch)
        messages = [
            Message(str(j.id), j.type, j.payload, j.queue, j.priority, j.correlation_id,
                    sealed_args_repr(j.payload))
            for j in batch
        ]  # fmt: skip
        ids = [j.id for j in batch]
        try:
            with tracing.dispatch_span():
                publish(messages)
        except BrokerUnavailable:
            transitions.release(ids, PUBLISH_RETRY_S)
            raise
        transitions.confirm_queued(ids)

    def _fail_unpublishable(self, batch: list[transitions.DueJob]) -> list[transitions.DueJob]:
        """The jobs of ``batch`` that make a message; the others are failed, counted and logged
        (one bad record must not hold back, or stop, the rest)."""
        reasons = {j.id: problem for j in batch if (problem := unpublishable(j)) is not None}
        if not reasons:
            return batch
        transitions.fail_unpublishable(reasons)
        metrics.BAD_RECORDS.labels("dispatcher").inc(len(reasons))
        log.error("jobs whose record cannot be published were failed: %s", reasons,
                  extra={"action": "dispatcher.unpublishable", "count": len(reasons),
                         "job_ids": [str(i) for i in list(reasons)[:20]]})  # fmt: skip
        return [j for j in batch if j.id not in reasons]

    def _sweep_when_due(self) -> int:
        settings = get_settings()
        now = time.monotonic()
        if settings.broker_family != "redis" or now < self._next_sweep:
            return 0
        self._next_sweep = now + settings.lost_message_after_s / SWEEPS_PER_THRESHOLD
        cutoff = utcnow() - timedelta(seconds=settings.lost_message_after_s)
        candidates = queued.queued_since_before(cutoff, BATCH)
        try:
            missing = missing_messages(shared_redis(settings.broker_url), candidates)
        except redis.RedisError as error:
            raise BrokerUnavailable("the broker is unreachable") from error
        batch = transitions.claim_lost([job.id for job in missing])
        if batch:
            self._publish(batch)
            metrics.republished_jobs().inc(len(batch))
            log.warning("messages lost in transit were published again",
                        extra={"action": "dispatcher.republished", "count": len(batch),
                               "job_ids": [str(j.id) for j in batch[:20]]})  # fmt: skip
        return len(batch)

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
            except Exception:  # nothing read from the store or Redis may stop the dispatcher
                log.exception("dispatcher tick failed", extra={"action": "dispatcher.tick_failed"})
            else:
                if any(vars(report).values()):
                    log.info("dispatcher tick", extra={"action": "dispatcher.tick",
                                                       **vars(report)})  # fmt: skip
            stop.wait(settings.dispatcher_interval_s)
        log.info("dispatcher stopped", extra={"action": "dispatcher.stopped"})
